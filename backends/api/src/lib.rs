//! The one small trait every backend implements, the host tensor type, and the registry.
//!
//! A backend reports three separate facts: it is *compiled in* (a [`Registry`] entry exists either way), it is
//! *available here* ([`Backend::availability`], with the reason when not), and it is *usable for a model* (decided by
//! loading it, or later by the support tables). Backends know no reports and never print.

mod locate;
mod profile;
mod tensor;
pub use locate::{LibrarySearch, Located};
pub use profile::{NodeTime, ObservedPlacement, OpProfile, RanNode, Timing, median};
pub use tensor::{Agreement, Data, HostTensor, Summary, Tolerance, compare};

use edgebench_graph::DataType;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// What a backend needs to know about one input before loading: its concrete type and shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputSpec {
    pub name: String,
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

/// Whether a backend can run on this machine.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Availability {
    Available {
        version: String,
        /// Facts worth reporting: library path, adapter name, driver...
        details: Vec<(String, String)>,
    },
    Unavailable {
        reason: String,
    },
}

impl Availability {
    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available { .. })
    }
}

/// Errors of one backend operation. The message is the backend's own where it gave one.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend `{backend}` is not available: {reason}")]
    Unavailable { backend: String, reason: String },
    #[error("{backend} could not load the model: {message}")]
    Load { backend: String, message: String },
    #[error("{backend} failed to run the model: {message}")]
    Run { backend: String, message: String },
    #[error("{backend}: {message}")]
    Unsupported { backend: String, message: String },
}

/// A loaded, prepared model.
pub trait Session {
    /// Runs one inference. Inputs by name; outputs in the model's output order.
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError>;
    /// For a session split across backends: each backend's partitions and the time spent in it so far (cumulative
    /// over every `run`). Empty for a session on one backend.
    fn parts(&self) -> Vec<Part> {
        vec![]
    }
}

/// One backend's share of a split session.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Part {
    pub backend: String,
    /// Partitions (sub-models) run on it.
    pub partitions: usize,
    /// Main-graph nodes in them.
    pub nodes: usize,
    /// Time inside its sessions, summed over every run so far.
    pub seconds: f64,
    /// Why some partitions are here and not on the preferred backend, when they fell back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An inference backend.
pub trait Backend: Send + Sync {
    /// Stable short name used on the command line (`tract`, `ort`, `wonnx`).
    fn name(&self) -> &'static str;
    /// The kind of processor it computes on: a cell's roofline uses that device's peak.
    fn device(&self) -> Device {
        Device::Cpu
    }
    /// Whether it can run here, and its version. May initialise the runtime; cheap after the first call.
    fn availability(&self) -> Availability;
    /// The model formats it reads (ONNX unless it says otherwise). [`Guarded`] refuses other files before `load`.
    fn formats(&self) -> &'static [edgebench_graph::Format] {
        &[edgebench_graph::Format::Onnx]
    }
    /// Loads and prepares a model for the given concrete inputs.
    fn load(&self, model: &Path, inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError>;
    /// Concrete shapes of every named intermediate value for these inputs, if this backend can infer them.
    fn infer_shapes(
        &self,
        _model: &Path,
        _inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, Vec<u64>>, BackendError>> {
        None
    }
    /// Element type and concrete shape of every named value for these inputs, if this backend can infer them.
    fn infer_facts(
        &self,
        _model: &Path,
        _inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (edgebench_graph::DataType, Vec<u64>)>, BackendError>> {
        None
    }
    /// Per-op times of `runs` runs of the model on `feed` after `warmup` runs, from the backend's own profiler, in a
    /// session of its own (never the timed one). Backends without per-op timing say so (`Unsupported`).
    fn profile(
        &self,
        _model: &Path,
        _inputs: &[InputSpec],
        _feed: &[(String, HostTensor)],
        _warmup: usize,
        _runs: usize,
    ) -> Result<OpProfile, BackendError> {
        Err(BackendError::Unsupported {
            backend: self.name().into(),
            message: "per-op timing not available on this backend".into(),
        })
    }
    /// Where the nodes ran in one profiled run on `feed`, for a backend with an accelerator that takes some nodes
    /// and leaves the rest to its own kernels; `None` for backends without that notion.
    fn placement(
        &self,
        _model: &Path,
        _feed: &[(String, HostTensor)],
    ) -> Option<Result<ObservedPlacement, BackendError>> {
        None
    }
    /// [`Backend::infer_facts`] of a self-contained model held in memory (no external data); `None` when this
    /// backend reads models from files only (the caller then writes one).
    fn infer_facts_bytes(
        &self,
        _onnx: &[u8],
        _inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (edgebench_graph::DataType, Vec<u64>)>, BackendError>> {
        None
    }
}

/// The kind of processor a backend computes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Gpu,
}

impl Device {
    /// `cpu` or `gpu` (results.json's `backends[].device`).
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }
}

/// One registry entry: a compiled-in backend, or the name of one this build left out.
pub enum Entry {
    Compiled(Box<dyn Backend>),
    NotCompiled { name: &'static str, reason: String },
}

impl Entry {
    pub fn name(&self) -> &'static str {
        match self {
            Entry::Compiled(b) => b.name(),
            Entry::NotCompiled { name, .. } => name,
        }
    }
}

/// Why a backend name could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown backend `{given}` (known: {known})")]
    Unknown { given: String, known: String },
    #[error("backend `{name}` is not compiled into this build: {reason}")]
    NotCompiled { name: String, reason: String },
}

