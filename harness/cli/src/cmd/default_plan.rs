//! The embedded default plan (`edgebench run` with no model): every generated fixture and every cached zoo model,
//! on every available backend. Each cell runs in its own child process (`edgebench run M --backend B --json
//! --save-outputs F`), so a crash or hang of one backend on one model is that cell's outcome, not the end of the
//! run. Outputs are saved by the cells and compared afterwards with the reference: ONNX Runtime where it ran the
//! model, else tract.

use super::cells::{IntoOutcome, Outcome, run_cell};
use super::{fetcher, manifest, print_json};
use anyhow::Result;
use edgebench_backend_api::{Availability, Entry, Registry};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::agreement::{ABS_TOL, REL_TOL};

/// The `inspect` facts of one model of the plan.
#[derive(Serialize, Debug)]
struct ModelFacts {
    model: String,
    origin: &'static str,
    nodes: usize,
    params: u64,
    macs: u64,
    /// Conv/Gemm/MatMul nodes whose shapes are unknown, so not in `macs`.
    macs_unknown_nodes: usize,
    error: Option<String>,
}

#[derive(Serialize, Debug)]
struct Cell {
    model: String,
    origin: &'static str,
    backend: String,
    #[serde(flatten)]
    outcome: Outcome,
    /// None for the reference itself, or when nothing could serve as reference.
    vs_reference: Option<edgebench_report::Agreement>,
}

#[derive(Serialize, Debug)]
struct Plan {
    backends: Vec<serde_json::Value>,
    uncached_zoo_models: Vec<String>,
    tolerance: (f64, f64),
    models: Vec<ModelFacts>,
    cells: Vec<Cell>,
}

pub fn run(
    registry: &Registry,
    ort_lib: Option<&Path>,
    seed: u64,
    timeout: u64,
    json: bool,
) -> Result<()> {
    let fetcher = fetcher();
    let manifest = manifest();
    let mut models: Vec<(String, &'static str)> = edgebench_graph::fixtures::NAMES
        .iter()
        .map(|n| (n.to_string(), "fixture"))
        .collect();
    let mut uncached = vec![];
    for z in &manifest.model {
        if fetcher.cached(z).is_some() {
            models.push((z.name.clone(), "zoo"));
        } else {
            uncached.push(z.name.clone());
        }
    }
    let mut backends = vec![];
    let mut usable = vec![];
    for e in registry.entries() {
        let (status, detail) = match e {
            Entry::NotCompiled { reason, .. } => ("not compiled in", reason.clone()),
            Entry::Compiled(b) => match b.availability() {
                Availability::Available { version, .. } => {
                    usable.push(b.name().to_string());
                    ("available", version)
                }
                Availability::Unavailable { reason } => ("unavailable", reason),
            },
        };
        if !json {
            println!("backend {:6} {status}: {detail}", e.name());
        }
        backends
            .push(serde_json::json!({ "backend": e.name(), "status": status, "detail": detail }));
    }
    if !json && !uncached.is_empty() {
        println!(
            "zoo models not cached (run `edgebench models fetch`): {}",
            uncached.join(", ")
        );
    }
    let exe = std::env::current_exe()?;
    let scratch = tempfile::tempdir()?;
    let mut cells = vec![];
    let mut facts = vec![];
    for (model, origin) in &models {
        let f = match super::inspect::analyse(model, &[], registry, true) {
            Ok(r) => ModelFacts {
                model: model.clone(),
                origin,
                nodes: r.summary.total_nodes,
                params: r.summary.total_params,
                macs: r.summary.flops.total_macs,
                macs_unknown_nodes: r.summary.flops.unknown_shape_nodes.len(),
                error: None,
            },
            Err(e) => ModelFacts {
                model: model.clone(),
                origin,
                nodes: 0,
                params: 0,
                macs: 0,
                macs_unknown_nodes: 0,
                error: Some(crate::exit::classify(&e).1),
            },
        };
        if !json {
            match &f.error {
                None => println!(
                    "{model} ({origin}): {} nodes, {} params, {}MAC{}",
                    f.nodes,
                    super::si(f.params as f64),
                    super::si(f.macs as f64),
                    if f.macs_unknown_nodes > 0 {
                        format!(" + {} nodes of unknown shape", f.macs_unknown_nodes)
                    } else {
                        String::new()
                    }
                ),
                Some(e) => println!("{model} ({origin}): {e}"),
            }
        }
        facts.push(f);
        let mut row: Vec<(Cell, Option<PathBuf>)> = vec![];
        for b in &usable {
            let out = scratch.path().join(format!("{model}.{b}.pb"));
            let mut cmd = Command::new(&exe);
            cmd.args([
                "run",
                model,
                "--backend",
                b,
                "--json",
                "--seed",
                &seed.to_string(),
                "--save-outputs",
            ])
            .arg(&out);
            if let Some(l) = ort_lib {
                cmd.arg("--ort-lib").arg(l);
            }
            let outcome = run_cell(cmd, timeout).into_json_outcome();
            let saved = matches!(outcome, Outcome::Ok { .. }).then_some(out);
            row.push((
                Cell {
                    model: model.clone(),
                    origin,
                    backend: b.clone(),
                    outcome,
                    vs_reference: None,
                },
                saved,
            ));
        }
        compare_row(&mut row);
        for (cell, _) in row {
            if !json {
                println!("  {}", line(&cell));
            }
            cells.push(cell);
        }
    }
    if json {
        return print_json(&Plan {
            backends,
            uncached_zoo_models: uncached,
            tolerance: (ABS_TOL, REL_TOL),
            models: facts,
            cells,
        });
    }
    let ok = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Ok { .. }))
        .count();
    let differ = cells
        .iter()
        .filter(|c| c.vs_reference.as_ref().is_some_and(|v| !v.agree))
        .count();
    println!(
        "{} cells: {ok} ran ({differ} disagree with their reference beyond abs {ABS_TOL:e} / rel {REL_TOL:e}), {} did not run",
        cells.len(),
        cells.len() - ok
    );
    Ok(())
}

/// Compares every cell that ran with the row's reference.
fn compare_row(row: &mut [(Cell, Option<PathBuf>)]) {
    let saved: Vec<(String, bool, Option<PathBuf>)> = row
        .iter()
        .map(|(c, p)| (c.backend.clone(), true, p.clone()))
        .collect();
    for ((cell, _), ag) in row.iter_mut().zip(super::agreement::row(&saved)) {
        cell.vs_reference = ag;
    }
}

fn line(c: &Cell) -> String {
    let what = match (&c.outcome, &c.vs_reference) {
        (Outcome::Ok { .. }, None) => "ok".to_string(),
        (Outcome::Ok { .. }, Some(v)) => match &v.error {
            Some(e) => format!("ok, not comparable with {}: {e}", v.reference),
            None => format!(
                "ok, {} {} (max abs err {:.2e}, max rel err {:.2e}, min cosine {:.6})",
                if v.agree {
                    "agrees with"
                } else {
                    "DIFFERS from"
                },
                v.reference,
                v.max_abs_error,
                v.max_rel_error,
                v.min_cosine
            ),
        },
        (Outcome::Failed { exit_code, message }, _) => {
            format!("failed (exit {exit_code}): {message}")
        }
        (Outcome::Crashed { signal, message }, _) => {
            format!(
                "crashed (signal {}): {message}",
                signal.map(|s| s.to_string()).unwrap_or("?".into())
            )
        }
        (Outcome::Timeout { seconds }, _) => format!("timeout after {seconds} s"),
    };
    format!("{:<6} {what}", c.backend)
}
