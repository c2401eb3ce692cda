//! LiteRT (formerly TensorFlow Lite) through its C API, from the `ai-edge-litert` PyPI wheel's `libLiteRt.so`,
//! opened at run time: `litert` (CPU: XNNPACK, with the interpreter's own kernels for what XNNPACK does not take)
//! and `litert-gpu` (the WebGPU accelerator, `libLiteRtWebGpuAccelerator.so` beside it, with CPU fallback for the
//! ops it does not take). Only `.tflite` models.
//!
//! The library is looked for like ONNX Runtime's ([`SEARCH`]): `--litert-lib`, `EDGEBENCH_LITERT_LIB`, the
//! project venv, next to the executable. A library that is absent or lacks a symbol makes the backend unavailable
//! with that reason; nothing panics on a failed `dlopen`.

mod capture;
mod ffi;
mod placement;

use edgebench_backend_api::*;
use edgebench_graph::DataType;
use ffi::{Api, Handle};
use std::ffi::{CStr, CString, c_void};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where LiteRT's library is looked for.
pub const SEARCH: LibrarySearch<'static> = LibrarySearch {
    what: "LiteRT library (libLiteRt.so)",
    flag: "--litert-lib",
    env: "EDGEBENCH_LITERT_LIB",
    venv: ".venv",
    wheel_dir: "ai_edge_litert",
    prefixes: &["libLiteRt.so", "libLiteRt.dylib"],
    hint: "run ci/setup.sh to install the ai-edge-litert wheel into .venv",
};

/// The GPU accelerator's library, looked for beside `libLiteRt.so`.
pub const GPU_LIBRARY: &str = "libLiteRtWebGpuAccelerator.so";

/// Which LiteRT accelerator a backend asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Cpu,
    Gpu,
    /// The interpreter's reference kernels, XNNPACK off (`kernel_mode = "reference"`): `litert-ref`, the expected
    /// outputs of the TFLite conformance probe and a baseline without the accelerator.
    Reference,
}

/// A LiteRT backend.
#[derive(Debug)]
pub struct Litert {
    accel: Accel,
    library: Option<PathBuf>,
}

impl Litert {
    /// `library`: the `--litert-lib` setting, used before any other source.
    pub fn new(accel: Accel, library: Option<PathBuf>) -> Self {
        Litert { accel, library }
    }
}

