//! Variants made and judged with a reference backend: calibration runs for int8-static, the drift of each variant
//! against the fp32 model over seeded feeds (per output: max abs, max rel, cosine, top-1 agreement for `[batch,
//! classes]` outputs), its size, and the support tables' verdict per backend.

use edgebench_backend_api::{Backend, Data, HostTensor, InputSpec, compare};
use edgebench_compat::Verdict;
use edgebench_graph::Model;
use edgebench_rewrite::variants::{self, Kind, Observe, QuantOptions};
use edgebench_rewrite::{Facts, verdict_of};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

type Feed = Vec<(String, HostTensor)>;

/// Runs calibration models on a backend and streams their float outputs.
pub struct Observer<'a> {
    pub backend: &'a dyn Backend,
    pub specs: Vec<InputSpec>,
    pub feeds: &'a [Feed],
}

impl Observe for Observer<'_> {
    fn observe(
        &self,
        model: &Model,
        outputs: &[String],
        each: &mut dyn FnMut(&str, &[f32]),
    ) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("calibration.onnx");
        edgebench_graph::save(model, &path).map_err(|e| e.to_string())?;
        let mut s = self
            .backend
            .load(&path, &self.specs)
            .map_err(|e| format!("{}: {e}", self.backend.name()))?;
        let wanted: std::collections::HashSet<&str> = outputs.iter().map(|s| s.as_str()).collect();
        for f in self.feeds {
            for (name, t) in f {
                if let (true, Data::F32(v)) = (wanted.contains(name.as_str()), &t.data) {
                    each(name, v);
                }
            }
            for (name, t) in s.run(f).map_err(|e| e.to_string())? {
                let fed = f.iter().any(|(n, _)| *n == name);
                if let (true, false, Data::F32(v)) = (wanted.contains(name.as_str()), fed, &t.data)
                {
                    each(&name, v);
                }
            }
        }
        Ok(())
    }
}

pub use edgebench_report::OutputDrift;

/// Runs fp32 and the variant on the same feeds and compares every output.
pub fn drift(
    backend: &dyn Backend,
    fp32: &Model,
    variant: &Model,
    specs: &[InputSpec],
    feeds: &[Feed],
) -> Result<Vec<OutputDrift>, String> {
    let run = |m: &Model, what: &str| -> Result<Vec<Feed>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("model.onnx");
        edgebench_graph::save(m, &path).map_err(|e| e.to_string())?;
        let mut s = backend
            .load(&path, specs)
            .map_err(|e| format!("{what} does not load on {}: {e}", backend.name()))?;
        feeds
            .iter()
            .map(|f| {
                s.run(f)
                    .map_err(|e| format!("{what} does not run on {}: {e}", backend.name()))
            })
            .collect()
    };
    let want = run(fp32, "the fp32 model")?;
    let got = run(variant, "the variant")?;
    let mut out: Vec<OutputDrift> = vec![];
    let mut margins: std::collections::HashMap<&str, Vec<f64>> = Default::default();
    for (g, w) in got.iter().zip(&want) {
        for (name, wt) in w {
            if let Some(m) = row_margins(wt) {
                margins.entry(name.as_str()).or_default().extend(m);
            }
            let Some((_, gt)) = g.iter().find(|(n, _)| n == name) else {
                return Err(format!("the variant has no output `{name}`"));
            };
            let a = compare(gt, wt).map_err(|e| format!("output `{name}`: {e}"))?;
            let (agree, rows) = top1(gt, wt);
            let d = match out.iter_mut().find(|d| &d.output == name) {
                Some(d) => d,
                None => {
                    out.push(OutputDrift {
                        output: name.clone(),
                        max_abs_error: 0.0,
                        max_rel_error: 0.0,
                        min_cosine: 1.0,
                        top1_agreement: None,
                        rows: 0,
                        fp32_margin_p50: None,
                        fp32_margin_p10: None,
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            d.max_abs_error = d.max_abs_error.max(a.max_abs_error);
            d.max_rel_error = d.max_rel_error.max(a.max_rel_error);
            if a.cosine_similarity.is_finite() {
                d.min_cosine = d.min_cosine.min(a.cosine_similarity);
            }
            if rows > 0 {
                let prev = d.top1_agreement.unwrap_or(0.0) * d.rows as f64;
                d.rows += rows;
                d.top1_agreement = Some((prev + agree as f64) / d.rows as f64);
            }
        }
    }
    for d in &mut out {
        if let Some(m) = margins.get_mut(d.output.as_str()).filter(|m| !m.is_empty()) {
            m.sort_by(f64::total_cmp);
            let q = |p: f64| m[((m.len() - 1) as f64 * p).round() as usize];
            d.fp32_margin_p50 = Some(q(0.5));
            d.fp32_margin_p10 = Some(q(0.1));
        }
    }
    Ok(out)
}

/// Top-1 minus top-2 per row of a `[batch, classes]` output.
fn row_margins(t: &HostTensor) -> Option<Vec<f64>> {
    if t.shape.len() != 2 || t.shape[1] < 2 {
        return None;
    }
    let v = t.to_f64();
    Some(
        v.chunks(t.shape[1])
            .map(|r| {
                let mut s = r.to_vec();
                s.sort_by(|a, b| b.total_cmp(a));
                s[0] - s[1]
            })
            .collect(),
    )
}

/// Rows of a `[batch, classes]` output whose argmax agrees, and the row count (0 when not such an output).
fn top1(got: &HostTensor, want: &HostTensor) -> (usize, usize) {
    if want.shape.len() != 2 || want.shape[1] < 2 || got.shape != want.shape {
        return (0, 0);
    }
    let (g, w) = (got.to_f64(), want.to_f64());
    let c = want.shape[1];
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, x)| if *x > b.1 { (i, *x) } else { b },
            )
            .0
    };
    let rows = want.shape[0];
    let agree = (0..rows)
        .filter(|r| argmax(&g[r * c..(r + 1) * c]) == argmax(&w[r * c..(r + 1) * c]))
        .count();
    (agree, rows)
}

