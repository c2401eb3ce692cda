//! `probe --observe MODEL`: what running a real model says about the ops a backend's table does not list. A model
//! that runs proves every unknown op in it runs (recorded as `supported = true`, `source = "observed"`); a model that
//! fails proves something only when exactly one op in it is unknown and no node is known to be blocked (recorded
//! as `supported = false` with the backend's message). Anything else is reported and not recorded.

use crate::prediction::Verification;
use edgebench_compat::{Constraint, ModelCheck, Source, SupportTable};
use serde::Serialize;
use std::collections::BTreeSet;

/// The unknown `(domain, op)`s of a check, sorted.
pub fn unknown_ops(c: &ModelCheck) -> Vec<(String, String)> {
    let set: BTreeSet<(String, String)> = c
        .unknown
        .iter()
        .map(|u| (u.domain.clone(), u.op.clone()))
        .collect();
    set.into_iter().collect()
}

/// What one model taught about the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "learned", rename_all = "kebab-case")]
pub enum Learned {
    /// Every op of the model is in the table: nothing to learn.
    NothingUnknown,
    /// The model ran: each unknown op runs.
    Runs { ops: Vec<String> },
    /// The model failed and one op was unknown: it does not run (the backend's message).
    Fails { op: String, error: String },
    /// The run failed, but the failure cannot be pinned on one op.
    CannotTell { ops: Vec<String>, why: String },
    /// The model was not run (no feed, harness error): nothing learned.
    NotRun { why: String },
}

fn spell((d, op): &(String, String)) -> String {
    if d == "ai.onnx" {
        op.clone()
    } else {
        format!("{d}::{op}")
    }
}

/// Decides what a run (`verification` of a cell the table made no prediction for) teaches.
pub fn learn(c: &ModelCheck, verification: &Verification) -> Learned {
    let ops = unknown_ops(c);
    if ops.is_empty() {
        return Learned::NothingUnknown;
    }
    let names: Vec<String> = ops.iter().map(spell).collect();
    match verification {
        Verification::Unknown { ran: true, .. } | Verification::PredictedFailsButRan => {
            Learned::Runs { ops: names }
        }
        Verification::Unknown { ran: false, error } => {
            let error = error.clone().unwrap_or_default();
            if !c.blocking.is_empty() {
                Learned::CannotTell {
                    ops: names,
                    why: format!(
                        "{} node(s) are known to be blocked as well: {error}",
                        c.blocking.len()
                    ),
                }
            } else if names.len() > 1 {
                Learned::CannotTell {
                    ops: names,
                    why: format!("{} ops are unknown: {error}", ops.len()),
                }
            } else {
                Learned::Fails {
                    op: names[0].clone(),
                    error,
                }
            }
        }
        Verification::NotVerified { reason, detail } => Learned::NotRun {
            why: format!("{reason:?}: {detail}"),
        },
        Verification::Agree { .. }
        | Verification::PredictedRunsButFailed { .. }
        | Verification::WrongPlacement { .. } => Learned::CannotTell {
            ops: names,
            why: "the model has known-blocked nodes; its failure says nothing of the unknown ops"
                .into(),
        },
    }
}

/// Adds the constraints `learned` proves to `table` (an op already constrained by an observation of the same
/// kind is left alone); returns how many were added. `model` names the evidence, `when` its date.
pub fn record(
    table: &mut SupportTable,
    c: &ModelCheck,
    learned: &Learned,
    model: &str,
    when: &str,
) -> usize {
    let ops = unknown_ops(c);
    let version = table.header.version.clone();
    let (targets, supported, why): (Vec<&(String, String)>, bool, String) = match learned {
        Learned::Runs { .. } => (ops.iter().collect(), true, "ran".to_string()),
        Learned::Fails { error, .. } => (ops.iter().collect(), false, format!("failed: {error}")),
        _ => return 0,
    };
    let mut added = 0;
    for (domain, op) in targets {
        let already = table
            .constraint
            .iter()
            .any(|k| &k.domain == domain && &k.op == op && k.supported == Some(supported));
        if already {
            continue;
        }
        let opsets = c
            .unknown
            .iter()
            .filter(|u| &u.domain == domain && &u.op == op)
            .count();
        table.constraint.push(Constraint {
            domain: domain.clone(),
            op: op.clone(),
            except: vec![],
            source: Source::Observed,
            supported: Some(supported),
            attr: None,
            allowed: vec![],
            default: None,
            allowed_strings: vec![],
            min_opset: None,
            max_opset: None,
            max_rank: None,
            branch_ranks_agree: None,
            last_dim_divisible_by: None,
            unsupported_dtypes: vec![],
            note: format!(
                "observed by `edgebench probe --observe` on {model} ({opsets} node(s)) with {} {version}, {when}: {why}",
                table.header.backend
            ),
        });
        added += 1;
    }
    added
}