struct Runtime {
    api: Api,
    located: Located,
    version: String,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
static GPU: OnceLock<Result<(), String>> = OnceLock::new();
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// XNNPACK threads of models compiled from now on (`bench --threads`); 0 = LiteRT's default.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The wheel version, from the `ai_edge_litert-<v>.dist-info` folder beside the package (`unknown` elsewhere, e.g.
/// a library copied next to a runner on a board: the C API has no version call).
fn wheel_version(lib: &Path) -> String {
    let site = lib.parent().and_then(Path::parent);
    site.and_then(|s| std::fs::read_dir(s).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("ai_edge_litert-")?
                .strip_suffix(".dist-info")
                .map(str::to_string)
        })
        .next()
        .or_else(|| {
            // A runner folder: `build` writes the version beside the library.
            std::fs::read_to_string(lib.with_file_name("libLiteRt.version"))
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn runtime(library: Option<&Path>) -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| {
            let located = SEARCH.locate(library)?;
            let api = Api::load(&located.path)?;
            let version = wheel_version(&located.path);
            Ok(Runtime {
                api,
                located,
                version,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn check(s: ffi::Status, what: &str) -> Result<(), String> {
    if s == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what}: LiteRT status {s} ({})",
            ffi::status_name(s)
        ))
    }
}

fn element_type(code: i32) -> Option<DataType> {
    Some(match code {
        1 => DataType::Float,
        2 => DataType::Int32,
        3 => DataType::Uint8,
        4 => DataType::Int64,
        6 => DataType::Bool,
        7 => DataType::Int16,
        9 => DataType::Int8,
        10 => DataType::Float16,
        11 => DataType::Double,
        _ => return None,
    })
}

/// One signature input or output and its host buffer.
struct Port {
    /// The signature's name for it.
    name: String,
    /// The tensor's own name (what the IR and feeds use).
    tensor: String,
    dtype: DataType,
    dims: Vec<i64>,
    bytes: usize,
    buffer: Handle,
}

/// An environment, model and compiled model, destroyed in reverse order.
struct Compiled {
    rt: &'static Runtime,
    env: Handle,
    model: Handle,
    compiled: Handle,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    accel: Accel,
    /// The main subgraph's nodes: name (`OP#index`), op, and whether it is a DEQUANTIZE of a constant (folded
    /// into the weights by an accelerator). Profiler indices below their count are TFLite nodes.
    nodes: Vec<placement::ModelNode>,
    /// The library folder string the environment was given.
    _dir: CString,
}

// SAFETY: a compiled model is used from one thread at a time (a Session is `&mut`); LiteRT handles are not tied to
// the creating thread.
unsafe impl Send for Compiled {}

impl Drop for Compiled {
    fn drop(&mut self) {
        let a = &self.rt.api;
        // SAFETY: each handle was created by this library and is destroyed once, children first.
        // (LiteRT logs each accelerator's destruction: kept off stderr.)
        capture::stderr_of(|| unsafe {
            for p in self.inputs.iter().chain(&self.outputs) {
                if !p.buffer.is_null() {
                    (a.LiteRtDestroyTensorBuffer)(p.buffer);
                }
            }
            if !self.compiled.is_null() {
                (a.LiteRtDestroyCompiledModel)(self.compiled);
            }
            if !self.model.is_null() {
                (a.LiteRtDestroyModel)(self.model);
            }
            if !self.env.is_null() {
                (a.LiteRtDestroyEnvironment)(self.env);
            }
        });
    }
}

unsafe extern "C" fn free_payload(p: *mut c_void) {
    // SAFETY: the payload was allocated by `libc::malloc` in `opaque`.
    unsafe { libc::free(p) }
}

/// Opaque options `identifier` with a TOML payload (how LiteRT's option helpers pass them).
fn opaque(api: &Api, identifier: &CStr, toml: &str) -> Result<Handle, String> {
    let bytes = toml.as_bytes();
    // SAFETY: a NUL-terminated copy in malloc'd memory, owned by LiteRT from here on (freed by `free_payload`).
    unsafe {
        let p = libc::malloc(bytes.len() + 1) as *mut u8;
        if p.is_null() {
            return Err("out of memory".into());
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
        let mut h: Handle = std::ptr::null_mut();
        check(
            (api.LiteRtCreateOpaqueOptions)(
                identifier.as_ptr(),
                p as *mut c_void,
                Some(free_payload),
                &mut h,
            ),
            "LiteRtCreateOpaqueOptions",
        )?;
        Ok(h)
    }
}

/// How a model is compiled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Compile {
    accel: Accel,
    profiling: bool,
}

impl Compiled {
    /// Opens and compiles a model; LiteRT's own error lines (captured from stderr) end the message on failure.
    fn open(rt: &'static Runtime, path: &Path, how: Compile) -> Result<Compiled, String> {
        let (r, errors) = capture::stderr_of(|| Compiled::open_quiet(rt, path, how));
        r.map_err(|e| match errors.last() {
            Some(l) => format!("{e}; LiteRT said: {l}"),
            None => e,
        })
    }

    fn open_quiet(rt: &'static Runtime, path: &Path, how: Compile) -> Result<Compiled, String> {
        let a = &rt.api;
        let dir = rt.located.path.parent().unwrap_or(Path::new("."));
        let dir = CString::new(dir.to_string_lossy().into_owned()).map_err(|e| e.to_string())?;
        let file = CString::new(path.to_string_lossy().into_owned())
            .map_err(|_| format!("{}: the path contains a NUL byte", path.display()))?;
        let mut c = Compiled {
            rt,
            env: std::ptr::null_mut(),
            model: std::ptr::null_mut(),
            compiled: std::ptr::null_mut(),
            inputs: vec![],
            outputs: vec![],
            accel: how.accel,
            nodes: edgebench_graph::load(path)
                .map(|m| placement::model_nodes(&m))
                .map_err(|e| e.to_string())?,
            _dir: dir,
        };
        // SAFETY: calls follow litert_compiled_model_test.cc; every out-pointer is a local that the call fills, and
        // every created handle is owned by `c` (destroyed by Drop) or destroyed here.
        unsafe {
            let opt = ffi::EnvOption {
                tag: ffi::ENV_RUNTIME_LIBRARY_DIR,
                value: ffi::Any {
                    ty: ffi::ANY_STRING,
                    value: c._dir.as_ptr() as u64,
                },
            };
            check(
                (a.LiteRtCreateEnvironment)(1, &opt, &mut c.env),
                "LiteRtCreateEnvironment",
            )?;
            check(
                (a.LiteRtCreateModelFromFile)(c.env, file.as_ptr(), &mut c.model),
                "LiteRtCreateModelFromFile",
            )?;
            let mut options: Handle = std::ptr::null_mut();
            check((a.LiteRtCreateOptions)(&mut options), "LiteRtCreateOptions")?;
            let hw = match how.accel {
                Accel::Cpu | Accel::Reference => ffi::HW_CPU,
                Accel::Gpu => ffi::HW_GPU | ffi::HW_CPU,
            };
            let configured = (|| {
                check(
                    (a.LiteRtSetOptionsHardwareAccelerators)(options, hw),
                    "LiteRtSetOptionsHardwareAccelerators",
                )?;
                let mut cpu = String::new();
                let threads = THREADS.load(Ordering::Relaxed);
                if threads > 0 {
                    cpu.push_str(&format!("num_threads = {threads}\n"));
                }
                if how.accel == Accel::Reference {
                    cpu.push_str("kernel_mode = \"reference\"\n");
                }
                if !cpu.is_empty() {
                    let o = opaque(a, c"xnnpack", &cpu)?;
                    check(
                        (a.LiteRtAddOpaqueOptions)(options, o),
                        "LiteRtAddOpaqueOptions",
                    )?;
                }
                // Errors of a run go to a buffer (kLiteRtErrorReporterModeBuffer) that `run` reads on failure,
                // not to stderr.
                let mut runtime = String::from("error_reporter_mode = 2\n");
                if how.profiling {
                    runtime.push_str("enable_profiling = true\n");
                }
                let o = opaque(a, c"runtime_options_string", &runtime)?;
                check(
                    (a.LiteRtAddOpaqueOptions)(options, o),
                    "LiteRtAddOpaqueOptions",
                )?;
                check(
                    (a.LiteRtCreateCompiledModel)(c.env, c.model, options, &mut c.compiled),
                    "LiteRtCreateCompiledModel",
                )
            })();
            (a.LiteRtDestroyOptions)(options);
            configured?;
            let mut sig: Handle = std::ptr::null_mut();
            check(
                (a.LiteRtGetModelSignature)(c.model, 0, &mut sig),
                "LiteRtGetModelSignature",
            )?;
            let (mut ni, mut no) = (0usize, 0usize);
            check(
                (a.LiteRtGetNumSignatureInputs)(sig, &mut ni),
                "LiteRtGetNumSignatureInputs",
            )?;
            check(
                (a.LiteRtGetNumSignatureOutputs)(sig, &mut no),
                "LiteRtGetNumSignatureOutputs",
            )?;
            for i in 0..ni {
                let p = c.port(sig, i, true)?;
                c.inputs.push(p);
            }
            for i in 0..no {
                let p = c.port(sig, i, false)?;
                c.outputs.push(p);
            }
        }
        Ok(c)
    }

    /// Signature input or output `i`, with a managed host buffer of its size.
    unsafe fn port(&self, sig: Handle, i: usize, input: bool) -> Result<Port, String> {
        let a = &self.rt.api;
        let side = if input { "input" } else { "output" };
        // SAFETY: `sig` is a signature of `self.model`; names are C strings owned by the model.
        unsafe {
            let mut name: *const std::ffi::c_char = std::ptr::null();
            let mut tensor: Handle = std::ptr::null_mut();
            if input {
                check(
                    (a.LiteRtGetSignatureInputName)(sig, i, &mut name),
                    "LiteRtGetSignatureInputName",
                )?;
                check(
                    (a.LiteRtGetSignatureInputTensorByIndex)(sig, i, &mut tensor),
                    "LiteRtGetSignatureInputTensorByIndex",
                )?;
            } else {
                check(
                    (a.LiteRtGetSignatureOutputName)(sig, i, &mut name),
                    "LiteRtGetSignatureOutputName",
                )?;
                check(
                    (a.LiteRtGetSignatureOutputTensorByIndex)(sig, i, &mut tensor),
                    "LiteRtGetSignatureOutputTensorByIndex",
                )?;
            }
            let name = cstr(name);
            let mut tname: *const std::ffi::c_char = std::ptr::null();
            check(
                (a.LiteRtGetTensorName)(tensor, &mut tname),
                "LiteRtGetTensorName",
            )?;
            let tname = cstr(tname);
            let mut ty = std::mem::zeroed::<ffi::RankedTensorType>();
            check(
                (a.LiteRtGetRankedTensorType)(tensor, &mut ty),
                &format!("{side} `{name}`: LiteRtGetRankedTensorType"),
            )?;
            let dtype = element_type(ty.element_type).ok_or_else(|| {
                format!(
                    "{side} `{name}`: LiteRT element type {} is not supported on the host",
                    ty.element_type
                )
            })?;
            let dims = ty.dims();
            if dims.iter().any(|d| *d < 0) {
                return Err(format!(
                    "{side} `{name}` has a dynamic shape {dims:?}: resizing LiteRT inputs is not supported yet"
                ));
            }
            let n: u64 = dims.iter().map(|d| *d as u64).product();
            let bytes = dtype.bytes_for(n) as usize;
            let mut buffer: Handle = std::ptr::null_mut();
            check(
                (a.LiteRtCreateManagedTensorBuffer)(
                    self.env,
                    ffi::BUFFER_HOST_MEMORY,
                    &ty,
                    bytes,
                    &mut buffer,
                ),
                &format!("{side} `{name}`: LiteRtCreateManagedTensorBuffer"),
            )?;
            Ok(Port {
                name,
                tensor: tname,
                dtype,
                dims,
                bytes,
                buffer,
            })
        }
    }

    /// One inference; a failure's message ends with LiteRT's own (its error reporter's buffer).
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, String> {
        self.run_quiet(inputs).map_err(|e| {
            let said = self.error_messages();
            let line = said
                .lines()
                .find(|l| l.contains("failed"))
                .or(said.lines().find(|l| !l.trim().is_empty()));
            match line {
                Some(l) => format!("{e}; LiteRT said: {}", l.trim()),
                None => e,
            }
        })
    }

    /// The compiled model's buffered error messages (empty when there are none).
    fn error_messages(&self) -> String {
        let mut p: *mut std::ffi::c_char = std::ptr::null_mut();
        // SAFETY: a live compiled model; LiteRT allocates the string with malloc and the caller frees it.
        unsafe {
            if (self.rt.api.LiteRtCompiledModelGetErrorMessages)(self.compiled, &mut p) != 0
                || p.is_null()
            {
                return String::new();
            }
            let s = cstr(p);
            libc::free(p as *mut c_void);
            s
        }
    }

    fn run_quiet(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, String> {
        let a = &self.rt.api;
        for (pi, p) in self.inputs.iter().enumerate() {
            let t = inputs
                .iter()
                .find(|(n, _)| *n == p.tensor || *n == p.name)
                .or_else(|| (inputs.len() == self.inputs.len()).then(|| &inputs[pi]))
                .map(|(_, t)| t)
                .ok_or_else(|| format!("no value fed for input `{}`", p.tensor))?;
            if t.dtype() != p.dtype {
                return Err(format!(
                    "input `{}`: fed {}, the model takes {}",
                    p.tensor,
                    t.dtype(),
                    p.dtype
                ));
            }
            let raw = host_bytes(t);
            if raw.len() != p.bytes {
                return Err(format!(
                    "input `{}`: fed shape {:?}, the model takes {:?}",
                    p.tensor, t.shape, p.dims
                ));
            }
            // SAFETY: the lock gives `p.bytes` writable bytes of the managed buffer until unlocked.
            unsafe {
                let mut addr: *mut c_void = std::ptr::null_mut();
                check(
                    (a.LiteRtLockTensorBuffer)(p.buffer, &mut addr, ffi::LOCK_WRITE),
                    "LiteRtLockTensorBuffer",
                )?;
                std::ptr::copy_nonoverlapping(raw.as_ptr(), addr as *mut u8, p.bytes);
                check(
                    (a.LiteRtUnlockTensorBuffer)(p.buffer),
                    "LiteRtUnlockTensorBuffer",
                )?;
            }
        }
        let mut ins: Vec<Handle> = self.inputs.iter().map(|p| p.buffer).collect();
        let mut outs: Vec<Handle> = self.outputs.iter().map(|p| p.buffer).collect();
        // SAFETY: buffers belong to this compiled model's environment and match its signature 0.
        unsafe {
            check(
                (a.LiteRtRunCompiledModel)(
                    self.compiled,
                    0,
                    ins.len(),
                    ins.as_mut_ptr(),
                    outs.len(),
                    outs.as_mut_ptr(),
                ),
                "LiteRtRunCompiledModel",
            )?;
        }
        self.outputs
            .iter()
            .map(|p| {
                let shape: Vec<usize> = p.dims.iter().map(|d| *d as usize).collect();
                let mut t =
                    empty_host(p.dtype, shape.iter().product(), shape).ok_or_else(|| {
                        format!(
                            "output `{}`: {} is not supported on the host",
                            p.tensor, p.dtype
                        )
                    })?;
                let dst = host_bytes_mut(&mut t);
                if dst.len() != p.bytes {
                    return Err(format!(
                        "output `{}`: {} bytes for {} bytes of host tensor",
                        p.tensor,
                        p.bytes,
                        dst.len()
                    ));
                }
                // SAFETY: as for inputs, read-only; `dst` has exactly `p.bytes` bytes.
                unsafe {
                    let mut addr: *mut c_void = std::ptr::null_mut();
                    check(
                        (a.LiteRtLockTensorBuffer)(p.buffer, &mut addr, ffi::LOCK_READ),
                        "LiteRtLockTensorBuffer",
                    )?;
                    std::ptr::copy_nonoverlapping(addr as *const u8, dst.as_mut_ptr(), p.bytes);
                    check(
                        (a.LiteRtUnlockTensorBuffer)(p.buffer),
                        "LiteRtUnlockTensorBuffer",
                    )?;
                }
                if let (DataType::Bool, Data::U8(v)) = (p.dtype, &t.data) {
                    t.data = Data::Bool(v.iter().map(|b| *b != 0).collect());
                }
                Ok((p.tensor.clone(), t))
            })
            .collect()
    }

    /// Whether every op runs on the requested accelerator.
    fn fully_accelerated(&self) -> Result<bool, String> {
        let mut full = false;
        // SAFETY: a live compiled model.
        unsafe {
            check(
                (self.rt.api.LiteRtCompiledModelIsFullyAccelerated)(self.compiled, &mut full),
                "LiteRtCompiledModelIsFullyAccelerated",
            )?;
        }
        Ok(full)
    }
}

unsafe fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string from LiteRT.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

impl Litert {
    fn runtime(&self) -> Result<&'static Runtime, String> {
        let rt = runtime(self.library.as_deref())?;
        if self.accel == Accel::Gpu {
            GPU.get_or_init(|| capture::stderr_of(|| gpu_check(rt)).0)
                .clone()?;
        }
        Ok(rt)
    }

    fn err(&self, load: bool) -> impl Fn(String) -> BackendError + '_ {
        move |message| {
            if load {
                BackendError::Load {
                    backend: self.name().into(),
                    message,
                }
            } else {
                BackendError::Run {
                    backend: self.name().into(),
                    message,
                }
            }
        }
    }

    fn open(&self, path: &Path, how: Compile) -> Result<Compiled, BackendError> {
        let rt = self.runtime().map_err(|reason| BackendError::Unavailable {
            backend: self.name().into(),
            reason,
        })?;
        tflite_only(self.name(), path)?;
        Compiled::open(rt, path, how).map_err(self.err(true))
    }
}

/// LiteRT reads `.tflite` files only: anything else is refused before the library sees it.
fn tflite_only(backend: &str, path: &Path) -> Result<(), BackendError> {
    let mut head = [0u8; 8];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && edgebench_graph::tflite::has_identifier(&head);
    if ok {
        Ok(())
    } else {
        Err(BackendError::Unsupported {
            backend: backend.into(),
            message: format!(
                "{}: not a TFLite model (LiteRT runs .tflite files only)",
                path.display()
            ),
        })
    }
}

/// Whether the GPU accelerator starts here: its library beside `libLiteRt.so`, and a one-op model compiled on it.
fn gpu_check(rt: &'static Runtime) -> Result<(), String> {
    let dir = rt.located.path.parent().unwrap_or(Path::new("."));
    if !dir.join(GPU_LIBRARY).is_file() {
        return Err(format!("{GPU_LIBRARY} is not in {}", dir.display()));
    }
    let tmp = tempfile::Builder::new()
        .suffix(".tflite")
        .tempfile()
        .map_err(|e| e.to_string())?;
    std::fs::write(tmp.path(), placement::one_op_model()).map_err(|e| e.to_string())?;
    let c = Compiled::open(
        rt,
        tmp.path(),
        Compile {
            accel: Accel::Gpu,
            profiling: false,
        },
    )
    .map_err(|e| format!("the WebGPU accelerator could not compile a one-op model here: {e}"))?;
    match c.fully_accelerated() {
        Ok(true) => Ok(()),
        Ok(false) => Err(
            "the WebGPU accelerator did not take a one-op ADD model (no usable GPU adapter)".into(),
        ),
        Err(e) => Err(e),
    }
}

struct LiteSession {
    compiled: Compiled,
    backend: &'static str,
}

impl Session for LiteSession {
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        self.compiled
            .run(inputs)
            .map_err(|message| BackendError::Run {
                backend: self.backend.into(),
                message,
            })
    }
}

