//! Scoring a prediction against a run: `check --verify`'s cells. A run that could not be made (no feed, a feed that
//! does not fit) or failed for a reason that is not the backend's is *not verified*, never a wrong prediction.

use crate::cell::{self, Finished};
use edgebench_report::Outcome;
use serde::Serialize;
use std::path::Path;

/// Whether a prediction held: verified (held or wrong), or not verified and why.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "verification", rename_all = "kebab-case")]
pub enum Verification {
    /// Verified, the prediction held.
    Agree { ran: bool },
    /// Verified, wrong: predicted to run, but the backend failed (its message).
    PredictedRunsButFailed { error: String },
    /// Verified, wrong: predicted not to run (fully), but it ran.
    PredictedFailsButRan,
    /// The table made no prediction (some node's op is not in it): the run says what happened. `probe --observe`
    /// records it in the table.
    Unknown {
        ran: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Verified, wrong: the model ran, but the accelerator took other nodes than the placement layer predicted.
    WrongPlacement { detail: String },
    /// The prediction was not tested: the harness could not make a feed, or could not run the backend at all.
    NotVerified { reason: NotVerified, detail: String },
}

/// Why a cell was not verified.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum NotVerified {
    /// A symbolic dim no rule defaults; give `--dim` or `--feed`.
    NoFeed,
    /// The given feed does not fit the model (name, dtype, shape, memory budget).
    FeedDoesNotFit,
    /// The run failed for a reason that is not the backend's (usage, unavailable, internal).
    HarnessError,
}

impl Verification {
    /// Verified and wrong.
    pub fn wrong(&self) -> bool {
        matches!(
            self,
            Verification::PredictedRunsButFailed { .. }
                | Verification::PredictedFailsButRan
                | Verification::WrongPlacement { .. }
        )
    }
}

/// `check --verify`'s count of cells.
#[derive(Serialize, Debug, Default)]
pub struct VerifySummary {
    pub cells: usize,
    pub verified: usize,
    pub held: usize,
    pub wrong: usize,
    /// Cells the table made no prediction for (an op it does not list), run to learn the answer.
    #[serde(default)]
    pub unknown: usize,
    pub not_verified: usize,
}

impl VerifySummary {
    /// Counts cells by class.
    pub fn of<'a>(cells: impl Iterator<Item = &'a Verification>) -> VerifySummary {
        let mut s = VerifySummary::default();
        for v in cells {
            s.cells += 1;
            match v {
                Verification::Agree { .. } => s.held += 1,
                Verification::NotVerified { .. } => s.not_verified += 1,
                Verification::Unknown { .. } => s.unknown += 1,
                _ => s.wrong += 1,
            }
        }
        s.verified = s.held + s.wrong;
        s
    }
}

/// Scores a finished run (a child that exits 0 on success and `backend_failed` when the backend could not load or
/// run the model) against the prediction `predicted_runs` (`None`: the table made none).
pub fn score(finished: Finished, predicted_runs: Option<bool>, backend_failed: u8) -> Verification {
    let not = |reason, detail: String| Verification::NotVerified { reason, detail };
    let ran = match finished.report::<serde_json::Value>() {
        Ok(_) => Ok(()),
        Err(Outcome::Failed { exit_code, message }) if exit_code != i32::from(backend_failed) => {
            return not(
                NotVerified::HarnessError,
                format!("exit {exit_code}: {message}"),
            );
        }
        Err(Outcome::Interrupted) => {
            return not(NotVerified::HarnessError, "interrupted".into());
        }
        Err(Outcome::Failed { message, .. }) => Err(message),
        Err(o) => Err(cell::describe(&o)),
    };
    match (predicted_runs, ran) {
        (None, r) => Verification::Unknown {
            ran: r.is_ok(),
            error: r.err(),
        },
        (Some(true), Ok(())) => Verification::Agree { ran: true },
        (Some(false), Err(_)) => Verification::Agree { ran: false },
        (Some(true), Err(error)) => Verification::PredictedRunsButFailed { error },
        (Some(false), Ok(())) => Verification::PredictedFailsButRan,
    }
}

/// `check --verify`'s placement layer: which nodes the accelerator was predicted to take, against what the
/// backend's profiler saw in a run of its own.
#[derive(Serialize, Debug, Clone)]
pub struct PlacementCheck {
    pub predicted: edgebench_compat::placement::PlacementPrediction,
    /// `--verify`: what the run showed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<edgebench_backend_api::ObservedPlacement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Nodes that ran elsewhere than predicted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub misplaced: Vec<Misplaced>,
}

/// A node the accelerator took though predicted not to, or left though predicted to take it.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Misplaced {
    pub node: String,
    pub predicted: &'static str,
    pub observed: &'static str,
}

