//! `edgebench variants MODEL --kinds fp16,int8-static -o DIR`: fp16 and int8 variants of a float32 model (the
//! transforms of `edgebench_rewrite::variants`), each judged against fp32 on the reference backend over seeded
//! feeds and checked against every backend's support table. Writes `DIR/<stem>.<kind>.onnx` and
//! `DIR/variants.json`; refuses to replace anything.

use super::print_json;
use crate::exit::{USAGE, VARIANT_FAILED, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::prepare::Preparer;
use edgebench_bench::prepare::variants::{EVAL_SEED, file_name, kinds, verdict_word};
use edgebench_bench::variants::{Maker, VariantReport};
use edgebench_models::calibration;
use edgebench_rewrite::variants::{Kind, Method, QuantOptions};
use serde::Serialize;
use std::path::PathBuf;

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

#[derive(Serialize)]
struct Report {
    model: String,
    reference: String,
    variants: Vec<VariantReport>,
    failed: Vec<(String, String)>,
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
    resolve::onnx_only(&m, "variants")?;
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
    let usage = |e: calibration::CalibrationError| fail(USAGE, e);
    let (calib, source) = match &a.calibration {
        Some(dir) => (
            calibration::read_dir(dir, &fitted.specs).map_err(usage)?,
            format!("{}", dir.display()),
        ),
        None => (
            calibration::seeded(&fitted.specs, 0, a.calibration_feeds.max(1)).map_err(usage)?,
            "seeded feeds".to_string(),
        ),
    };
    let eval = calibration::seeded(&fitted.specs, EVAL_SEED, a.eval_feeds).map_err(usage)?;
    let setup = Preparer::new(registry, super::build_id()).variant_setup(
        a.reference.as_deref(),
        &model,
        &m.label,
        resolve::input_specs(&fitted.specs),
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
