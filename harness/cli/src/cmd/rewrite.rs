//! `edgebench rewrite MODEL --for BACKEND -o OUT.onnx`: the rules of `edgebench_rewrite` chosen by the target's
//! support table and check, each verified on the reference backend and rolled back when it drifts; writes the
//! rewritten model (atomically, never over the input) and the log.

use super::{fetcher, manifest, print_json};
use crate::exit::{NOT_ALL_RUN, USAGE, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::prepare::Preparer;
use edgebench_bench::prepare::rewrites::Verified;
use edgebench_rewrite::StepStatus;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model file, a zoo model name (cached) or a fixture name.
    model: String,
    /// The backend to make it run on (its support table chooses the rules).
    #[arg(long = "for", value_name = "BACKEND")]
    target: String,
    /// Inputs, `NAME=DTYPE[SHAPE]` (zoo models use their manifest feed); the rewritten model is pinned to them.
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE` (leading batch dims default to 1).
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// Seeded feeds each rule is verified on.
    #[arg(long, default_value_t = 8)]
    feeds: u64,
    /// Where to write the rewritten model (must not exist, and must not be the input).
    #[arg(short, long, value_name = "OUT.onnx")]
    out: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    backend: String,
    reference: String,
    tolerance: String,
    before: edgebench_compat::Verdict,
    after: edgebench_compat::Verdict,
    log: &'a [edgebench_rewrite::Step],
    output: String,
}

pub fn run(a: Args, registry: &Registry) -> Result<()> {
    let m = resolve::model(&a.model, &fetcher(), &manifest())?;
    resolve::onnx_only(&m, "rewrite")?;
    let same = |x: &std::path::Path| x.canonicalize().ok();
    if a.out.exists() {
        let what = if same(&a.out) == same(&m.path) {
            "is the input model"
        } else {
            "exists; choose another -o or remove it"
        };
        return Err(fail(USAGE, format!("{}: {what}", a.out.display())));
    }
    let table = edgebench_compat::embedded(&a.target)
        .ok_or_else(|| {
            fail(
                USAGE,
                format!("--for {}: no support table for that backend", a.target),
            )
        })?
        .map_err(|e| fail(USAGE, e))?;
    let model = resolve::load(&m)?;
    let fitted = resolve::feed(&model, &m, &a.feed, &a.dim)?;
    if !a.json {
        resolve::print_notes(&fitted);
    }
    let prep = Preparer::new(registry, super::build_id());
    let feeds = usize::try_from(a.feeds).unwrap_or(usize::MAX);
    let Verified { done, reference } =
        prep.rewrite(&model, &m.label, &table, &fitted.specs, feeds)?;
    if let Some(p) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?;
    }
    edgebench_graph::save(&done.model, &a.out).map_err(|e| fail(USAGE, e))?;
    let report = Report {
        model: m.label.clone(),
        backend: a.target.clone(),
        reference,
        tolerance: done.tolerance.clone(),
        before: done.before,
        after: done.after,
        log: &done.log,
        output: a.out.display().to_string(),
    };
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "{} for {}: verified with {}",
            report.model, report.backend, report.tolerance
        );
        for s in &done.log {
            let drift = s
                .drift
                .as_ref()
                .map(|d| {
                    format!(
                        " (max abs {:.2e}, max rel {:.2e}, cosine {:.6})",
                        d.max_abs_error, d.max_rel_error, d.min_cosine
                    )
                })
                .unwrap_or_default();
            match &s.status {
                StepStatus::Applied => {
                    println!("  applied      {:22} {}{drift}", s.rule, s.nodes.join(", "))
                }
                StepStatus::RolledBack { reason } => {
                    println!(
                        "  rolled back  {:22} {}: {reason}",
                        s.rule,
                        s.nodes.join(", ")
                    )
                }
            }
        }
        println!(
            "check on {}: {:?} before, {:?} after; written to {}",
            report.backend, report.before, report.after, report.output
        );
    }
    if done.after != edgebench_compat::Verdict::Runs {
        return Err(fail(
            NOT_ALL_RUN,
            format!(
                "{}: still does not run fully on {} after the rewrites (see `edgebench check {}`)",
                m.label,
                a.target,
                a.out.display()
            ),
        ));
    }
    Ok(())
}
