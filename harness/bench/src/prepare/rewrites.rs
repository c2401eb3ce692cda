//! Verified rewrites: the rules chosen by a backend's table, applied one at a time, each verified on the reference
//! backend against the original model over seeded feeds and rolled back when it drifts or does not run (what
//! `edgebench rewrite` writes, and what a plan's cell runs where the table predicts "runs after rewrites").

use super::{Event, OnEvent, Preparer};
use crate::Error;
use crate::plan::PlanModel;
use crate::verify::{Inferred, Reference};
use edgebench_compat::{SupportTable, Verdict};
use edgebench_graph::Model;
use edgebench_models::FeedSpec;
use edgebench_report::{CompatRecord, RewriteDrift, RewriteRecord};
use edgebench_rewrite::{Rewritten, StepStatus};

/// Seeded feeds each rule is verified on.
pub const VERIFY_FEEDS: usize = 8;

/// Rounds of the fixpoint driver.
const MAX_ROUNDS: usize = 8;

/// A rewrite and the backend it was verified on.
pub struct Verified {
    pub done: Rewritten,
    pub reference: String,
}

/// The identity of the rule set: its version and every rule's name, in order.
pub fn rule_set() -> String {
    let names: Vec<&str> = edgebench_rewrite::registry::all()
        .iter()
        .map(|r| r.name())
        .collect();
    format!("{}:{}", edgebench_rewrite::RULES_VERSION, names.join(","))
}

impl Preparer<'_> {
    /// Rewrites `model` for `table`'s backend, every rule verified over `feeds` seeded feeds of `feed`.
    pub fn rewrite(
        &self,
        model: &Model,
        label: &str,
        table: &SupportTable,
        feed: &[FeedSpec],
        feeds: usize,
    ) -> Result<Verified, Error> {
        let specs = edgebench_models::fit::input_specs(feed);
        let seeded = edgebench_models::calibration::seeded(feed, 0, feeds.max(1))
            .map_err(|e| Error::Usage(e.to_string()))?;
        let reference = self.reference()?;
        let verifier = Reference::new(reference, model, specs.clone(), seeded)
            .map_err(|e| Error::Backend(format!("{label}: {e}")))?;
        let oracle = Inferred {
            backend: self
                .oracle()
                .ok_or_else(|| Error::Unavailable(format!("{}: not compiled in", super::ORACLE)))?,
            specs,
        };
        let rules = edgebench_rewrite::registry::all();
        let done = edgebench_rewrite::rewrite(model, table, &rules, &oracle, &verifier, MAX_ROUNDS);
        Ok(Verified {
            done,
            reference: verifier.backend().to_string(),
        })
    }

    /// For every model x backend that the predictions say runs only after rewrites, the verified rewrite (made once
    /// per model file, feed, backend, table version and rule set, then cached under `<cache>/rewrites/`), recorded
    /// in the model's `rewrites`. A rewrite that cannot be verified is recorded unused, with the reason.
    pub fn rewrites(
        &self,
        models: &mut [PlanModel],
        compat: &[CompatRecord],
        on: OnEvent,
    ) -> Result<(), Error> {
        for pm in models.iter_mut() {
            let wanted: Vec<&CompatRecord> = compat
                .iter()
                .filter(|c| c.model == pm.name && c.verdict != "runs" && c.after_rewrites.is_some())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let digest = super::file_digest(&pm.path)?;
            let mut loaded: Option<Model> = None;
            for c in wanted {
                let Some(Ok(table)) = edgebench_compat::embedded(&c.backend) else {
                    continue;
                };
                let key = super::digest(&[
                    &digest,
                    &pm.feed.join(" "),
                    &c.backend,
                    &table.header.version,
                    &rule_set(),
                ]);
                let dir = self.cache().join("rewrites").join(&key);
                let stem = pm
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "model".into());
                let file = dir.join(format!("{stem}.{}.onnx", c.backend));
                let json = file.with_extension("json");
                let cached = std::fs::read(&json)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<RewriteRecord>(&b).ok())
                    .filter(|r| !r.used || file.is_file());
                let record = match cached {
                    Some(r) => r,
                    None => {
                        on(Event::Rewriting {
                            model: pm.name.clone(),
                            backend: c.backend.clone(),
                        });
                        let model = match &loaded {
                            Some(m) => m,
                            None => loaded.insert(super::load(&pm.path)?),
                        };
                        let feed = super::feed_specs(pm)?;
                        match self.rewrite(model, &pm.name, &table, &feed, VERIFY_FEEDS) {
                            Ok(v) => {
                                let mut r = record_of(&v);
                                if r.used {
                                    std::fs::create_dir_all(&dir).map_err(|e| {
                                        Error::Usage(format!("{}: {e}", dir.display()))
                                    })?;
                                    edgebench_graph::save(&v.done.model, &file)
                                        .map_err(|e| Error::Usage(e.to_string()))?;
                                    r.file = Some(file.display().to_string());
                                }
                                let text = serde_json::to_string_pretty(&r)
                                    .map_err(|e| Error::Usage(e.to_string()))?;
                                std::fs::create_dir_all(&dir)
                                    .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
                                edgebench_graph::write_atomic(&json, text.as_bytes()).map_err(
                                    |e| Error::Usage(format!("{}: {e}", json.display())),
                                )?;
                                r
                            }
                            // Not cached: the reference may be usable next time.
                            Err(e) => RewriteRecord {
                                rules: vec![],
                                used: false,
                                reference: String::new(),
                                tolerance: String::new(),
                                drift: None,
                                rolled_back: vec![],
                                error: Some(e.to_string()),
                                file: None,
                            },
                        }
                    }
                };
                if !record.used {
                    on(Event::Warning(format!(
                        "{} on {}: predicted to run after rewrites, but the verified rewrite is not used ({}); its \
                         cell runs the original model",
                        pm.name,
                        c.backend,
                        record.summary()
                    )));
                }
                pm.rewrites.insert(c.backend.clone(), record);
            }
        }
        Ok(())
    }
}

/// The record of a verified rewrite: used when it makes the model run fully and applied at least one rule.
pub fn record_of(v: &Verified) -> RewriteRecord {
    let done = &v.done;
    let applied: Vec<&edgebench_rewrite::Step> = done
        .log
        .iter()
        .filter(|s| s.status == StepStatus::Applied)
        .collect();
    // Each candidate is compared with the original model: the last applied step's drift is the rewritten model's.
    let drift = applied
        .iter()
        .rev()
        .find_map(|s| s.drift.as_ref())
        .map(|d| RewriteDrift {
            max_abs_error: d.max_abs_error,
            max_rel_error: d.max_rel_error,
            min_cosine: d.min_cosine,
        });
    RewriteRecord {
        rules: applied.iter().map(|s| s.rule.to_string()).collect(),
        used: done.after == Verdict::Runs && !applied.is_empty(),
        reference: v.reference.clone(),
        tolerance: done.tolerance.clone(),
        drift,
        rolled_back: done
            .log
            .iter()
            .filter_map(|s| match &s.status {
                StepStatus::RolledBack { reason } => {
                    Some(format!("{} ({}): {reason}", s.rule, s.nodes.join(", ")))
                }
                StepStatus::Applied => None,
            })
            .collect(),
        error: None,
        file: None,
    }
}
