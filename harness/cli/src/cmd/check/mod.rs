//! `edgebench check MODEL...`: will each model run on each backend, predicted from the support tables; with
//! `--verify`, also run every cell (each in its own process) and report where the prediction did not hold.

use super::{fetcher, manifest, print_json};
use crate::exit::{BACKEND_FAILED, USAGE, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::prediction::{
    Runs, Verification, VerifySummary, feed_of, placement_layer, verify,
};
use edgebench_bench::prepare::compat;
use edgebench_bench::{discover, machine};
use edgebench_compat::{Verdict, check};
use edgebench_graph::stats::ShapeMap;
use std::collections::HashMap;
use std::path::Path;

mod doc;
mod inputs;
mod matrix;
use doc::{AfterRewrites, Cell, Document, ModelReport};
use inputs::{model_args, tables};

/// Version of the `check --json` document (docs/check-json.md).
pub const FORMAT_VERSION: u32 = 3;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model files, zoo names (cached) or fixture names.
    models: Vec<String>,
    /// Backends to check (default: every backend available here).
    #[arg(long, short)]
    backend: Vec<String>,
    /// Also check every cached zoo model.
    #[arg(long)]
    zoo: bool,
    /// Also check the 9 `light` architectures of the conformance data.
    #[arg(long)]
    light: bool,
    /// Use this table for a backend instead of the embedded one: `BACKEND=PATH` (repeatable).
    #[arg(long, value_name = "BACKEND=PATH")]
    table: Vec<String>,
    /// Also run each model on each backend and report where the prediction was wrong.
    #[arg(long)]
    verify: bool,
    /// Inputs for a single model, `NAME=DTYPE[SHAPE]` (used by `--verify`; zoo models use their manifest feed).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE`, wherever it appears (repeatable). Leading batch dims default to 1.
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
    /// `--verify`: address-space limit of each run's process, BYTES[K|M|G|T] or `none` (default: this machine's
    /// memory); an allocation beyond it is the run's failure, not the OOM killer's. Not applied to GPU backends
    #[arg(long, value_name = "BYTES")]
    memory_limit: Option<String>,
    /// `--verify`: seconds before a run is stopped.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Machine-readable output (docs/check-json.md).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    let tables = tables(&a, registry)?;
    if a.verify {
        edgebench_bench::handle_interrupts();
    }
    let runs = Runs {
        timeout: a.timeout,
        memory_limit: crate::flags::memory_limit(a.memory_limit.as_deref())?,
        ort_lib,
        backend_failed: BACKEND_FAILED,
    };
    if a.verify {
        for (n, _) in &tables {
            machine::available(registry, n)?;
        }
    }
    let oracle = registry.get(edgebench_bench::prepare::ORACLE).ok();
    let reference = a.verify.then(|| machine::reference(registry)).flatten();
    let mut reports = vec![];
    for arg in model_args(&a)? {
        let m = resolve::model(&arg, &fetcher(), &manifest())?;
        let model = resolve::load(&m)?;
        // What the model itself states: the static-shape rule is about the file the backend will get.
        let shapes = ShapeMap::from_model(&model, &HashMap::new());
        // One feed per model for every backend's run, resolved as `run` and `bench` do; with --verify, a symbolic
        // dim nobody gave is discovered on the reference backend.
        let asked = discover::Asked {
            path: &m.path,
            model: &model,
            label: &m.label,
            feed_flags: &a.feed,
            dim_flags: &a.dim,
            defaults: &m.default_feed,
        };
        let (fitted, discovered) = discover::fit_or_discover(
            &asked,
            reference,
            &runs,
            Some(&edgebench_models::cache_dir().join("discovered")),
        );
        // One shape oracle per model: its facts are inferred once for every backend's prediction.
        let memo = (fitted.as_ref().ok().zip(oracle))
            .map(|(f, o)| compat::oracle(o, &resolve::input_specs(&f.specs)));
        if let (Ok(f), true) = (&fitted, a.verify && !a.json) {
            resolve::print_notes(f);
        }
        let feed = feed_of(&fitted);
        let scratch = a.verify.then(tempfile::tempdir).transpose()?;
        let mut backends = vec![];
        for (name, t) in &tables {
            // By default a model is judged on the backends that read its format (ONNX or TFLite).
            if a.backend.is_empty()
                && registry
                    .get(name)
                    .is_ok_and(|b| !b.formats().contains(&model.format))
            {
                continue;
            }
            let check = check(&model, t, &shapes);
            let verified = a
                .verify
                .then(|| verify(&m.path, &feed, name, check.verdict.predicts_runs(), &runs));
            let mut after = None;
            if let (Some(o), true) = (&memo, check.verdict != Verdict::Runs) {
                let predicted = compat::after_rewrites(&model, t, o);
                if let Some((rules, rewritten)) = predicted {
                    let mut r = AfterRewrites {
                        verdict: Verdict::Runs,
                        rules,
                        verification: None,
                    };
                    if let Some(scratch) = &scratch {
                        let p = scratch.path().join(format!("{name}.onnx"));
                        edgebench_graph::save(&rewritten, &p).map_err(|e| fail(USAGE, e))?;
                        r.verification = Some(verify(&p, &feed, name, Some(true), &runs));
                    }
                    after = Some(r);
                }
            }
            let ran = matches!(verified, Some(Verification::Agree { ran: true }));
            let placement = placement_layer(
                &model,
                t,
                (a.verify && ran).then_some((&m.path, &feed, name, &runs)),
            );
            backends.push(Cell {
                check,
                verify: verified,
                after_rewrites: after,
                placement,
            });
        }
        reports.push(ModelReport {
            model: m.label.clone(),
            path: m.path.display().to_string(),
            discovered,
            backends,
        });
    }
    let all_run = reports
        .iter()
        .all(|r| r.backends.iter().all(|c| c.check.verdict == Verdict::Runs));
    let summary = a.verify.then(|| {
        VerifySummary::of(reports.iter().flat_map(|r| &r.backends).flat_map(|c| {
            let after = c
                .after_rewrites
                .as_ref()
                .and_then(|x| x.verification.as_ref());
            let placed = c.placement.as_ref().and_then(|p| p.verification.as_ref());
            c.verify.iter().chain(after).chain(placed)
        }))
    });
    let held = summary.as_ref().map(|s| s.wrong == 0);
    let doc = Document {
        format_version: FORMAT_VERSION,
        tables: tables
            .iter()
            .map(|(n, t)| (n.clone(), t.header.version.clone()))
            .collect(),
        models: reports,
        all_run,
        predictions_held: held,
        verify_summary: summary,
    };
    if a.json {
        print_json(&doc)?;
    } else {
        matrix::print(&doc);
    }
    if edgebench_bench::interrupted() {
        return Err(edgebench_bench::Error::Interrupted(
            "check --verify interrupted: cells not run are `not verified (interrupted)` above"
                .into(),
        )
        .into());
    }
    if held == Some(false) {
        return Err(fail(
            crate::exit::PREDICTION_WRONG,
            "check --verify: some verified predictions were wrong (see above)",
        ));
    }
    if !all_run {
        return Err(fail(
            crate::exit::NOT_ALL_RUN,
            "check: not every model runs on every backend",
        ));
    }
    Ok(())
}