/// What was made, and how it compares with fp32.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantReport {
    pub kind: String,
    pub file: Option<String>,
    pub bytes: u64,
    pub fp32_bytes: u64,
    pub size_ratio: f64,
    /// Reference backend of the drift and of the calibration runs.
    pub reference: String,
    pub eval_feeds: usize,
    pub drift: Vec<OutputDrift>,
    /// The support tables' verdict per backend.
    pub verdicts: BTreeMap<String, Verdict>,
    pub options: Option<QuantOptions>,
    /// Where the calibration data came from (int8-static).
    pub calibration: Option<String>,
}

/// Everything needed to make variants of one model.
pub struct Maker<'a> {
    pub reference: &'a dyn Backend,
    /// Types and shapes of every value (the shape oracle's facts for the feed).
    pub facts: Facts,
    pub specs: Vec<InputSpec>,
    pub calibration: &'a [Feed],
    pub calibration_source: String,
    pub eval: &'a [Feed],
    pub options: QuantOptions,
    /// Backends whose tables give a verdict.
    pub tables: Vec<(String, edgebench_compat::SupportTable)>,
}

impl Maker<'_> {
    /// Makes `kind` of `model` and judges it.
    pub fn make(&self, model: &Model, kind: Kind) -> Result<(Model, VariantReport), String> {
        let observer = Observer {
            backend: self.reference,
            specs: self.specs.clone(),
            feeds: self.calibration,
        };
        let v = variants::make(model, kind, &self.options, &self.facts, Some(&observer))
            .map_err(|e| format!("{kind}: {e}"))?;
        let drift = drift(self.reference, model, &v, &self.specs, self.eval)
            .map_err(|e| format!("{kind}: {e}"))?;
        let bytes = edgebench_graph::encode(&v)
            .map_err(|e| e.to_string())?
            .len() as u64;
        let fp32_bytes = edgebench_graph::encode(model)
            .map_err(|e| e.to_string())?
            .len() as u64;
        let verdicts = self
            .tables
            .iter()
            .map(|(b, t)| (b.clone(), verdict_of(&v, t).0))
            .collect();
        let quantized = matches!(kind, Kind::Int8Dynamic | Kind::Int8Static);
        Ok((
            v,
            VariantReport {
                kind: kind.name().into(),
                file: None,
                bytes,
                fp32_bytes,
                size_ratio: bytes as f64 / fp32_bytes.max(1) as f64,
                reference: self.reference.name().into(),
                eval_feeds: self.eval.len(),
                drift,
                verdicts,
                options: quantized.then_some(self.options),
                calibration: kind.needs_calibration().then(|| {
                    format!(
                        "{} ({} feeds)",
                        self.calibration_source,
                        self.calibration.len()
                    )
                }),
            },
        ))
    }
}