impl Backend for Litert {
    fn name(&self) -> &'static str {
        match self.accel {
            Accel::Cpu => "litert",
            Accel::Gpu => "litert-gpu",
            Accel::Reference => "litert-ref",
        }
    }

    fn device(&self) -> Device {
        match self.accel {
            Accel::Cpu | Accel::Reference => Device::Cpu,
            Accel::Gpu => Device::Gpu,
        }
    }

    fn formats(&self) -> &'static [edgebench_graph::Format] {
        &[edgebench_graph::Format::Tflite]
    }

    fn availability(&self) -> Availability {
        match self.runtime() {
            Ok(rt) => Availability::Available {
                version: rt.version.clone(),
                details: vec![
                    ("library".into(), rt.located.path.display().to_string()),
                    ("found via".into(), rt.located.source.clone()),
                    (
                        "accelerator".into(),
                        match self.accel {
                            Accel::Cpu => "CPU (XNNPACK + the interpreter's kernels)".into(),
                            Accel::Gpu => format!("GPU ({GPU_LIBRARY}) with CPU fallback"),
                            Accel::Reference => {
                                "CPU, the interpreter's reference kernels (XNNPACK off)".into()
                            }
                        },
                    ),
                ],
            },
            Err(reason) => Availability::Unavailable { reason },
        }
    }

    fn load(&self, path: &Path, _inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        let c = self.open(
            path,
            Compile {
                accel: self.accel,
                profiling: false,
            },
        )?;
        Ok(Box::new(LiteSession {
            compiled: c,
            backend: self.name(),
        }))
    }

    fn placement(
        &self,
        path: &Path,
        feed: &[(String, HostTensor)],
    ) -> Option<Result<ObservedPlacement, BackendError>> {
        if self.accel == Accel::Reference {
            return None;
        }
        Some((|| {
            let mut c = self.open(
                path,
                Compile {
                    accel: self.accel,
                    profiling: true,
                },
            )?;
            placement::observe(&mut c, feed, 1, 1)
                .map(|(p, _)| p)
                .map_err(self.err(false))
        })())
    }

    fn profile(
        &self,
        path: &Path,
        _inputs: &[InputSpec],
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        let mut c = self.open(
            path,
            Compile {
                accel: self.accel,
                profiling: true,
            },
        )?;
        let (_, profile) =
            placement::observe(&mut c, feed, warmup, runs).map_err(self.err(false))?;
        Ok(profile)
    }
}

