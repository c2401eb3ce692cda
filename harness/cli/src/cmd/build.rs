//! `edgebench build --target T`: the runner binary for a target of targets.toml, with the backends that target
//! lists, cross-compiled when its triple is not this machine's (`.cargo/config.toml` sets the aarch64 linker).
//! For ONNX Runtime the library of the `onnxruntime` wheel for that platform is put next to the runner, where the
//! runner's `ort` backend looks for it.

use super::{fetcher, print_json};
use crate::exit::{FETCH_FAILED, UNAVAILABLE, USAGE, fail};
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

use edgebench_bench::ORT_VERSION;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Target from targets.toml.
    #[arg(long)]
    target: String,
    /// The targets file (default: ./targets.toml if present, else the one built in).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Built {
    target: String,
    triple: String,
    runner: String,
    bytes: u64,
    backends: Vec<String>,
    ort_library: Option<String>,
}

/// The workspace this binary was built from, if it is still there.
fn workspace() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .parent()?
        .to_path_buf();
    root.join("Cargo.toml").is_file().then_some(root)
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
fn ship_ort(triple: &str, dir: &Path) -> Result<PathBuf> {
    let platform = wheel_platform(triple).ok_or_else(|| {
        fail(
            UNAVAILABLE,
            format!("no onnxruntime wheel platform known for {triple}"),
        )
    })?;
    let wheel = fetcher()
        .fetch_wheel("onnxruntime", ORT_VERSION, platform)
        .map_err(|e| fail(FETCH_FAILED, e))?;
    let dest = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    edgebench_models::extract_to(
        &wheel,
        &format!("onnxruntime/capi/libonnxruntime.so.{ORT_VERSION}"),
        &dest,
    )
    .map_err(|e| fail(FETCH_FAILED, e))?;
    Ok(dest)
}

pub fn run(a: Args) -> Result<()> {
    let (target, warnings) = edgebench_bench::targets::find(&a.target, a.targets.as_deref())?;
    for w in warnings {
        eprintln!("edgebench: warning: {w}");
    }
    let root = workspace().ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "`edgebench build` needs the edgebench source tree ({} is gone)",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
    })?;
    let features: Vec<&str> = target.backends.iter().map(String::as_str).collect();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "edgebench",
            "--no-default-features",
            "--features",
        ])
        .arg(features.join(","))
        .args(["--target", &target.triple]);
    eprintln!("edgebench: {}", format!("{cmd:?}").replace('"', ""));
    let status = cmd
        .status()
        .map_err(|e| fail(USAGE, format!("cargo: {e}")))?;
    if !status.success() {
        return Err(fail(
            USAGE,
            format!("cargo build for {} failed ({status})", target.triple),
        ));
    }
    let dir = root.join("target").join(&target.triple).join("release");
    let runner = dir.join("edgebench");
    let bytes = std::fs::metadata(&runner)
        .map(|m| m.len())
        .map_err(|e| fail(USAGE, format!("{}: {e}", runner.display())))?;
    let ort_library = if target.backends.iter().any(|b| b == "ort") {
        Some(ship_ort(&target.triple, &dir)?)
    } else {
        None
    };
    let built = Built {
        target: a.target.clone(),
        triple: target.triple.clone(),
        runner: runner.display().to_string(),
        bytes,
        backends: target.backends.clone(),
        ort_library: ort_library.map(|p| p.display().to_string()),
    };
    if a.json {
        return print_json(&built);
    }
    println!(
        "runner   {} ({}, {})",
        built.runner,
        super::bytes(built.bytes),
        built.triple
    );
    println!("backends {}", built.backends.join(", "));
    if let Some(l) = &built.ort_library {
        println!("ort lib  {l}");
    }
    Ok(())
}
