//! The document `check` prints (`--json`, format 3: docs/check-json.md) and the matrix reads.

use edgebench_bench::prediction::{PlacementCheck, Verification, VerifySummary};
use edgebench_compat::{ModelCheck, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, Debug)]
pub(in crate::cmd::check) struct Cell {
    #[serde(flatten)]
    pub(in crate::cmd::check) check: ModelCheck,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) verify: Option<Verification>,
    /// The model does not run as it is, but is predicted to after `edgebench rewrite` (rules applied in memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) after_rewrites: Option<AfterRewrites>,
    /// Backends with an accelerator (litert: XNNPACK): which nodes it is predicted to take; `--verify`: what a run
    /// showed. A wrong placement is a wrong prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) placement: Option<PlacementCheck>,
}

/// The `runs after rewrites` prediction of a cell.
#[derive(Serialize, Debug)]
pub(in crate::cmd::check) struct AfterRewrites {
    pub(in crate::cmd::check) verdict: Verdict,
    pub(in crate::cmd::check) rules: Vec<&'static str>,
    /// `--verify`: the rewritten model run on the backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) verification: Option<Verification>,
}

#[derive(Serialize, Debug)]
pub(in crate::cmd::check) struct ModelReport {
    pub(in crate::cmd::check) model: String,
    pub(in crate::cmd::check) path: String,
    /// `--verify` only: the feed discovery's outcome, when the model has a symbolic dim nobody gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) discovered: Option<edgebench_bench::discover::Discovery>,
    pub(in crate::cmd::check) backends: Vec<Cell>,
}

#[derive(Serialize, Debug)]
pub(in crate::cmd::check) struct Document {
    pub(in crate::cmd::check) format_version: u32,
    /// Backend -> table version used.
    pub(in crate::cmd::check) tables: BTreeMap<String, String>,
    pub(in crate::cmd::check) models: Vec<ModelReport>,
    /// Every model runs on every backend.
    pub(in crate::cmd::check) all_run: bool,
    /// `--verify` only: no verified prediction was wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) predictions_held: Option<bool>,
    /// `--verify` only: cells verified (held / wrong) and not verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(in crate::cmd::check) verify_summary: Option<VerifySummary>,
}
