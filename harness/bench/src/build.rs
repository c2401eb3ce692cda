//! Building the runner of a target: `cargo build --release` of the `edgebench` package with that target's backends
//! as features, cross-compiled when its triple is not this machine's (`.cargo/config.toml` sets the aarch64 linker);
//! for ONNX Runtime and LiteRT, the library of the `onnxruntime` / `ai-edge-litert` wheel for that platform is put
//! next to the runner, where the runner's backends look for it.

use crate::{Error, ORT_VERSION};
use edgebench_measure::targets::Target;
use edgebench_models::Fetcher;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A runner that was built.
#[derive(Serialize, Debug)]
pub struct Built {
    pub target: String,
    pub triple: String,
    pub runner: String,
    pub bytes: u64,
    pub backends: Vec<String>,
    pub ort_library: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub litert_library: Option<String>,
}

/// The wheel platform tag for a Rust triple.
fn wheel_platform(triple: &str) -> Option<&'static str> {
    match triple {
        "aarch64-unknown-linux-gnu" => Some("manylinux_2_28_aarch64"),
        "x86_64-unknown-linux-gnu" => Some("manylinux_2_28_x86_64"),
        _ => None,
    }
}

/// Downloads the onnxruntime wheel for `triple` (cached) and copies its library into `dir`.
pub fn ship_ort(fetcher: &Fetcher, triple: &str, dir: &Path) -> Result<PathBuf, BuildError> {
    let platform = wheel_platform(triple).ok_or_else(|| {
        BuildError::Bench(Error::Unavailable(format!(
            "no onnxruntime wheel platform known for {triple}"
        )))
    })?;
    let wheel = fetcher
        .fetch_wheel("onnxruntime", ORT_VERSION, platform)
        .map_err(|e| BuildError::Fetch(e.to_string()))?;
    let dest = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    edgebench_models::extract_to(
        &wheel,
        &format!("onnxruntime/capi/libonnxruntime.so.{ORT_VERSION}"),
        &dest,
    )
    .map_err(|e| BuildError::Fetch(e.to_string()))?;
    Ok(dest)
}

/// The ai-edge-litert wheel whose `libLiteRt.so` a runner ships with.
pub const LITERT_VERSION: &str = "2.3.0";

/// Downloads the ai-edge-litert wheel for `triple` (cached) and copies `libLiteRt.so` (and the GPU accelerator's
/// library) into `dir`, with a `libLiteRt.version` file: the C API has no version call.
pub fn ship_litert(fetcher: &Fetcher, triple: &str, dir: &Path) -> Result<PathBuf, BuildError> {
    // The ai-edge-litert wheels are tagged manylinux_2_27 (pip matches --platform tags exactly).
    let platform = match triple {
        "aarch64-unknown-linux-gnu" => Some("manylinux_2_27_aarch64"),
        "x86_64-unknown-linux-gnu" => Some("manylinux_2_27_x86_64"),
        _ => None,
    }
    .ok_or_else(|| {
        BuildError::Bench(Error::Unavailable(format!(
            "no ai-edge-litert wheel platform known for {triple}"
        )))
    })?;
    let fetch = |e: String| BuildError::Fetch(e);
    let wheel = fetcher
        .fetch_wheel("ai-edge-litert", LITERT_VERSION, platform)
        .map_err(|e| fetch(e.to_string()))?;
    let dest = dir.join("libLiteRt.so");
    edgebench_models::extract_to(&wheel, "ai_edge_litert/libLiteRt.so", &dest)
        .map_err(|e| fetch(e.to_string()))?;
    // The GPU accelerator is optional: a wheel without it still ships the CPU runtime.
    let gpu = "libLiteRtWebGpuAccelerator.so";
    let _ = edgebench_models::extract_to(&wheel, &format!("ai_edge_litert/{gpu}"), &dir.join(gpu));
    let version = dir.join("libLiteRt.version");
    edgebench_graph::write_atomic(&version, LITERT_VERSION.as_bytes())
        .map_err(|e| fetch(format!("{}: {e}", version.display())))?;
    Ok(dest)
}

/// The cargo feature that compiles a backend in (`tract-tflite` is part of `tract`, the LiteRT backends of
/// `litert`, a split backend of its parts').
fn features(backends: &[String]) -> Vec<String> {
    let mut f: Vec<String> = backends
        .iter()
        .flat_map(|b| b.split('+'))
        .map(|b| match b {
            "tract-tflite" => "tract",
            "litert-gpu" | "litert-ref" => "litert",
            other => other,
        })
        .map(str::to_string)
        .collect();
    f.sort();
    f.dedup();
    f
}

/// Why a runner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Bench(#[from] Error),
    /// The ONNX Runtime wheel could not be fetched or read.
    #[error("{0}")]
    Fetch(String),
}

/// Builds the runner of `target` in `workspace` (stderr of cargo goes to the terminal) and ships ONNX Runtime
/// beside it when the target uses it. `announce` is told the cargo command line before it runs.
pub fn runner(
    workspace: &Path,
    name: &str,
    target: &Target,
    fetcher: &Fetcher,
    announce: impl FnOnce(&str),
) -> Result<Built, BuildError> {
    let usage = |m: String| BuildError::Bench(Error::Usage(m));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace)
        .args(["build", "--release", "--locked", "-p", "edgebench"])
        .args(["--no-default-features", "--features"])
        .arg(features(&target.backends).join(","))
        .args(["--target", &target.triple]);
    announce(&format!("{cmd:?}").replace('"', ""));
    let status = cmd.status().map_err(|e| usage(format!("cargo: {e}")))?;
    if !status.success() {
        return Err(usage(format!(
            "cargo build for {} failed ({status})",
            target.triple
        )));
    }
    let dir = workspace
        .join("target")
        .join(&target.triple)
        .join("release");
    let runner = dir.join("edgebench");
    let bytes = std::fs::metadata(&runner)
        .map(|m| m.len())
        .map_err(|e| usage(format!("{}: {e}", runner.display())))?;
    let ort_library = if target.backends.iter().any(|b| b == "ort") {
        Some(ship_ort(fetcher, &target.triple, &dir)?)
    } else {
        None
    };
    let litert_library = if target.backends.iter().any(|b| b.starts_with("litert")) {
        Some(ship_litert(fetcher, &target.triple, &dir)?)
    } else {
        None
    };
    Ok(Built {
        target: name.into(),
        triple: target.triple.clone(),
        runner: runner.display().to_string(),
        bytes,
        backends: target.backends.clone(),
        ort_library: ort_library.map(|p| p.display().to_string()),
        litert_library: litert_library.map(|p| p.display().to_string()),
    })
}
