//! `edgebench variants MODEL --kinds fp16,int8-static -o DIR`: fp16 and int8 variants of a float32 model (the
//! transforms of `edgebench_rewrite::variants`), each judged against fp32 on the reference backend over seeded
//! feeds and checked against every backend's support table. Writes `DIR/<stem>.<kind>.onnx` and
//! `DIR/variants.json`; refuses to replace anything.

use super::print_json;
use crate::calibration;
use crate::exit::{BACKEND_FAILED, USAGE, VARIANT_FAILED, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::plan::PlanModel;
use edgebench_bench::variants::{Maker, VariantReport};
use edgebench_report::VariantRecord;
use edgebench_rewrite::Oracle;
use edgebench_rewrite::variants::{Kind, Method, QuantOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model file, a zoo model name (cached) or a fixture name.
    model: String,
    /// Comma-separated: fp16, fp16-weights, int8-dynamic, int8-static.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fp16,fp16-weights,int8-dynamic,int8-static"
    )]
    kinds: Vec<String>,
    /// A folder of `.npy` calibration tensors: one sub-folder per input named like it, files paired in name order
    /// (default: seeded feeds).
    #[arg(long, value_name = "DIR")]
    calibration: Option<PathBuf>,
    /// percentile (99.99 % of |x|), minmax or entropy (KL divergence).
    #[arg(long, default_value = "percentile")]
    calibration_method: String,
    /// Seeded calibration feeds when no --calibration folder is given.
    #[arg(long, default_value_t = 32)]
    calibration_feeds: usize,
    /// Seeded feeds the drift against fp32 is measured on (at least 32).
    #[arg(long, default_value_t = 32)]
    eval_feeds: usize,
    /// Weights with one scale per tensor instead of per output channel.
    #[arg(long)]
    per_tensor: bool,
    /// Activations int8 with zero point 0 instead of uint8 with a zero point.
    #[arg(long)]
    symmetric: bool,
    /// Inputs, `NAME=DTYPE[SHAPE]` (zoo models use their manifest feed).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE`.
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// The folder to write the variants to (created if missing; existing files are never replaced).
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// The backend calibration and drift run on (default: ort, else tract).
    #[arg(long, value_name = "BACKEND")]
    reference: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// The seeds of evaluation feeds start here, away from calibration seeds (0..).
pub const EVAL_SEED: u64 = 1_000_000;

#[derive(Serialize)]
struct Report {
    model: String,
    reference: String,
    variants: Vec<VariantReport>,
    failed: Vec<(String, String)>,
}

