//! The support tables' predictions: a model's verdict per backend with its blocking reasons and, when it does not
//! run as it is, the rewrite rules that are predicted to make it run (applied in memory, not verified).

use super::{Event, OnEvent, Preparer};
use crate::plan::PlanModel;
use crate::verify::{Inferred, Memo};
use edgebench_backend_api::{Backend, InputSpec};
use edgebench_compat::{SupportTable, Verdict, check};
use edgebench_graph::Model;
use edgebench_graph::stats::ShapeMap;
use edgebench_report::CompatRecord;
use edgebench_rewrite::{Drift, Oracle, Verify};
use std::collections::HashMap;

/// Accepts every patch: a prediction says what the rules can do; `rewrite`, `--verify` and bench measure it.
struct Unverified;

impl Verify for Unverified {
    fn drift(&self, _: &Model) -> Result<Drift, String> {
        Ok(Drift {
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            min_cosine: 1.0,
            within: true,
        })
    }
    fn tolerance(&self) -> String {
        "not verified (prediction)".into()
    }
}

/// The shape oracle of a model's predictions: `backend`'s inference for the feed, remembered across backends.
pub fn oracle<'a>(backend: &'a dyn Backend, specs: &[InputSpec]) -> Memo<Inferred<'a>> {
    Memo::new(Inferred {
        backend,
        specs: specs.to_vec(),
    })
}

/// The rules predicted to make `model` run on the table's backend (applied in memory with the oracle's shapes),
/// and the model they make; `None` when they do not make it run fully, or when nothing needed rewriting.
pub fn after_rewrites(
    model: &Model,
    table: &SupportTable,
    oracle: &dyn Oracle,
) -> Option<(Vec<&'static str>, Model)> {
    let rules = edgebench_rewrite::registry::all();
    if edgebench_rewrite::beyond_rules(model, table, &rules) {
        return None;
    }
    let done = edgebench_rewrite::rewrite(model, table, &rules, oracle, &Unverified, 8);
    (done.after == Verdict::Runs && !done.log.is_empty())
        .then(|| (done.log.iter().map(|s| s.rule).collect(), done.model))
}

/// The prediction recorded in results.json for the report's compatibility matrix: the table's verdict with its
/// blocking reasons, and, when it does not run as it is, the rules that would make it run.
pub fn record(
    model: &Model,
    label: &str,
    backend: &str,
    table: &SupportTable,
    oracle: Option<&dyn Oracle>,
) -> CompatRecord {
    let shapes = ShapeMap::from_model(model, &HashMap::new());
    let c = check(model, table, &shapes);
    let after = match (oracle, c.verdict != Verdict::Runs) {
        (Some(o), true) => after_rewrites(model, table, o)
            .map(|(rules, _)| rules.iter().map(|x| x.to_string()).collect()),
        _ => None,
    };
    CompatRecord {
        model: label.into(),
        backend: backend.into(),
        verdict: c.verdict.to_string(),
        blocking: c
            .not_supported()
            .take(20)
            .map(|b| format!("{} ({}): {}", b.node, b.op, b.message))
            .collect(),
        blocking_total: c.blocking.len() + c.unknown_nodes,
        unknown: c.unknown_nodes,
        partitions: (c.verdict == Verdict::Partial).then_some(c.partitions.count),
        after_rewrites: after,
        placement: edgebench_compat::placement::predict(model, table).map(|p| {
            edgebench_report::PlacementRecord {
                accelerator: p.accelerator,
                accelerated: p.accelerated,
                on_runtime_kernels: p.on_cpu_kernels.len(),
                partitions: p.partitions,
            }
        }),
    }
}

impl Preparer<'_> {
    /// The prediction for every model x backend that has a table (split backends have none: their parts are
    /// judged by `check`). Each is cached per model file (size and mtime), feed, backend and build, since applying
    /// the rules in memory costs seconds per big model.
    pub fn compat(
        &self,
        models: &[PlanModel],
        backends: &[String],
        on: OnEvent,
    ) -> Result<Vec<CompatRecord>, crate::Error> {
        let mut out = vec![];
        for m in models {
            let mut loaded: Option<Model> = None;
            let specs = super::feed_specs(m)
                .ok()
                .map(|f| edgebench_models::fit::input_specs(&f));
            let memo = match (&specs, self.oracle()) {
                (Some(s), Some(b)) => Some(oracle(b, s)),
                _ => None,
            };
            let stamp = super::file_stamp(&m.path);
            let format = edgebench_graph::tflite::format_of(&m.path);
            for b in backends {
                let Some(Ok(table)) = edgebench_compat::embedded_ref(b) else {
                    continue;
                };
                // A backend is judged only on the models of the formats it reads (no cell pairs them anyway).
                if self
                    .registry
                    .get(b)
                    .is_ok_and(|x| !x.formats().contains(&format))
                {
                    continue;
                }
                let key = format!(
                    "{:016x}",
                    edgebench_report::fnv1a(
                        format!(
                            "{}|{stamp}|{}|{b}|{:?}|{}",
                            m.path.display(),
                            m.name,
                            m.feed,
                            self.build
                        )
                        .as_bytes()
                    )
                );
                let cached = self.cache().join("compat").join(format!("{key}.json"));
                if let Some(rec) = std::fs::read_to_string(&cached)
                    .ok()
                    .and_then(|t| serde_json::from_str::<CompatRecord>(&t).ok())
                {
                    out.push(rec);
                    continue;
                }
                on(Event::Predicting {
                    model: m.name.clone(),
                    backend: b.clone(),
                });
                let model = match &loaded {
                    Some(x) => x,
                    None => loaded.insert(super::load(&m.path)?),
                };
                let rec = record(
                    model,
                    &m.name,
                    b,
                    table,
                    memo.as_ref().map(|o| o as &dyn Oracle),
                );
                if let Some(dir) = cached.parent()
                    && std::fs::create_dir_all(dir).is_ok()
                    && let Ok(t) = serde_json::to_string(&rec)
                {
                    let _ = edgebench_report::write_atomic(&cached, t.as_bytes());
                }
                out.push(rec);
            }
        }
        Ok(out)
    }
}