/// The bytes of a host tensor's elements, in place (every element type a `HostTensor` holds is plain old data with
/// no padding; `bool` is one byte, 0 or 1, as LiteRT's).
fn host_bytes(t: &HostTensor) -> &[u8] {
    fn raw<T>(v: &[T]) -> &[u8] {
        // SAFETY: a slice of plain-old-data elements viewed as its bytes; the lifetime is the slice's.
        unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
    }
    match &t.data {
        Data::F32(v) => raw(v),
        Data::F64(v) => raw(v),
        Data::F16(v) => raw(v),
        Data::I64(v) => raw(v),
        Data::I32(v) => raw(v),
        Data::I16(v) => raw(v),
        Data::I8(v) => raw(v),
        Data::U8(v) => raw(v),
        Data::Bool(v) => raw(v),
    }
}

/// [`host_bytes`], writable. Never for `bool`: not every byte is a valid `bool` (outputs of that type are read
/// through `u8`, see [`empty_host`]).
fn host_bytes_mut(t: &mut HostTensor) -> &mut [u8] {
    fn raw<T>(v: &mut [T]) -> &mut [u8] {
        // SAFETY: as in `host_bytes`; every bit pattern is a valid value of these element types.
        unsafe {
            std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v))
        }
    }
    match &mut t.data {
        Data::F32(v) => raw(v),
        Data::F64(v) => raw(v),
        Data::F16(v) => raw(v),
        Data::I64(v) => raw(v),
        Data::I32(v) => raw(v),
        Data::I16(v) => raw(v),
        Data::I8(v) => raw(v),
        Data::U8(v) => raw(v),
        Data::Bool(_) => &mut [],
    }
}

/// A zeroed host tensor of `n` elements (`bool` outputs are read as `uint8`).
fn empty_host(dtype: DataType, n: usize, shape: Vec<usize>) -> Option<HostTensor> {
    let data = match dtype {
        DataType::Float => Data::F32(vec![0.0; n]),
        DataType::Double => Data::F64(vec![0.0; n]),
        DataType::Float16 => Data::F16(vec![half::f16::ZERO; n]),
        DataType::Int64 => Data::I64(vec![0; n]),
        DataType::Int32 => Data::I32(vec![0; n]),
        DataType::Int16 => Data::I16(vec![0; n]),
        DataType::Int8 => Data::I8(vec![0; n]),
        DataType::Uint8 | DataType::Bool => Data::U8(vec![0; n]),
        _ => return None,
    };
    Some(HostTensor { shape, data })
}
