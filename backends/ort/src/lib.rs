//! ONNX Runtime through `ort` with `load-dynamic`: the shared library is the one inside the `onnxruntime` PyPI wheel,
//! never a CDN download; its execution providers as backends of their own ([`provider`]).
//!
//! The library is looked for, in order: the path given to [`Ort::with_library`] (the `--ort-lib` setting),
//! `ORT_DYLIB_PATH`, the venv named by `EDGEBENCH_VENV`, a `.venv` in the current folder or one of its ancestors or
//! the executable's, and `libonnxruntime.so*` next to the executable (how a runner is shipped to a board).
//! Before `ort` sees a path we open it ourselves and read its version: `ort` panics on a failed load later on.

use edgebench_backend_api::*;

use ort::session::Session as OrtSession;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub mod placement;
pub mod provider;
pub use provider::Provider;

/// The ONNX Runtime minor version the `api-24` feature needs at least (the C API version `ort` asks the library
/// for; 1.24 is also the first to report where each node was assigned).
pub const MIN_MINOR: u32 = 24;

/// An ONNX Runtime backend: the CPU execution provider (`ort`) or another one, each with its own library.
#[derive(Debug)]
pub struct Ort {
    library: Option<PathBuf>,
    provider: Provider,
}

impl Default for Ort {
    fn default() -> Self {
        Ort::with_library(None)
    }
}

impl Ort {
    /// The CPU provider; uses this library path before any other source.
    pub fn with_library(library: Option<PathBuf>) -> Self {
        Ort {
            library,
            provider: Provider::Cpu,
        }
    }

    /// Another execution provider, with its own library (`None`: looked for as [`Provider::search`] says).
    pub fn with_provider(provider: Provider, library: Option<PathBuf>) -> Self {
        Ort { library, provider }
    }

    fn name_(&self) -> &'static str {
        self.provider.backend()
    }
}

/// Where ONNX Runtime's library (CPU provider) is looked for.
pub const SEARCH: LibrarySearch<'static> = LibrarySearch {
    what: "ONNX Runtime library",
    flag: "--ort-lib",
    env: "ORT_DYLIB_PATH",
    venv: ".venv",
    wheel_dir: "onnxruntime/capi",
    prefixes: &[
        "libonnxruntime.so",
        "libonnxruntime.dylib",
        "onnxruntime.dll",
    ],
    hint: "run ci/setup.sh to create .venv with the onnxruntime wheel",
};

/// Finds the ONNX Runtime library, or says every place that was looked at.
pub fn locate(explicit: Option<&Path>) -> Result<Located, String> {
    SEARCH.locate(explicit)
}

/// Opens the library and reads `OrtGetApiBase()->GetVersionString()`, without `ort`.
pub fn library_version(path: &Path) -> Result<String, String> {
    #[repr(C)]
    struct ApiBase {
        get_api: unsafe extern "C" fn(u32) -> *const std::ffi::c_void,
        get_version_string: unsafe extern "C" fn() -> *const std::ffi::c_char,
    }
    // SAFETY: loading a shared library runs its initialisers; this is the library the user pointed us at, and the
    // same load `ort` would do. The symbol's type is ONNX Runtime's stable C ABI.
    unsafe {
        let lib = libloading::Library::new(path)
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ApiBase> =
            lib.get(b"OrtGetApiBase").map_err(|_| {
                format!(
                    "{} does not export OrtGetApiBase: not an ONNX Runtime library",
                    path.display()
                )
            })?;
        let base = get();
        if base.is_null() {
            return Err(format!("{}: OrtGetApiBase returned null", path.display()));
        }
        let s = ((*base).get_version_string)();
        if s.is_null() {
            return Err(format!("{}: no version string", path.display()));
        }
        let v = std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned();
        // Keep the library loaded: ort will load it again and the handle is refcounted.
        std::mem::forget(lib);
        Ok(v)
    }
}

struct Loaded {
    env: ort::environment::Environment,
}