/// Every backend edgebench knows, compiled in or not.
#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    pub fn new(entries: Vec<Entry>) -> Self {
        Registry { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Accepts the short names and the aliases `tract-onnx`, `onnxruntime`.
    pub fn get(&self, name: &str) -> Result<&dyn Backend, RegistryError> {
        let canonical = match name.to_ascii_lowercase().as_str() {
            "tract-onnx" => "tract".to_string(),
            "onnxruntime" | "onnx-runtime" => "ort".to_string(),
            other => other.to_string(),
        };
        match self.entries.iter().find(|e| e.name() == canonical) {
            Some(Entry::Compiled(b)) => Ok(b.as_ref()),
            Some(Entry::NotCompiled { name, reason }) => Err(RegistryError::NotCompiled {
                name: name.to_string(),
                reason: reason.clone(),
            }),
            None => Err(RegistryError::Unknown {
                given: name.to_string(),
                known: self
                    .entries
                    .iter()
                    .map(|e| e.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Runs `f`, turning a panic inside a backend library into an error message. Some libraries (wonnx, ort's loader)
/// panic on conditions that are ordinary failures for us.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(match p.downcast::<String>() {
            Ok(s) => format!("panicked: {s}"),
            Err(p) => match p.downcast::<&str>() {
                Ok(s) => format!("panicked: {s}"),
                Err(_) => "panicked".to_string(),
            },
        }),
    }
}

/// Saves named tensors as one ONNX `GraphProto` whose initializers are the tensors (atomic write).
pub fn save_tensors(path: &Path, tensors: &[(String, HostTensor)]) -> std::io::Result<()> {
    use prost::Message;
    let g = edgebench_graph::pb::GraphProto {
        name: Some("edgebench-tensors".into()),
        initializer: tensors.iter().map(|(n, t)| t.to_onnx(n).proto).collect(),
        ..Default::default()
    };
    edgebench_graph::write_atomic(path, &g.encode_to_vec())
}

/// Reads tensors written by [`save_tensors`].
pub fn load_tensors(path: &Path) -> Result<Vec<(String, HostTensor)>, String> {
    use prost::Message;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let g = edgebench_graph::pb::GraphProto::decode(bytes.as_slice())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    g.initializer
        .into_iter()
        .map(|p| {
            let t = edgebench_graph::Tensor {
                proto: p,
                external: None,
            };
            Ok((
                t.name().to_string(),
                HostTensor::from_onnx(&t).map_err(|e| format!("{}: {e}", path.display()))?,
            ))
        })
        .collect()
}

/// A backend whose every call runs under [`catch_panic`]: a panic inside the library (tract on absurd shapes, wonnx,
/// ort's loader) becomes a `BackendError` naming the backend, never an unwinding edgebench. The registry wraps
/// every compiled-in backend in it.
pub struct Guarded(pub Box<dyn Backend>);

impl Guarded {
    /// Refuses a model file of a format the backend does not read, naming what would.
    fn reads(&self, model: &Path) -> Result<(), BackendError> {
        let format = edgebench_graph::tflite::format_of(model);
        if self.0.formats().contains(&format) {
            return Ok(());
        }
        let hint = match format {
            edgebench_graph::Format::Tflite => {
                "a .tflite model runs on litert, litert-gpu or tract-tflite"
            }
            edgebench_graph::Format::Onnx => "an ONNX model runs on tract, ort or wonnx",
        };
        Err(BackendError::Unsupported {
            backend: self.0.name().into(),
            message: format!(
                "{} does not read {} models ({hint})",
                self.0.name(),
                format.as_str()
            ),
        })
    }
}

struct GuardedSession {
    backend: &'static str,
    inner: Box<dyn Session>,
}

fn panicked(backend: &'static str, message: String) -> BackendError {
    BackendError::Run {
        backend: backend.into(),
        message,
    }
}

impl Session for GuardedSession {
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        let inner = &mut self.inner;
        let mut err = None;
        let out = catch_panic(|| {
            inner.run(inputs).map_err(|e| {
                let m = e.to_string();
                err = Some(e);
                m
            })
        });
        match (out, err) {
            (Ok(o), _) => Ok(o),
            (Err(_), Some(e)) => Err(e),
            (Err(m), None) => Err(panicked(self.backend, m)),
        }
    }
    fn parts(&self) -> Vec<Part> {
        self.inner.parts()
    }
}

impl Backend for Guarded {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn device(&self) -> Device {
        self.0.device()
    }
    fn availability(&self) -> Availability {
        catch_panic(|| Ok(self.0.availability()))
            .unwrap_or_else(|reason| Availability::Unavailable { reason })
    }
    fn formats(&self) -> &'static [edgebench_graph::Format] {
        self.0.formats()
    }
    fn load(&self, model: &Path, inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        let name = self.0.name();
        self.reads(model)?;
        let mut err = None;
        let loaded = catch_panic(|| {
            self.0.load(model, inputs).map_err(|e| {
                let m = e.to_string();
                err = Some(e);
                m
            })
        });
        match (loaded, err) {
            (Ok(inner), _) => Ok(Box::new(GuardedSession {
                backend: name,
                inner,
            })),
            (Err(_), Some(e)) => Err(e),
            (Err(message), None) => Err(BackendError::Load {
                backend: name.into(),
                message,
            }),
        }
    }
    fn infer_shapes(
        &self,
        model: &Path,
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, Vec<u64>>, BackendError>> {
        let name = self.0.name();
        self.reads(model).ok()?;
        match catch_panic(|| Ok(self.0.infer_shapes(model, inputs))) {
            Ok(r) => r,
            Err(m) => Some(Err(panicked(name, m))),
        }
    }
    fn infer_facts(
        &self,
        model: &Path,
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (edgebench_graph::DataType, Vec<u64>)>, BackendError>> {
        let name = self.0.name();
        self.reads(model).ok()?;
        match catch_panic(|| Ok(self.0.infer_facts(model, inputs))) {
            Ok(r) => r,
            Err(m) => Some(Err(panicked(name, m))),
        }
    }
    fn profile(
        &self,
        model: &Path,
        inputs: &[InputSpec],
        feed: &[(String, HostTensor)],
        warmup: usize,
        runs: usize,
    ) -> Result<OpProfile, BackendError> {
        let name = self.0.name();
        self.reads(model)?;
        catch_panic(|| Ok(self.0.profile(model, inputs, feed, warmup, runs)))
            .unwrap_or_else(|m| Err(panicked(name, m)))
    }
    fn placement(
        &self,
        model: &Path,
        feed: &[(String, HostTensor)],
    ) -> Option<Result<ObservedPlacement, BackendError>> {
        let name = self.0.name();
        if let Err(e) = self.reads(model) {
            return Some(Err(e));
        }
        match catch_panic(|| Ok(self.0.placement(model, feed))) {
            Ok(r) => r,
            Err(m) => Some(Err(panicked(name, m))),
        }
    }
    fn infer_facts_bytes(
        &self,
        onnx: &[u8],
        inputs: &[InputSpec],
    ) -> Option<Result<HashMap<String, (edgebench_graph::DataType, Vec<u64>)>, BackendError>> {
        let name = self.0.name();
        match catch_panic(|| Ok(self.0.infer_facts_bytes(onnx, inputs))) {
            Ok(r) => r,
            Err(m) => Some(Err(panicked(name, m))),
        }
    }
}
