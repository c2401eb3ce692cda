//! Variants of a plan's models (and of `edgebench variants`): the reference backend, the shape oracle's facts and
//! the tables a [`Maker`] needs, and the plan's variant cache.

use super::{Event, OnEvent, Preparer};
use crate::Error;
use crate::plan::PlanModel;
use crate::variants::{Maker, VariantReport};
use crate::verify::Inferred;
use edgebench_backend_api::{Backend, InputSpec};
use edgebench_compat::{SupportTable, Verdict};
use edgebench_graph::Model;
use edgebench_models::calibration;
use edgebench_report::VariantRecord;
use edgebench_rewrite::Oracle;
use edgebench_rewrite::variants::{Kind, QuantOptions};
use std::path::Path;

/// The seeds of evaluation feeds start here, away from calibration seeds (0..).
pub const EVAL_SEED: u64 = 1_000_000;

/// Bumped when the transforms change, so cached variants are remade.
const TRANSFORM_VERSION: &str = "2";

/// Parses variant kind names (`fp32` is not one: it is the model itself). Duplicates are dropped.
pub fn kinds(asked: &[String]) -> Result<Vec<Kind>, Error> {
    let mut out = vec![];
    for k in asked.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let kind = Kind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            Error::Usage(format!(
                "--kinds: `{k}` is not a variant kind ({})",
                all.join(", ")
            ))
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if out.is_empty() {
        return Err(Error::Usage("--kinds: no kind given".into()));
    }
    Ok(out)
}

/// The file name of a variant.
pub fn file_name(model: &Path, kind: Kind) -> String {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    format!("{stem}.{kind}.onnx")
}

/// A verdict's word (`runs`, `partial`, `no`).
pub fn verdict_word(v: Verdict) -> String {
    v.to_string()
}

/// What making variants of one model needs from this machine: the reference backend, the shape oracle's facts,
/// the input specs and the support tables.
pub struct Setup<'r> {
    pub reference: &'r dyn Backend,
    pub facts: edgebench_rewrite::Facts,
    pub specs: Vec<InputSpec>,
    pub tables: Vec<(String, SupportTable)>,
}

