//! The backend registry of this build: compiled-in backends, and entries for those left out by cargo features.

use edgebench_backend_api::{Backend, Entry, Guarded, Registry};
use std::path::PathBuf;

/// A compiled-in backend whose panics become errors.
#[allow(dead_code)]
fn guarded(b: impl Backend + 'static) -> Entry {
    Entry::Compiled(Box::new(Guarded(Box::new(b))))
}

/// Every backend edgebench knows. `ort_lib` and `litert_lib` are the `--ort-lib` and `--litert-lib` settings.
pub fn build(ort_lib: Option<PathBuf>, litert_lib: Option<PathBuf>) -> Registry {
    let mut entries = vec![];
    #[cfg(feature = "tract")]
    entries.push(guarded(edgebench_backend_tract::Tract));
    #[cfg(not(feature = "tract"))]
    entries.push(Entry::NotCompiled {
        name: "tract",
        reason: "built without cargo feature `tract`".into(),
    });
    #[cfg(feature = "ort")]
    entries.push(guarded(edgebench_backend_ort::Ort::with_library(
        ort_lib.clone(),
    )));
    // The other execution providers, each with its own library: OpenVINO's from --ort-openvino-lib (passed on
    // as EDGEBENCH_ORT_OPENVINO_LIB) or its venv; CUDA's and TensorRT's from --ort-gpu-lib, else --ort-lib (a
    // Jetson's JetPack library holds all three), else their venv.
    #[cfg(feature = "ort")]
    {
        use edgebench_backend_ort::{Ort, Provider};
        let gpu = std::env::var_os("EDGEBENCH_ORT_GPU_LIB")
            .is_none()
            .then(|| ort_lib.clone())
            .flatten();
        entries.push(guarded(Ort::with_provider(Provider::OpenVino, None)));
        entries.push(guarded(Ort::with_provider(Provider::Cuda, gpu.clone())));
        entries.push(guarded(Ort::with_provider(Provider::TensorRt, gpu)));
    }
    #[cfg(not(feature = "ort"))]
    {
        let _ = ort_lib;
        for name in ["ort", "ort-openvino", "ort-cuda", "ort-tensorrt"] {
            entries.push(Entry::NotCompiled {
                name,
                reason: "built without cargo feature `ort`".into(),
            });
        }
    }
    #[cfg(feature = "wonnx")]
    entries.push(guarded(edgebench_backend_wonnx::Wonnx));
    #[cfg(not(feature = "wonnx"))]
    entries.push(Entry::NotCompiled {
        name: "wonnx",
        reason: "built without cargo feature `wonnx`".into(),
    });
    #[cfg(all(feature = "wonnx", feature = "tract"))]
    if let Some(Ok(table)) = edgebench_compat::embedded("wonnx") {
        use edgebench_backend_split::Split;
        entries.push(guarded(Split::new(
            "wonnx+tract",
            Box::new(Guarded(Box::new(edgebench_backend_wonnx::Wonnx))),
            Box::new(Guarded(Box::new(edgebench_backend_tract::Tract))),
            Box::new(Guarded(Box::new(edgebench_backend_tract::Tract))),
            table.clone(),
        )));
        #[cfg(feature = "ort")]
        entries.push(guarded(Split::new(
            "wonnx+ort",
            Box::new(Guarded(Box::new(edgebench_backend_wonnx::Wonnx))),
            Box::new(Guarded(Box::new(edgebench_backend_ort::Ort::with_library(
                ort_lib.clone(),
            )))),
            Box::new(Guarded(Box::new(edgebench_backend_tract::Tract))),
            table,
        )));
    }
    #[cfg(feature = "litert")]
    {
        use edgebench_backend_litert::{Accel, Litert};
        entries.push(guarded(Litert::new(Accel::Cpu, litert_lib.clone())));
        entries.push(guarded(Litert::new(Accel::Gpu, litert_lib.clone())));
        entries.push(guarded(Litert::new(Accel::Reference, litert_lib)));
    }
    #[cfg(not(feature = "litert"))]
    {
        let _ = litert_lib;
        for name in ["litert", "litert-gpu", "litert-ref"] {
            entries.push(Entry::NotCompiled {
                name,
                reason: "built without cargo feature `litert`".into(),
            });
        }
    }
    #[cfg(feature = "tract")]
    entries.push(guarded(edgebench_backend_tract::TractTflite));
    #[cfg(not(feature = "tract"))]
    entries.push(Entry::NotCompiled {
        name: "tract-tflite",
        reason: "built without cargo feature `tract`".into(),
    });
    Registry::new(entries)
}

/// The backend whose outputs others are compared with.
pub const REFERENCE: &str = edgebench_bench::prepare::ORACLE;

/// Threads of the runtimes that take a thread count (ONNX Runtime's intra-op pool, LiteRT's XNNPACK) for models
/// loaded from now on (`bench --threads`, `profile --threads`).
pub fn set_threads(n: usize) {
    #[cfg(feature = "ort")]
    edgebench_backend_ort::set_intra_threads(n);
    #[cfg(feature = "litert")]
    edgebench_backend_litert::set_threads(n);
    let _ = n;
}