/// The library, its version and the provider's facts, found and checked without `ort`.
struct Probed {
    located: Located,
    version: String,
    facts: Vec<(String, String)>,
}

/// Threads of ONNX Runtime's intra-op pool for sessions loaded from now on; 0 = ONNX Runtime's own choice.
static INTRA_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets the intra-op thread count of sessions loaded after this call (`bench --threads`); 0 restores the default.
pub fn set_intra_threads(n: usize) {
    INTRA_THREADS.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// The ONNX Runtime library `ort` loaded in this process (it keeps one for the process's life), once loaded.
static RUNTIME: Mutex<Option<(PathBuf, &'static Loaded)>> = Mutex::new(None);

impl Ort {
    /// Finds this backend's library and checks its version and the provider's prerequisites; cached per backend.
    fn probe(&self) -> Result<&'static Probed, String> {
        static PROBED: Mutex<Vec<(Provider, &'static Result<Probed, String>)>> = Mutex::new(vec![]);
        let mut done = PROBED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, r)) = done.iter().find(|(p, _)| *p == self.provider) {
            return r.as_ref().map_err(Clone::clone);
        }
        let r: &'static Result<Probed, String> = Box::leak(Box::new((|| {
            self.provider.driver()?;
            let located = self.provider.search().locate(self.library.as_deref())?;
            let version = library_version(&located.path)?;
            let minor: u32 = version
                .split('.')
                .nth(1)
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if minor < MIN_MINOR {
                return Err(format!(
                    "{} is ONNX Runtime {version}; this build asks for C API version {MIN_MINOR} (ONNX Runtime \
                     >= 1.{MIN_MINOR})",
                    located.path.display()
                ));
            }
            let facts = self.provider.prerequisites(&located.path)?;
            Ok(Probed {
                located,
                version,
                facts,
            })
        })()));
        done.push((self.provider, r));
        r.as_ref().map_err(Clone::clone)
    }

    /// The runtime, loading this backend's library into `ort` if no other is loaded in this process.
    fn runtime(&self) -> Result<&'static Loaded, String> {
        let p = self.probe()?;
        let mut rt = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
        let path = p
            .located
            .path
            .canonicalize()
            .unwrap_or(p.located.path.clone());
        if let Some((loaded, l)) = rt.as_ref() {
            if *loaded == path {
                return Ok(l);
            }
            return Err(format!(
                "another ONNX Runtime library is loaded in this process ({}); {} uses {}: it runs in a process of \
                 its own (bench and check --verify run each cell in one)",
                loaded.display(),
                self.name_(),
                path.display()
            ));
        }
        let env = catch_panic(|| {
            ort::init_from(&p.located.path)
                .map_err(|e| e.to_string())?
                .with_name("edgebench")
                .build()
                .map_err(|e| e.to_string())
        })?;
        let l: &'static Loaded = Box::leak(Box::new(Loaded { env }));
        *rt = Some((path, l));
        Ok(l)
    }

    /// A session builder with this backend's provider registered (failing rather than falling back silently) and
    /// the intra-op thread setting.
    fn builder(&self, rt: &Loaded) -> Result<ort::session::builder::SessionBuilder, String> {
        let mut b = OrtSession::builder(&rt.env).map_err(|e| e.to_string())?;
        let n = INTRA_THREADS.load(std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            b = b.with_intra_threads(n).map_err(|e| e.to_string())?;
        }
        let ep = match self.provider {
            Provider::Cpu => None,
            Provider::OpenVino => {
                Some(ort::ep::OpenVINO::default().with_device_type("CPU").build())
            }
            Provider::Cuda => Some(ort::ep::CUDA::default().build()),
            Provider::TensorRt => Some(ort::ep::TensorRT::default().build()),
        };
        if let Some(ep) = ep {
            b = b
                .with_execution_providers([ep.error_on_failure()])
                .map_err(|e| e.to_string())?;
        }
        Ok(b)
    }
}