impl<'r> Preparer<'r> {
    /// The set-up for variants of `model`: `reference` names the backend (else ONNX Runtime, else tract).
    pub fn variant_setup(
        &self,
        reference: Option<&str>,
        model: &Model,
        label: &str,
        specs: Vec<InputSpec>,
    ) -> Result<Setup<'r>, Error> {
        let reference = match reference {
            Some(r) => {
                crate::machine::available(self.registry, r)
                    .map_err(|e| Error::Unavailable(format!("--reference {r}: {e}")))?
                    .0
            }
            None => self.reference()?,
        };
        let oracle = self
            .oracle()
            .ok_or_else(|| Error::Unavailable(format!("{}: not compiled in", super::ORACLE)))?;
        let facts = Inferred {
            backend: oracle,
            specs: specs.clone(),
        }
        .facts(model)
        .ok_or_else(|| {
            Error::Backend(format!(
                "{label}: tract cannot infer the types and shapes of its values"
            ))
        })?;
        let tables = ["tract", "ort", "wonnx"]
            .iter()
            .filter_map(|b| Some((b.to_string(), edgebench_compat::embedded(b)?.ok()?)))
            .collect();
        Ok(Setup {
            reference,
            facts,
            specs,
            tables,
        })
    }

    /// Makes (or finds in the cache) the `kinds` variants of a plan's model with the defaults of `variants`
    /// (seeded calibration, per channel, asymmetric activations; drift on 32 seeded feeds). Cached by the model
    /// file's sha256, the feed, the transforms' version and the options under `<cache>/variants/`.
    pub fn variants(
        &self,
        pm: &mut PlanModel,
        kinds: &[String],
        on: OnEvent,
    ) -> Result<Vec<VariantRecord>, Error> {
        let kinds: Vec<Kind> = kinds
            .iter()
            .filter(|k| *k != "fp32")
            .filter_map(|k| Kind::parse(k))
            .collect();
        if kinds.is_empty() {
            return Ok(vec![]);
        }
        if edgebench_graph::tflite::format_of(&pm.path) == edgebench_graph::Format::Tflite {
            on(Event::Warning(format!(
                "{}: variants of .tflite models are not made (out of scope): its fp32 cells run alone",
                pm.name
            )));
            return Ok(vec![]);
        }
        let options = serde_json::to_string(&QuantOptions::default())
            .map_err(|e| Error::Usage(e.to_string()))?;
        let key = super::digest(&[
            &super::file_digest(&pm.path)?,
            &pm.feed.join(" "),
            TRANSFORM_VERSION,
            &options,
        ]);
        let dir = self.cache().join("variants").join(&key);
        let mut records = vec![];
        let mut todo = vec![];
        for k in &kinds {
            let file = dir.join(file_name(&pm.path, *k));
            let json = file.with_extension("json");
            let cached = std::fs::read(&json)
                .ok()
                .and_then(|b| serde_json::from_slice::<VariantRecord>(&b).ok())
                .filter(|_| file.is_file());
            match cached {
                Some(mut r) => {
                    r.model = pm.name.clone();
                    records.push(r);
                    pm.variants.insert(k.name().to_string(), file);
                }
                None => todo.push((*k, file, json)),
            }
        }
        if todo.is_empty() {
            return Ok(records);
        }
        let model = super::load(&pm.path)?;
        let feed = super::feed_specs(pm)?;
        let setup = self.variant_setup(
            None,
            &model,
            &pm.name,
            edgebench_models::fit::input_specs(&feed),
        )?;
        let feed_error = |e: calibration::CalibrationError| Error::Usage(e.to_string());
        let calib = calibration::seeded(&feed, 0, 32).map_err(feed_error)?;
        let eval = calibration::seeded(&feed, EVAL_SEED, 32).map_err(feed_error)?;
        let maker = Maker {
            reference: setup.reference,
            facts: setup.facts,
            specs: setup.specs,
            calibration: &calib,
            calibration_source: "seeded feeds".into(),
            eval: &eval,
            options: QuantOptions::default(),
            tables: setup.tables,
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
        for (k, file, json) in todo {
            on(Event::MakingVariant {
                model: pm.name.clone(),
                kind: k.name().into(),
            });
            let (v, mut r) = maker
                .make(&model, k)
                .map_err(|e| Error::Variant(format!("{}: {e}", pm.name)))?;
            r.file = Some(file.display().to_string());
            edgebench_graph::save(&v, &file).map_err(|e| Error::Usage(e.to_string()))?;
            let rec = record(&pm.name, &r);
            let text =
                serde_json::to_string_pretty(&rec).map_err(|e| Error::Usage(e.to_string()))?;
            edgebench_graph::write_atomic(&json, text.as_bytes())
                .map_err(|e| Error::Usage(format!("{}: {e}", json.display())))?;
            records.push(rec);
            pm.variants.insert(k.name().to_string(), file);
        }
        Ok(records)
    }
}

/// The record results.json keeps of a variant.
pub fn record(model: &str, r: &VariantReport) -> VariantRecord {
    VariantRecord {
        model: model.to_string(),
        kind: r.kind.clone(),
        bytes: r.bytes,
        fp32_bytes: r.fp32_bytes,
        size_ratio: r.size_ratio,
        reference: r.reference.clone(),
        eval_feeds: r.eval_feeds,
        drift: r.drift.clone(),
        verdicts: r
            .verdicts
            .iter()
            .map(|(b, v)| (b.clone(), verdict_word(*v)))
            .collect(),
        calibration: r.calibration.clone(),
        options: r.options.and_then(|o| serde_json::to_value(o).ok()),
    }
}
