//! ONNX Runtime's execution providers as backends: `ort` (the CPU provider), `ort-openvino` (Intel's OpenVINO, the
//! `onnxruntime-openvino` wheel, on this machine's CPU), `ort-cuda` and `ort-tensorrt` (NVIDIA, the
//! `onnxruntime-gpu` wheel or JetPack's own ONNX Runtime). Each has its own library, found like ONNX Runtime's
//! (flag, environment variable, its own venv, beside the executable), and its own prerequisites, checked without
//! loading the library into `ort`, so every reason is reported apart: library absent, too old, provider library
//! missing beside it, no NVIDIA driver, CUDA runtime or TensorRT not loadable.

use edgebench_backend_api::{Device, LibrarySearch};
use std::path::{Path, PathBuf};

/// One of ONNX Runtime's execution providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    Cpu,
    OpenVino,
    Cuda,
    TensorRt,
}

pub const ALL: [Provider; 4] = [
    Provider::Cpu,
    Provider::OpenVino,
    Provider::Cuda,
    Provider::TensorRt,
];

const PREFIXES: &[&str] = &[
    "libonnxruntime.so",
    "libonnxruntime.dylib",
    "onnxruntime.dll",
];

impl Provider {
    /// The backend's name in edgebench.
    pub fn backend(self) -> &'static str {
        match self {
            Provider::Cpu => "ort",
            Provider::OpenVino => "ort-openvino",
            Provider::Cuda => "ort-cuda",
            Provider::TensorRt => "ort-tensorrt",
        }
    }

    /// ONNX Runtime's name for it (as its assignment info and profiler report it).
    pub fn ep_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::OpenVino => "OpenVINOExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
            Provider::TensorRt => "TensorrtExecutionProvider",
        }
    }

    /// What the provider computes on (OpenVINO here: its CPU device).
    pub fn device(self) -> Device {
        match self {
            Provider::Cpu | Provider::OpenVino => Device::Cpu,
            Provider::Cuda | Provider::TensorRt => Device::Gpu,
        }
    }

    /// The shared library that holds the provider, beside ONNX Runtime's (none for the CPU provider).
    pub fn provider_library(self) -> Option<&'static str> {
        match self {
            Provider::Cpu => None,
            Provider::OpenVino => Some("libonnxruntime_providers_openvino.so"),
            Provider::Cuda => Some("libonnxruntime_providers_cuda.so"),
            Provider::TensorRt => Some("libonnxruntime_providers_tensorrt.so"),
        }
    }

    /// Where its ONNX Runtime library is looked for.
    pub fn search(self) -> LibrarySearch<'static> {
        match self {
            Provider::Cpu => LibrarySearch {
                what: "ONNX Runtime library",
                flag: "--ort-lib",
                env: "ORT_DYLIB_PATH",
                venv: ".venv",
                wheel_dir: "onnxruntime/capi",
                prefixes: PREFIXES,
                hint: "run ci/setup.sh to create .venv with the onnxruntime wheel",
            },
            Provider::OpenVino => LibrarySearch {
                what: "ONNX Runtime library with the OpenVINO execution provider",
                flag: "--ort-openvino-lib",
                env: "EDGEBENCH_ORT_OPENVINO_LIB",
                venv: ".venv-openvino",
                wheel_dir: "onnxruntime/capi",
                prefixes: PREFIXES,
                hint: "run ci/setup.sh to create .venv-openvino with the onnxruntime-openvino wheel",
            },
            Provider::Cuda | Provider::TensorRt => LibrarySearch {
                what: "ONNX Runtime library with the CUDA and TensorRT execution providers",
                flag: "--ort-gpu-lib",
                env: "EDGEBENCH_ORT_GPU_LIB",
                venv: ".venv-gpu",
                wheel_dir: "onnxruntime/capi",
                prefixes: PREFIXES,
                hint: "on an x86_64 machine with an NVIDIA GPU ci/setup.sh creates .venv-gpu with the \
                       onnxruntime-gpu wheel; on a Jetson pass JetPack's libonnxruntime.so",
            },
        }
    }

    /// What this provider needs beyond the library, checked by loading (not running) what it loads: `Ok` with
    /// facts to report, or the reason it cannot run here.
    pub fn prerequisites(self, library: &Path) -> Result<Vec<(String, String)>, String> {
        let dir = library.parent().unwrap_or(Path::new("."));
        let mut facts = vec![("execution provider".to_string(), self.ep_name().to_string())];
        if let Some(driver) = self.driver()? {
            facts.push(("NVIDIA driver".into(), driver));
        }
        if let Some(p) = self.provider_library() {
            let f = dir.join(p);
            if !f.is_file() {
                return Err(format!(
                    "{} has no {p} beside it: an ONNX Runtime built without the {} provider",
                    library.display(),
                    self.ep_name()
                ));
            }
            facts.push(("provider library".into(), f.display().to_string()));
        }
        // The CUDA and TensorRT runtimes: from the nvidia-* (CUDA 13) / tensorrt-cu13 wheels in the same venv, or
        // the system's (JetPack puts them in the library path). The provider library has no RUNPATH, so the ones in
        // the venv are loaded here first, as `onnxruntime.preload_dlls()` does: the dynamic linker then resolves the
        // provider's NEEDED entries to them by soname.
        let site = site_packages(library);
        if matches!(self, Provider::Cuda | Provider::TensorRt) {
            let dirs: Vec<PathBuf> = site
                .iter()
                .flat_map(|s| CUDA_WHEEL_DIRS.iter().map(move |d| s.join(d)))
                .collect();
            let rt = dlopen_any(&["libcudart.so.13", "libcudart.so.12"], &dirs)
                .map_err(|e| format!("no CUDA runtime: libcudart cannot be loaded ({e})"))?;
            facts.push(("CUDA runtime".into(), rt));
            for (what, names, required) in CUDA_LIBRARIES {
                match dlopen_any(names, &dirs) {
                    Ok(l) => facts.push(((*what).into(), l)),
                    Err(e) if *required => {
                        return Err(format!(
                            "no {what}: {} cannot be loaded ({e})",
                            names.join(" or ")
                        ));
                    }
                    Err(_) => {}
                }
            }
        }
        if self == Provider::TensorRt {
            let dirs: Vec<PathBuf> = site.iter().map(|s| s.join("tensorrt_libs")).collect();
            let trt = dlopen_any(&["libnvinfer.so.10"], &dirs)
                .map_err(|e| format!("no TensorRT: libnvinfer.so.10 cannot be loaded ({e})"))?;
            facts.push(("TensorRT".into(), trt));
        }
        Ok(facts)
    }
}