/// Parses `--kinds`.
pub fn kinds(asked: &[String]) -> Result<Vec<Kind>> {
    let mut out = vec![];
    for k in asked.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let kind = Kind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            fail(
                USAGE,
                format!("--kinds: `{k}` is not a variant kind ({})", all.join(", ")),
            )
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if out.is_empty() {
        return Err(fail(USAGE, "--kinds: no kind given"));
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

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    let kinds = kinds(&a.kinds)?;
    let method = Method::parse(&a.calibration_method).ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "--calibration-method: `{}` is not minmax, percentile or entropy",
                a.calibration_method
            ),
        )
    })?;
    if a.eval_feeds < 32 {
        return Err(fail(
            USAGE,
            format!("--eval-feeds {}: at least 32", a.eval_feeds),
        ));
    }
    let m = resolve::model(&a.model, &super::fetcher(), &super::manifest())?;
    let targets: Vec<(Kind, PathBuf)> = kinds
        .iter()
        .map(|k| (*k, a.out.join(file_name(&m.path, *k))))
        .collect();
    let report_path = a.out.join("variants.json");
    for p in targets.iter().map(|(_, p)| p).chain([&report_path]) {
        if p.exists() {
            return Err(fail(
                USAGE,
                format!("{}: exists; choose another -o or remove it", p.display()),
            ));
        }
    }
    if a.out.is_file() {
        return Err(fail(
            USAGE,
            format!("{}: -o must be a folder", a.out.display()),
        ));
    }
    let model = resolve::load(&m)?;
    let fitted = resolve::feed(&model, &m, &a.feed, &a.dim)?;
    if !a.json {
        resolve::print_notes(&fitted);
    }
    let (calib, source) = match &a.calibration {
        Some(dir) => (
            calibration::read_dir(dir, &fitted.specs)?,
            format!("{}", dir.display()),
        ),
        None => (
            calibration::seeded(&fitted.specs, 0, a.calibration_feeds.max(1))?,
            "seeded feeds".to_string(),
        ),
    };
    let eval = calibration::seeded(&fitted.specs, EVAL_SEED, a.eval_feeds)?;
    let setup = setup(
        registry,
        a.reference.as_deref(),
        &model,
        &m.label,
        &fitted.specs,
    )?;
    let maker = Maker {
        reference: setup.reference,
        facts: setup.facts,
        specs: setup.specs,
        calibration: &calib,
        calibration_source: source,
        eval: &eval,
        options: QuantOptions {
            per_channel: !a.per_tensor,
            symmetric_activations: a.symmetric,
            method,
        },
        tables: setup.tables,
    };
    let mut made = vec![];
    let mut failed = vec![];
    for (kind, path) in &targets {
        match maker.make(&model, *kind) {
            Ok((v, mut r)) => {
                r.file = Some(path.display().to_string());
                made.push((v, path.clone(), r));
            }
            Err(e) => failed.push((kind.name().to_string(), e)),
        }
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| fail(USAGE, format!("{}: {e}", a.out.display())))?;
    for (v, path, _) in &made {
        edgebench_graph::save(v, path).map_err(|e| fail(USAGE, e))?;
    }
    let report = Report {
        model: m.label.clone(),
        reference: maker.reference.name().to_string(),
        variants: made.into_iter().map(|(_, _, r)| r).collect(),
        failed,
    };
    edgebench_graph::write_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )
    .map_err(|e| fail(USAGE, format!("{}: {e}", report_path.display())))?;
    if a.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    if !report.failed.is_empty() {
        let what: Vec<String> = report
            .failed
            .iter()
            .map(|(k, e)| format!("{k} ({e})"))
            .collect();
        return Err(fail(
            VARIANT_FAILED,
            format!("{}: not made: {}", m.label, what.join("; ")),
        ));
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!(
        "{}: drift against fp32 on {} ({} seeded feeds)",
        r.model,
        r.reference,
        r.variants.first().map(|v| v.eval_feeds).unwrap_or(0)
    );
    for v in &r.variants {
        let verdicts: Vec<String> = v
            .verdicts
            .iter()
            .map(|(b, x)| format!("{b}: {}", verdict_word(*x)))
            .collect();
        println!(
            "  {:13} {:>10} bytes ({:.2}x fp32)  {}",
            v.kind,
            v.bytes,
            v.size_ratio,
            verdicts.join(", ")
        );
        for d in &v.drift {
            let top1 = d
                .top1_agreement
                .map(|t| format!(", top-1 agreement {:.2}% of {}", 100.0 * t, d.rows))
                .unwrap_or_default();
            let margin = d
                .fp32_margin_p50
                .map(|m| {
                    let p10 = d.fp32_margin_p10.unwrap_or(m);
                    format!(" (fp32 top-1 margin: median {m:.3}, p10 {p10:.3})")
                })
                .unwrap_or_default();
            println!(
                "      {}: max abs {:.3e}, max rel {:.3e}, cosine >= {:.6}{top1}{margin}",
                d.output, d.max_abs_error, d.max_rel_error, d.min_cosine
            );
        }
        if let Some(c) = &v.calibration {
            println!("      calibrated on {c}");
        }
        if let Some(f) = &v.file {
            println!("      -> {f}");
        }
    }
    for (k, e) in &r.failed {
        println!("  {k:13} not made: {e}");
    }
}

fn verdict_word(v: edgebench_compat::Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(String::from))
        .unwrap_or_default()
}

/// What making variants of one model needs from this machine: the reference backend, the shape oracle's facts,
/// the input specs and the support tables.
struct Setup<'r> {
    reference: &'r dyn edgebench_backend_api::Backend,
    facts: edgebench_rewrite::Facts,
    specs: Vec<edgebench_backend_api::InputSpec>,
    tables: Vec<(String, edgebench_compat::SupportTable)>,
}