fn load_err(name: &str) -> impl Fn(String) -> BackendError + '_ {
    move |e| BackendError::Load {
        backend: name.into(),
        message: e,
    }
}

impl Backend for Ort {
    fn name(&self) -> &'static str {
        self.name_()
    }

    fn device(&self) -> Device {
        self.provider.device()
    }

    fn availability(&self) -> Availability {
        match self.probe() {
            Ok(p) => {
                let mut details = vec![
                    ("library".into(), p.located.path.display().to_string()),
                    ("found via".into(), p.located.source.clone()),
                ];
                details.extend(p.facts.iter().cloned());
                Availability::Available {
                    version: p.version.clone(),
                    details,
                }
            }
            Err(reason) => Availability::Unavailable { reason },
        }
    }

    fn profile(
        &self,
        path: &Path,
        _inputs: &[InputSpec],
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        let rt = self.runtime().map_err(|reason| BackendError::Unavailable {
            backend: self.name_().into(),
            reason,
        })?;
        let dir = tempfile::tempdir().map_err(|e| load_err(self.name_())(e.to_string()))?;
        let optimised = dir.path().join("optimised.onnx");
        let (nodes, run_us) =
            self.profiled_pass(rt, path, feed, warmup, runs, dir.path(), Some(&optimised))?;
        let (unfused, _) = self.profiled_pass(rt, path, feed, warmup, runs, dir.path(), None)?;
        let ran = edgebench_graph::load(&optimised)
            .map(|m| {
                m.graph
                    .nodes
                    .iter()
                    .map(|n| RanNode {
                        name: n.name.clone(),
                        op: n.op_type.clone(),
                        inputs: n.inputs.clone(),
                        outputs: n.outputs.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(OpProfile {
            run_us,
            nodes,
            ran,
            unfused,
            notes: vec![format!(
                "ort: the session profiler's kernel times (microsecond resolution), {runs} runs after {warmup} warm-up; \
                 a second pass with graph optimisation off weighs fused kernels"
            )],
        })
    }

    /// Where ONNX Runtime assigned each node, for a provider other than the CPU one: a session with the assignment
    /// recorded and graph optimisation off (the model's own nodes, as the table predicts them).
    fn placement(
        &self,
        path: &Path,
        _feed: &[(String, HostTensor)],
    ) -> Option<Result<ObservedPlacement, BackendError>> {
        if self.provider == Provider::Cpu {
            return None;
        }
        Some((|| {
            let name = self.name_();
            let rt = self.runtime().map_err(|reason| BackendError::Unavailable {
                backend: name.into(),
                reason,
            })?;
            let mut model =
                edgebench_graph::load(path).map_err(|e| load_err(name)(e.to_string()))?;
            // ONNX Runtime's assignment names nodes: unnamed ones get `#<index>` in a copy the session reads.
            let dir = tempfile::tempdir().map_err(|e| load_err(name)(e.to_string()))?;
            let mut path = path.to_path_buf();
            if model.graph.nodes.iter().any(|n| n.name.is_empty()) {
                for (i, n) in model.graph.nodes.iter_mut().enumerate() {
                    if n.name.is_empty() {
                        n.name = format!("#{i}");
                    }
                }
                path = dir.path().join("named.onnx");
                edgebench_graph::save(&model, &path).map_err(|e| load_err(name)(e.to_string()))?;
            }
            let path = path.as_path();
            let session = catch_panic(|| {
                self.builder(rt)?
                    .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Disable)
                    .map_err(|e| e.to_string())?
                    .with_config_entry(placement::RECORD_OPTION, "1")
                    .map_err(|e| e.to_string())?
                    .commit_from_file(path)
                    .map_err(|e| e.to_string())
            })
            .map_err(load_err(name))?;
            let assigned = placement::assignment(&session).map_err(load_err(name))?;
            Ok(placement::placement(
                &assigned,
                self.provider.ep_name(),
                &model.graph.nodes,
            ))
        })())
    }

    fn load(&self, path: &Path, _inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        let rt = self.runtime().map_err(|reason| BackendError::Unavailable {
            backend: self.name_().into(),
            reason,
        })?;
        let session = catch_panic(|| {
            self.builder(rt)?
                .commit_from_file(path)
                .map_err(|e| e.to_string())
        })
        .map_err(load_err(self.name_()))?;
        // Sequence and map outputs (a classifier's ZipMap) are not tensors: edgebench times and compares the tensor
        // outputs and leaves those out, as tract does; a model with no tensor output cannot be compared at all.
        let outputs: Vec<String> = session
            .outputs()
            .iter()
            .filter(|o| matches!(o.dtype(), ValueType::Tensor { .. }))
            .map(|o| o.name().to_string())
            .collect();
        if outputs.is_empty() {
            return Err(load_err(self.name_())(
                "no tensor output: edgebench reads tensor outputs only (sequence and map outputs are left out)"
                    .into(),
            ));
        }
        Ok(Box::new(OrtRun {
            session,
            outputs,
            name: self.name_(),
        }))
    }
}

struct OrtRun {
    session: OrtSession,
    outputs: Vec<String>,
    name: &'static str,
}

fn to_ort(t: &HostTensor) -> ort::Result<DynValue> {
    let shape: Vec<i64> = t.shape.iter().map(|d| *d as i64).collect();
    Ok(match &t.data {
        Data::F32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::F64(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::F16(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::I64(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::I32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::I16(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::I8(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::U8(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        Data::Bool(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
    })
}

fn from_ort(v: &DynValue) -> Result<HostTensor, String> {
    let ty = match v.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        other => return Err(format!("non-tensor output ({other:?}) is not supported")),
    };
    macro_rules! ext {
        ($t:ty, $variant:ident) => {{
            let (shape, data) = v.try_extract_tensor::<$t>().map_err(|e| e.to_string())?;
            HostTensor {
                shape: shape.iter().map(|d| *d as usize).collect(),
                data: Data::$variant(data.to_vec()),
            }
        }};
    }
    Ok(match ty {
        TensorElementType::Float32 => ext!(f32, F32),
        TensorElementType::Float64 => ext!(f64, F64),
        TensorElementType::Float16 => ext!(half::f16, F16),
        TensorElementType::Int64 => ext!(i64, I64),
        TensorElementType::Int32 => ext!(i32, I32),
        TensorElementType::Int16 => ext!(i16, I16),
        TensorElementType::Int8 => ext!(i8, I8),
        TensorElementType::Uint8 => ext!(u8, U8),
        TensorElementType::Bool => ext!(bool, Bool),
        other => {
            return Err(format!(
                "output element type {other:?} is not supported by this adapter"
            ));
        }
    })
}

impl Session for OrtRun {
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        let run_err = |m: String| BackendError::Run {
            backend: self.name.into(),
            message: m,
        };
        let values: Vec<(String, DynValue)> = inputs
            .iter()
            .map(|(n, t)| Ok((n.clone(), to_ort(t).map_err(|e| run_err(e.to_string()))?)))
            .collect::<Result<_, BackendError>>()?;
        let outs = self
            .session
            .run(values)
            .map_err(|e| run_err(e.to_string()))?;
        self.outputs
            .iter()
            .map(|n| {
                let v = outs
                    .get(n)
                    .ok_or_else(|| run_err(format!("output `{n}` missing")))?;
                Ok((n.clone(), from_ort(v).map_err(run_err)?))
            })
            .collect()
    }
}

impl Ort {
    /// One profiled session: graph optimisation as in `load` when `optimised` names the file ORT writes the optimised
    /// model to, else off. Kernel times per node in each of the last `runs` `model_run` windows, and those windows.
    #[allow(clippy::too_many_arguments)]
    fn profiled_pass(
        &self,
        rt: &Loaded,
        path: &Path,
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
        dir: &Path,
        optimised: Option<&Path>,
    ) -> Result<(Vec<NodeTime>, Vec<f64>), BackendError> {
        use ort::session::builder::GraphOptimizationLevel;
        let run_err = |m: String| BackendError::Run {
            backend: self.name_().into(),
            message: m,
        };
        let prefix = dir.join(if optimised.is_some() {
            "opt"
        } else {
            "unfused"
        });
        let mut session = catch_panic(|| {
            let mut b = self.builder(rt)?;
            b = match optimised {
                // A provider that compiles its subgraphs (OpenVINO, TensorRT) cannot write the optimised model:
                // its kernels are then named as the provider ran them, unmapped to fused nodes.
                Some(_) if self.provider != Provider::Cpu => b,
                Some(p) => b.with_optimized_model_path(p).map_err(|e| e.to_string())?,
                None => b
                    .with_optimization_level(GraphOptimizationLevel::Disable)
                    .map_err(|e| e.to_string())?,
            };
            b = b.with_profiling(&prefix).map_err(|e| e.to_string())?;
            b.commit_from_file(path).map_err(|e| e.to_string())
        })
        .map_err(load_err(self.name_()))?;
        for _ in 0..warmup + runs {
            let values: Vec<(String, DynValue)> = feed
                .iter()
                .map(|(n, t)| Ok((n.clone(), to_ort(t).map_err(|e| run_err(e.to_string()))?)))
                .collect::<Result<_, BackendError>>()?;
            session.run(values).map_err(|e| run_err(e.to_string()))?;
        }
        let file = session
            .end_profiling()
            .map_err(|e| run_err(e.to_string()))?;
        let text = std::fs::read_to_string(&file).map_err(|e| run_err(format!("{file}: {e}")))?;
        let _ = std::fs::remove_file(&file);
        parse_trace(&text, runs).map_err(|e| run_err(format!("ORT profile {file}: {e}")))
    }
}

/// Kernel times per node in each of the last `runs` `model_run` windows of an ORT Chrome trace.
fn parse_trace(text: &str, runs: usize) -> Result<(Vec<NodeTime>, Vec<f64>), String> {
    let events: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let num = |e: &serde_json::Value, k: &str| e.get(k).and_then(serde_json::Value::as_f64);
    let mut windows: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e["cat"] == "Session" && e["name"] == "model_run")
        .filter_map(|e| Some((num(e, "ts")?, num(e, "dur")?)))
        .collect();
    windows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let windows = windows.split_off(windows.len().saturating_sub(runs));
    let mut order: Vec<String> = vec![];
    let mut rows: std::collections::HashMap<String, (String, Vec<f64>, Option<String>)> =
        Default::default();
    for e in events.iter().filter(|e| e["cat"] == "Node") {
        let Some(name) = e["name"]
            .as_str()
            .and_then(|n| n.strip_suffix("_kernel_time"))
        else {
            continue;
        };
        let (Some(ts), Some(dur)) = (num(e, "ts"), num(e, "dur")) else {
            continue;
        };
        let Some(w) = windows.iter().position(|(s, d)| ts >= *s && ts <= s + d) else {
            continue;
        };
        let row = rows.entry(name.to_string()).or_insert_with(|| {
            order.push(name.to_string());
            let op = e["args"]["op_name"].as_str().unwrap_or("?").to_string();
            // The kernel's execution provider, as ONNX Runtime's profiler names it.
            let provider = e["args"]["provider"].as_str().map(str::to_string);
            (op, vec![0.0; windows.len()], provider)
        });
        row.1[w] += dur;
    }
    let nodes = order
        .into_iter()
        .map(|name| {
            let (op, us, provider) = rows.remove(&name).unwrap_or_default();
            NodeTime {
                name,
                op,
                onnx: vec![],
                us,
                provider,
            }
        })
        .collect();
    Ok((nodes, windows.iter().map(|w| w.1).collect()))
}