impl Provider {
    /// The device driver the provider needs, checked before anything else (without it nothing else matters, and
    /// it is the usual reason on a machine with no NVIDIA GPU): `Ok(None)` when it needs none.
    pub fn driver(self) -> Result<Option<String>, String> {
        if !matches!(self, Provider::Cuda | Provider::TensorRt) {
            return Ok(None);
        }
        dlopen_any(&["libcuda.so.1"], &[])
            .map(Some)
            .map_err(|e| format!("no NVIDIA driver: libcuda.so.1 cannot be loaded ({e})"))
    }
}

/// Where the NVIDIA wheels put their libraries under `site-packages` (CUDA 13 wheels share `nvidia/cu13/lib`;
/// CUDA 12 wheels have one folder each).
const CUDA_WHEEL_DIRS: &[&str] = &[
    "nvidia/cu13/lib",
    "nvidia/cuda_runtime/lib",
    "nvidia/cublas/lib",
    "nvidia/curand/lib",
    "nvidia/cufft/lib",
    "nvidia/cudnn/lib",
];

/// The libraries the CUDA provider links or loads, in load order (cuBLASLt before cuBLAS, which needs it): name,
/// sonames (CUDA 13, then 12), and whether the provider cannot load without it (cuDNN and cuFFT are loaded by
/// ONNX Runtime only when an op needs them).
const CUDA_LIBRARIES: &[(&str, &[&str], bool)] = &[
    (
        "cuBLASLt",
        &["libcublasLt.so.13", "libcublasLt.so.12"],
        true,
    ),
    ("cuBLAS", &["libcublas.so.13", "libcublas.so.12"], true),
    ("cuRAND", &["libcurand.so.10"], true),
    ("cuFFT", &["libcufft.so.12", "libcufft.so.11"], false),
    ("cuDNN", &["libcudnn.so.9"], false),
];

/// The `site-packages` folder a wheel's library lies in (`.../site-packages/onnxruntime/capi/lib...`).
fn site_packages(library: &Path) -> Option<PathBuf> {
    library
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "site-packages"))
        .map(Path::to_path_buf)
}

/// Loads the first of `names` that loads, from `dirs` and then the system's library path; its path or name.
fn dlopen_any(names: &[&str], dirs: &[PathBuf]) -> Result<String, String> {
    let mut last = String::new();
    for n in names {
        for d in dirs {
            let p = d.join(n);
            if p.is_file() {
                // SAFETY: loading runs the library's initialisers; these are the vendor's runtime libraries the
                // provider itself would load.
                match unsafe { libloading::Library::new(&p) } {
                    Ok(l) => {
                        std::mem::forget(l);
                        return Ok(p.display().to_string());
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        // SAFETY: as above, through the dynamic linker's search path.
        match unsafe { libloading::Library::new(n) } {
            Ok(l) => {
                std::mem::forget(l);
                return Ok((*n).to_string());
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