fn setup<'r>(
    registry: &'r Registry,
    reference: Option<&str>,
    model: &edgebench_graph::Model,
    label: &str,
    feed: &[edgebench_models::FeedSpec],
) -> Result<Setup<'r>> {
    let specs = resolve::input_specs(feed);
    let (reference, _) = match reference {
        Some(r) => edgebench_bench::machine::available(registry, r)
            .map_err(|e| fail(crate::exit::UNAVAILABLE, format!("--reference {r}: {e}")))?,
        None => ["ort", "tract"]
            .iter()
            .find_map(|r| edgebench_bench::machine::available(registry, r).ok())
            .ok_or_else(|| {
                fail(
                    crate::exit::UNAVAILABLE,
                    "no reference backend (ort, tract) is available",
                )
            })?,
    };
    let oracle_backend = registry
        .get(crate::registry::REFERENCE)
        .map_err(|e| fail(crate::exit::UNAVAILABLE, e))?;
    let facts = edgebench_bench::verify::Inferred {
        backend: oracle_backend,
        specs: specs.clone(),
    }
    .facts(model)
    .ok_or_else(|| {
        fail(
            BACKEND_FAILED,
            format!("{label}: tract cannot infer the types and shapes of its values"),
        )
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

/// The record results.json keeps of a variant.
fn record(model: &str, r: &VariantReport) -> VariantRecord {
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

/// Bumped when the transforms change, so cached variants are remade.
const TRANSFORM_VERSION: &str = "2";

/// Makes (or finds in the cache) the `kinds` variants of a plan's model with the defaults of `variants` (seeded
/// calibration, min-max, per channel, asymmetric activations; drift on 32 seeded feeds). Cached by the model
/// file's sha256, the feed and the kind under `<cache>/variants/`.
pub fn for_plan(
    pm: &mut PlanModel,
    kinds: &[String],
    registry: &Registry,
) -> Result<Vec<VariantRecord>> {
    use sha2::Digest;
    let kinds: Vec<Kind> = kinds
        .iter()
        .filter(|k| *k != "fp32")
        .filter_map(|k| Kind::parse(k))
        .collect();
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    let bytes = std::fs::read(&pm.path).map_err(|e| {
        fail(
            crate::exit::BAD_MODEL,
            format!("{}: {e}", pm.path.display()),
        )
    })?;
    let mut h = sha2::Sha256::new();
    h.update(&bytes);
    h.update(pm.feed.join(" ").as_bytes());
    h.update(TRANSFORM_VERSION.as_bytes());
    h.update(serde_json::to_string(&QuantOptions::default())?.as_bytes());
    let key = hex::encode(&h.finalize()[..12]);
    drop(bytes);
    let dir = edgebench_models::cache_dir().join("variants").join(&key);
    let m = resolve::model(
        &pm.path.display().to_string(),
        &super::fetcher(),
        &super::manifest(),
    )?;
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
    let model = resolve::load(&m)?;
    let fitted = resolve::feed(&model, &m, &pm.feed, &[])?;
    let setup = setup(registry, None, &model, &pm.name, &fitted.specs)?;
    let calib = calibration::seeded(&fitted.specs, 0, 32)?;
    let eval = calibration::seeded(&fitted.specs, EVAL_SEED, 32)?;
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
    std::fs::create_dir_all(&dir).map_err(|e| fail(USAGE, format!("{}: {e}", dir.display())))?;
    for (k, file, json) in todo {
        eprintln!("edgebench: making the {k} variant of {}", pm.name);
        let (v, mut r) = maker
            .make(&model, k)
            .map_err(|e| fail(VARIANT_FAILED, format!("{}: {e}", pm.name)))?;
        r.file = Some(file.display().to_string());
        edgebench_graph::save(&v, &file).map_err(|e| fail(USAGE, e))?;
        let rec = record(&pm.name, &r);
        edgebench_graph::write_atomic(&json, serde_json::to_string_pretty(&rec)?.as_bytes())
            .map_err(|e| fail(USAGE, format!("{}: {e}", json.display())))?;
        records.push(rec);
        pm.variants.insert(k.name().to_string(), file);
    }
    Ok(records)
}
