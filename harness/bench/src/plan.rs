//! A plan: targets x backends x models x variants. Every cell has a stable key; the plan has an identity that is the
//! same for every shard of it and across resumes, and different for anything that changes what is measured.

use crate::runner::Runner;
use edgebench_measure::targets::Target;
use edgebench_report::{Partition, Settings, fnv1a};
use std::path::PathBuf;

/// The variants a plan may hold. fp32 is the baseline every other variant is compared with.
pub const VARIANTS: &[&str] = &[
    "fp32",
    "fp16",
    "fp16-weights",
    "int8-dynamic",
    "int8-static",
];

/// A model of the plan, resolved: its file and the feed spelled out, so any runner's child can run it.
#[derive(Clone, Debug)]
pub struct PlanModel {
    /// What the user typed, or the zoo/fixture name.
    pub name: String,
    pub path: PathBuf,
    /// `NAME=DTYPE[SHAPE]` per runtime input.
    pub feed: Vec<String>,
    /// How symbolic dims were defaulted (recorded in results.json).
    pub notes: Vec<String>,
    /// FLOPs of one inference from the model's shapes (0 = unknown), for the roofline.
    pub flops: u64,
    /// The file of each variant other than fp32, made before the run (`edgebench_bench::variants`).
    pub variants: std::collections::BTreeMap<String, PathBuf>,
    /// Per backend whose table predicts the fp32 model to run only after rewrites: the verified rewrite made for
    /// it (`edgebench_bench::prepare::rewrites`); its fp32 cell runs the rewritten file when `used`.
    pub rewrites: std::collections::BTreeMap<String, edgebench_report::RewriteRecord>,
}

impl PlanModel {
    /// The file a cell of `variant` on `backend` runs: the variant's file, or for fp32 the verified rewrite made
    /// for that backend, else the model itself.
    pub fn file(&self, variant: &str, backend: &str) -> &std::path::Path {
        if let Some(p) = self.variants.get(variant) {
            return p;
        }
        match self.rewrites.get(backend) {
            Some(r) if variant == "fp32" && r.used => r
                .file
                .as_deref()
                .map(std::path::Path::new)
                .unwrap_or(&self.path),
            _ => &self.path,
        }
    }

    /// Every file a cell of this model may run (what a remote runner copies).
    pub fn files(&self) -> Vec<&std::path::Path> {
        let mut out = vec![self.path.as_path()];
        out.extend(self.variants.values().map(|p| p.as_path()));
        out.extend(
            self.rewrites
                .values()
                .filter(|r| r.used)
                .filter_map(|r| r.file.as_deref().map(std::path::Path::new)),
        );
        out
    }
}

/// A target of the plan and the runner that reaches it.
pub struct Site {
    pub name: String,
    pub target: Target,
    pub runner: Box<dyn Runner>,
}

/// The identity of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CellKey {
    pub target: String,
    pub backend: String,
    pub model: String,
    pub variant: String,
}

impl CellKey {
    /// The key of a recorded cell.
    pub fn of(c: &edgebench_report::Cell) -> CellKey {
        CellKey {
            target: c.target.clone(),
            backend: c.backend.clone(),
            model: c.model.clone(),
            variant: c.variant.clone(),
        }
    }

    /// `target/backend/model/variant`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.target, self.backend, self.model, self.variant
        )
    }
}

/// Side b of an interleaved session (`bench --ab`): what differs from side a (this binary, as is).
#[derive(Clone, Debug, Default)]
pub struct AbSide {
    /// Another edgebench build whose `bench-cell` measures side b.
    pub exe: Option<PathBuf>,
    /// Environment variables of side b's children (`KEY`, `VALUE`).
    pub env: Vec<(String, String)>,
    /// Another file for side b's cells of the plan's one model (fp32 cells), e.g. the pull request's version.
    pub model: Option<PathBuf>,
    /// Length of one turn, milliseconds.
    pub turn_ms: f64,
    /// A cell stops as soon as its interval decides it at this threshold (beyond it, or within it), the test
    /// `edgebench gate --threshold` applies; `None`: only --ci and --max-time stop it.
    pub threshold: Option<f64>,
    /// Cells the session flags (regressed, accuracy regressed) are measured again in a confirmation session of
    /// fresh children (`bench --ab --confirm`); the gate then fails only on confirmed verdicts.
    pub confirm: bool,
}

/// What to run and how.
pub struct Plan {
    pub sites: Vec<Site>,
    /// `(site index, backend)` pairs asked for; those not available at a site are reported and left out.
    pub requested: Vec<(usize, String)>,
    pub models: Vec<PlanModel>,
    pub variants: Vec<String>,
    /// How each non-fp32 variant of each model was made (recorded in results.json, used for the deltas).
    pub variant_records: Vec<edgebench_report::VariantRecord>,
    /// The support tables' prediction per model x backend (recorded in results.json for the report).
    pub compat: Vec<edgebench_report::CompatRecord>,
    pub settings: Settings,
    /// The `--feed` flags as given (part of the plan's identity).
    pub feed_flags: Vec<String>,
    /// Interleaved session: each cell runs as two children taking turns, a (as is) and b (changed).
    pub ab: Option<AbSide>,
    pub partition: Option<Partition>,
}

impl Plan {
    /// The plan's identity: the same for every shard of it and across resumes. Availability is not part of it: a
    /// board that was unreachable may be back.
    pub fn id(&self) -> String {
        let s = &self.settings;
        let mut key = serde_json::json!({
            "models": self.models.iter().map(|m| &m.name).collect::<Vec<_>>(),
            "cells": self.requested.iter().map(|(si, b)| format!("{}/{b}", self.sites[*si].name)).collect::<Vec<_>>(),
            "seed": s.seed, "ci": s.target_rel_ci, "max_time": s.max_time_s, "warmup": s.warmup_s,
            "feed": self.feed_flags, "partitions": self.partition.map(|p| p.count),
        });
        if s.processes > 1 {
            key["processes"] = serde_json::json!(s.processes);
        }
        if let Some(t) = s.threads {
            key["threads"] = serde_json::json!(t);
        }
        if self.variants != ["fp32"] {
            key["variants"] = serde_json::json!(self.variants);
        }
        format!("{:016x}", fnv1a(key.to_string().as_bytes()))
    }

    /// Whether a cell belongs to this run's shard.
    pub fn in_shard(&self, k: &CellKey) -> bool {
        self.partition
            .is_none_or(|p| p.contains(&k.target, &k.backend, &k.model, &k.variant))
    }
}

/// Checks variant names against [`VARIANTS`]; fp32 is always first and present.
pub fn variants(asked: &[String]) -> Result<Vec<String>, crate::Error> {
    let mut out = vec!["fp32".to_string()];
    for v in asked {
        if !VARIANTS.contains(&v.as_str()) {
            return Err(crate::Error::Usage(format!(
                "variant `{v}` is not known (variants: {})",
                VARIANTS.join(", ")
            )));
        }
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(out)
}