/// Runs the model with `run --placement` in a child and compares the observed placement with `predicted`. Node
/// sets decide; partition counts are reported side by side.
pub fn verify_placement(
    path: &Path,
    feed: &Result<Vec<String>, (NotVerified, String)>,
    backend: &str,
    model: &edgebench_graph::Model,
    predicted: edgebench_compat::placement::PlacementPrediction,
    runs: &Runs,
) -> PlacementCheck {
    let mut check = PlacementCheck {
        predicted,
        observed: None,
        verification: None,
        misplaced: vec![],
    };
    let not = |reason, detail: String| Some(Verification::NotVerified { reason, detail });
    let feed = match feed {
        Ok(f) => f,
        Err((reason, detail)) => {
            check.verification = not(*reason, detail.clone());
            return check;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            check.verification = not(NotVerified::HarnessError, e.to_string());
            return check;
        }
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("run")
        .arg(path)
        .args(["--backend", backend, "--json", "--cell", "--placement"]);
    for f in feed {
        cmd.args(["--feed", f]);
    }
    if let Some(b) = runs.memory_limit {
        cmd.args(["--address-space", &b.to_string()]);
    }
    let observed = match cell::spawn(cmd, runs.timeout).report::<serde_json::Value>() {
        Ok(v) => serde_json::from_value::<edgebench_backend_api::ObservedPlacement>(
            v["placement"].clone(),
        )
        .map_err(|e| format!("no placement in the run's report: {e}")),
        Err(Outcome::Failed { message, .. }) => Err(message),
        Err(o) => Err(cell::describe(&o)),
    };
    let observed = match observed {
        Ok(o) => o,
        Err(detail) => {
            check.verification = not(NotVerified::HarnessError, detail);
            return check;
        }
    };
    let name = |i: usize| {
        model
            .graph
            .nodes
            .get(i)
            .map_or_else(|| format!("#{i}"), |n| n.name.clone())
    };
    for i in 0..model.graph.nodes.len() {
        let p = check.predicted.on_cpu_kernels.contains(&i);
        let o = observed.on_cpu_kernels.contains(&i);
        if p != o {
            let side = |cpu: bool| {
                if cpu {
                    "runtime kernels"
                } else {
                    "accelerator"
                }
            };
            check.misplaced.push(Misplaced {
                node: name(i),
                predicted: side(p),
                observed: side(o),
            });
        }
    }
    check.verification = Some(if check.misplaced.is_empty() {
        Verification::Agree { ran: true }
    } else {
        let shown: Vec<String> = check
            .misplaced
            .iter()
            .take(5)
            .map(|m| format!("{} ({} -> {})", m.node, m.predicted, m.observed))
            .collect();
        Verification::WrongPlacement {
            detail: format!(
                "{} node(s) placed otherwise than predicted: {}{}",
                check.misplaced.len(),
                shown.join(", "),
                if check.misplaced.len() > 5 {
                    ", ..."
                } else {
                    ""
                }
            ),
        }
    });
    check.observed = Some(observed);
    check
}

/// The placement layer of a cell, when the table has one: the prediction, verified by a run when `verify` gives
/// the model file, its feed, the backend and how to run (only for a model that ran as predicted: a failed run
/// places nothing).
pub fn placement_layer(
    model: &edgebench_graph::Model,
    table: &edgebench_compat::SupportTable,
    verify: Option<(
        &Path,
        &Result<Vec<String>, (NotVerified, String)>,
        &str,
        &Runs,
    )>,
) -> Option<PlacementCheck> {
    let predicted = edgebench_compat::placement::predict(model, table)?;
    Some(match verify {
        Some((path, feed, backend, runs)) => {
            verify_placement(path, feed, backend, model, predicted, runs)
        }
        None => PlacementCheck {
            predicted,
            observed: None,
            verification: None,
            misplaced: vec![],
        },
    })
}

/// How `--verify` runs its cells.
pub struct Runs<'a> {
    pub timeout: u64,
    pub memory_limit: Option<u64>,
    pub ort_lib: Option<&'a Path>,
    /// The exit code of a child whose backend could not load or run the model.
    pub backend_failed: u8,
}

/// Runs one cell in a child (`edgebench run` with the feed spelled out) and scores the prediction. A feed that
/// cannot be made, or a run that fails for a reason other than the backend's, is "not verified", never "wrong".
pub fn verify(
    path: &Path,
    feed: &Result<Vec<String>, (NotVerified, String)>,
    backend: &str,
    predicted_runs: Option<bool>,
    runs: &Runs,
) -> Verification {
    let not = |reason, detail: String| Verification::NotVerified { reason, detail };
    let feed = match feed {
        Ok(f) => f,
        Err((reason, detail)) => return not(*reason, detail.clone()),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return not(NotVerified::HarnessError, e.to_string()),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("run")
        .arg(path)
        .args(["--backend", backend, "--json", "--cell"]);
    for f in feed {
        cmd.args(["--feed", f]);
    }
    if let Some(b) = runs.memory_limit {
        cmd.args(["--address-space", &b.to_string()]);
    }
    if let Some(l) = runs.ort_lib {
        cmd.arg("--ort-lib").arg(l);
    }
    score(
        cell::spawn(cmd, runs.timeout),
        predicted_runs,
        runs.backend_failed,
    )
}

/// The feed of `verify` from a fitted (or discovered) feed: its specs spelled out, or why there is none.
pub fn feed_of(
    fitted: &Result<edgebench_models::fit::Fitted, edgebench_models::fit::FitError>,
) -> Result<Vec<String>, (NotVerified, String)> {
    use edgebench_models::fit::FitError;
    match fitted {
        Ok(f) => Ok(f.specs.iter().map(|s| s.to_string()).collect()),
        Err(FitError::NeedsFeed(m)) => Err((NotVerified::NoFeed, m.clone())),
        Err(FitError::Bad(b)) => Err((NotVerified::FeedDoesNotFit, b.to_string())),
    }
}
