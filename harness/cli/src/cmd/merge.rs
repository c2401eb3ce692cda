//! `edgebench merge A.json B.json ... -o all.json`: joins the shards of one plan into one results file.

use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_report as report;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// results.json files of the shards.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The merged file (must not exist yet).
    #[arg(short, long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    if a.out.exists() {
        return Err(fail(
            USAGE,
            format!("{}: already exists; not overwriting it", a.out.display()),
        ));
    }
    let out_dir = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let out_dir = out_dir
        .canonicalize()
        .map_err(|e| fail(USAGE, format!("{}: {e}", out_dir.display())))?;
    let mut inputs = vec![];
    for p in &a.inputs {
        let r = report::load(p).map_err(|e| fail(BAD_MODEL, e))?;
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = dir
            .canonicalize()
            .map_err(|e| fail(USAGE, format!("{}: {e}", dir.display())))?;
        inputs.push((p.display().to_string(), r, dir));
    }
    let merged = report::merge(inputs, &out_dir).map_err(|e| fail(USAGE, e))?;
    let text = serde_json::to_string_pretty(&merged)?;
    report::write_atomic(&a.out, text.as_bytes()).map_err(|e| fail(USAGE, e))?;
    println!(
        "{} cells from {} shards -> {}",
        merged.cells.len(),
        merged.merged_from.len(),
        a.out.display()
    );
    Ok(())
}
