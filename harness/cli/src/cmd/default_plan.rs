//! The embedded default plan (`edgebench run` with no model): every generated fixture and every cached zoo model,
//! on every available backend, each cell in its own child process (`edgebench run M --backend B --json`), so a
//! crash or hang of one backend on one model is that cell's outcome, not the end of the run.

use super::{fetcher, manifest, print_json};
use crate::registry::REFERENCE;
use anyhow::Result;
use edgebench_backend_api::{Availability, Entry, Registry};
use serde::Serialize;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// Outputs agree with the reference when, per output, max abs error <= ABS_TOL or max rel error <= REL_TOL.
pub const ABS_TOL: f64 = 1e-4;
pub const REL_TOL: f64 = 1e-3;

#[derive(Serialize, Debug)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Outcome {
    /// Ran; `agree` is None for the reference itself or when the reference could not run.
    Ok { agree: Option<bool>, worst_abs_error: Option<f64>, worst_rel_error: Option<f64>, min_cosine: Option<f64>, report: serde_json::Value },
    Failed { exit_code: i32, message: String },
    Crashed { signal: Option<i32>, message: String },
    Timeout { seconds: u64 },
}

#[derive(Serialize, Debug)]
struct Cell {
    model: String,
    origin: &'static str,
    backend: String,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Serialize, Debug)]
struct Plan {
    backends: Vec<serde_json::Value>,
    cells: Vec<Cell>,
    tolerance: (f64, f64),
}

pub fn run(registry: &Registry, ort_lib: Option<&std::path::Path>, seed: u64, timeout: u64, json: bool) -> Result<()> {
    let fetcher = fetcher();
    let manifest = manifest();
    let mut models: Vec<(String, &'static str)> =
        edgebench_graph::fixtures::NAMES.iter().map(|n| (n.to_string(), "fixture")).collect();
    let mut uncached = vec![];
    for z in &manifest.model {
        if fetcher.cached(z).is_some() {
            models.push((z.name.clone(), "zoo"));
        } else {
            uncached.push(z.name.as_str());
        }
    }
    let mut backends = vec![];
    let mut usable = vec![];
    for e in registry.entries() {
        let (status, reason) = match e {
            Entry::NotCompiled { reason, .. } => ("not compiled in", reason.clone()),
            Entry::Compiled(b) => match b.availability() {
                Availability::Available { version, .. } => {
                    usable.push(b.name().to_string());
                    ("available", version)
                }
                Availability::Unavailable { reason } => ("unavailable", reason),
            },
        };
        backends.push(serde_json::json!({ "backend": e.name(), "status": status, "detail": reason }));
        if !json {
            eprintln!("backend {:6} {status}: {reason}", e.name());
        }
    }
    if !json && !uncached.is_empty() {
        eprintln!("zoo models not cached (run `edgebench models fetch`): {}", uncached.join(", "));
    }
    let exe = std::env::current_exe()?;
    let reference_ok = usable.iter().any(|b| b == REFERENCE);
    let mut cells = vec![];
    for (model, origin) in &models {
        for b in &usable {
            let mut cmd = Command::new(&exe);
            cmd.args(["run", model, "--backend", b, "--json", "--seed", &seed.to_string()]);
            if b != REFERENCE && reference_ok {
                cmd.args(["--compare", REFERENCE]);
            }
            if let Some(l) = ort_lib {
                cmd.arg("--ort-lib").arg(l);
            }
            let outcome = run_cell(cmd, timeout);
            if !json {
                println!("{}", line(model, origin, b, &outcome));
            }
            cells.push(Cell { model: model.clone(), origin, backend: b.clone(), outcome });
        }
    }
    if json {
        return print_json(&Plan { backends, cells, tolerance: (ABS_TOL, REL_TOL) });
    }
    let ok = cells.iter().filter(|c| matches!(c.outcome, Outcome::Ok { .. })).count();
    println!("{} cells: {ok} ran, {} did not", cells.len(), cells.len() - ok);
    Ok(())
}

fn run_cell(mut cmd: Command, timeout: u64) -> Outcome {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed { exit_code: -1, message: format!("could not start: {e}") },
    };
    // Drain both pipes on threads so a chatty child cannot block on a full pipe while we wait.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = match child.wait_timeout(Duration::from_secs(timeout)) {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Outcome::Timeout { seconds: timeout };
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
    if status.success() {
        return match serde_json::from_str::<serde_json::Value>(&stdout) {
            Ok(report) => agreement(report),
            Err(e) => Outcome::Failed { exit_code: 0, message: format!("unreadable report: {e}") },
        };
    }
    match status.code() {
        Some(code) => Outcome::Failed { exit_code: code, message: last.trim_start_matches("edgebench: error: ").to_string() },
        None => {
            #[cfg(unix)]
            let signal = std::os::unix::process::ExitStatusExt::signal(&status);
            #[cfg(not(unix))]
            let signal = None;
            Outcome::Crashed { signal, message: last }
        }
    }
}

fn agreement(report: serde_json::Value) -> Outcome {
    let Some(outputs) = report.get("compare").and_then(|c| c.get("outputs")).and_then(|o| o.as_array()).cloned() else {
        return Outcome::Ok { agree: None, worst_abs_error: None, worst_rel_error: None, min_cosine: None, report };
    };
    let mut agree = true;
    let (mut wa, mut wr, mut mc) = (0f64, 0f64, 1f64);
    for o in &outputs {
        // serde_json writes non-finite numbers as null: treat them as infinitely wrong.
        let get = |k: &str| o.get(k).and_then(|v| v.as_f64());
        if o.get("error").is_some_and(|e| !e.is_null()) {
            agree = false;
            wa = f64::INFINITY;
            continue;
        }
        let a = get("max_abs_error").unwrap_or(f64::INFINITY);
        let r = get("max_rel_error").unwrap_or(f64::INFINITY);
        let c = get("cosine_similarity").unwrap_or(f64::NAN);
        agree &= a <= ABS_TOL || r <= REL_TOL;
        wa = wa.max(a);
        wr = wr.max(r);
        mc = mc.min(c);
    }
    Outcome::Ok { agree: Some(agree), worst_abs_error: Some(wa), worst_rel_error: Some(wr), min_cosine: Some(mc), report }
}

fn line(model: &str, origin: &str, backend: &str, o: &Outcome) -> String {
    let what = match o {
        Outcome::Ok { agree: None, .. } => "ok".to_string(),
        Outcome::Ok { agree: Some(a), worst_abs_error: Some(wa), worst_rel_error: Some(wr), min_cosine: Some(c), .. } => format!(
            "ok, {} {REFERENCE} (max abs err {wa:.2e}, max rel err {wr:.2e}, min cosine {c:.6})",
            if *a { "agrees with" } else { "DIFFERS from" }
        ),
        Outcome::Ok { .. } => "ok".to_string(),
        Outcome::Failed { exit_code, message } => format!("failed (exit {exit_code}): {message}"),
        Outcome::Crashed { signal, message } => format!("crashed (signal {}): {message}", signal.map(|s| s.to_string()).unwrap_or("?".into())),
        Outcome::Timeout { seconds } => format!("timeout after {seconds} s"),
    };
    format!("{:<22} {:<8} {:<6} {what}", model, origin, backend)
}
