//! `edgebench build --target T`: the runner binary for a target of targets.toml, with the backends that target
//! lists, cross-compiled when needed, ONNX Runtime's library for that platform beside it (`edgebench_bench::build`).

use super::{fetcher, print_json};
use crate::exit::{FETCH_FAILED, USAGE, fail};
use anyhow::Result;
use edgebench_bench::build::{self, BuildError};
use std::path::{Path, PathBuf};

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

/// The workspace this binary was built from, if it is still there.
fn workspace() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .parent()?
        .to_path_buf();
    root.join("Cargo.toml").is_file().then_some(root)
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
    let built = build::runner(&root, &a.target, &target, &fetcher(), |c| {
        eprintln!("edgebench: {c}")
    })
    .map_err(|e| match e {
        BuildError::Bench(b) => anyhow::Error::new(b),
        BuildError::Fetch(m) => fail(FETCH_FAILED, m),
    })?;
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
    if let Some(l) = &built.litert_library {
        println!("litert   {l}");
    }
    Ok(())
}
