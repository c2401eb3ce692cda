//! `edgebench probe --backend B`: the ONNX conformance node suite on one backend, each test in its own child
//! process (`edgebench probe-one`), regenerating the probed part of the backend's support table. With
//! `--observe MODEL`, instead: run real models whose ops the table does not list and record what they show.

use super::{fetcher, manifest};
use crate::exit::{USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::conformance;
use edgebench_compat::probe::summary_line;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Backend to probe.
    #[arg(long, short)]
    backend: String,
    /// The node-test folder (default: the cached `onnx-conformance` data; `edgebench models fetch onnx-conformance`).
    #[arg(long, value_name = "DIR")]
    tests: Option<PathBuf>,
    /// Only tests whose folder name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Parallel child processes (default: the number of CPUs).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Seconds before a test is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Where to write the regenerated table (default: backends/<B>/ops.toml under the current folder). Hand-kept
    /// constraints of the existing file are kept.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write every test's outcome as JSON lines here.
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
    /// Instead of the conformance suite: run this model (file, zoo or fixture name; repeatable) on the backend and
    /// record what it shows about the ops the table does not list, as `observed` constraints.
    #[arg(long, value_name = "MODEL")]
    observe: Vec<String>,
    /// `--observe`: a symbolic dim's value, `NAME=VALUE` (otherwise found by feed discovery).
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct OneArgs {
    #[arg(long, short)]
    backend: String,
    /// One conformance test folder (model.onnx + test_data_set_0/).
    dir: PathBuf,
}

/// Runs one test in this process and prints its outcome (the `probe-one` child).
pub fn probe_one(a: OneArgs, registry: &Registry) -> Result<()> {
    edgebench_bench::injected_fault();
    let (backend, _) = edgebench_bench::machine::available(registry, &a.backend)?;
    let outcome = conformance::run_test(&a.dir, backend)?;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    if !a.observe.is_empty() {
        return observe(&a, registry, ort_lib);
    }
    let (backend, version) = edgebench_bench::machine::available(registry, &a.backend)?;
    let name = backend.name();
    let tflite = backend.formats().contains(&edgebench_graph::Format::Tflite);
    let tests_dir = match &a.tests {
        Some(d) => d.clone(),
        None if tflite => tflite_suite(registry)?,
        None => {
            let c = fetcher()
                .fetch_conformance(&manifest().conformance)
                .map_err(|e| fail(crate::exit::FETCH_FAILED, e))?;
            c.node_dir
        }
    };
    let tests = conformance::list_tests(&tests_dir, a.filter.as_deref())?;
    if tests.is_empty() {
        return Err(fail(
            USAGE,
            format!(
                "{}: no conformance tests (model.onnx or model.tflite folders) match",
                tests_dir.display()
            ),
        ));
    }
    let out = a.out.clone().unwrap_or_else(|| {
        let embedded = edgebench_compat::EMBEDDED.iter().find(|(b, ..)| *b == name);
        PathBuf::from(embedded.map_or(format!("backends/{name}/ops.toml"), |e| e.1.to_string()))
    });
    let previous = conformance::previous_table(&out, name)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let exe = std::env::current_exe()?;
    let template = "probe {msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}";
    let bar = crate::terminal::progress(tests.len() as u64, template, false);
    bar.set_message(name.to_string());
    edgebench_bench::handle_interrupts();
    let started = std::time::Instant::now();
    let command = |dir: &Path| {
        let mut cmd = Command::new(&exe);
        cmd.args(["probe-one", "--backend", name]).arg(dir);
        if let Some(l) = ort_lib {
            cmd.arg("--ort-lib").arg(l);
        }
        cmd
    };
    let outcomes = conformance::run_all(&tests, jobs, a.timeout, command, || bar.inc(1));
    bar.finish_and_clear();
    if edgebench_bench::interrupted() {
        return Err(edgebench_bench::Error::Interrupted(format!(
            "probe interrupted after {} of {} tests; {} was not changed",
            outcomes.len(),
            tests.len(),
            out.display()
        ))
        .into());
    }
    let suite = if tflite {
        format!(
            "edgebench TFLite suite v{} (expected outputs: litert-ref)",
            conformance::TFLITE_SUITE_VERSION
        )
    } else {
        format!("onnx {} node tests", manifest().conformance.version)
    };
    let table = conformance::probed_table(
        backend,
        version,
        &suite,
        &outcomes,
        previous.as_ref(),
        a.filter.is_some(),
    );
    conformance::write_probe(&out, &table, a.outcomes.as_deref(), &outcomes)?;
    let supported = table.op.iter().filter(|e| e.supported).count();
    println!(
        "{name}: {} tests in {:.0} s: {}\n{}: {supported} of {} ops supported; table written to {}",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        summary_line(&outcomes),
        name,
        table.op.len(),
        out.display()
    );
    Ok(())
}

/// `probe --observe`: each model checked against the table, run when the table does not know some op, and what
/// the run proves added to the table (written only when something was learned).
fn observe(a: &Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    use edgebench_bench::observe::{Learned, learn, record};
    use edgebench_bench::{discover, prediction};
    let (backend, _) = edgebench_bench::machine::available(registry, &a.backend)?;
    let name = backend.name();
    let out = (a.out.clone()).unwrap_or_else(|| PathBuf::from(format!("backends/{name}/ops.toml")));
    let mut table = conformance::previous_table(&out, name)?.ok_or_else(|| {
        fail(
            USAGE,
            format!("{}: no support table for backend {name}", out.display()),
        )
    })?;
    let runs = prediction::Runs {
        timeout: a.timeout,
        memory_limit: None,
        ort_lib,
        backend_failed: crate::exit::BACKEND_FAILED,
    };
    let reference = edgebench_bench::machine::reference(registry);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let when = edgebench_report::html::utc(now)[..10].to_string();
    let mut added = 0;
    for arg in &a.observe {
        let m = crate::resolve::model(arg, &fetcher(), &manifest())?;
        let model = crate::resolve::load(&m)?;
        let shapes = edgebench_graph::stats::ShapeMap::from_model(&model, &Default::default());
        let c = edgebench_compat::check(&model, &table, &shapes);
        let learned = if c.unknown.is_empty() {
            Learned::NothingUnknown
        } else {
            let asked = discover::Asked {
                path: &m.path,
                model: &model,
                label: &m.label,
                feed_flags: &[],
                dim_flags: &a.dim,
                defaults: &m.default_feed,
            };
            let cache = edgebench_models::cache_dir().join("discovered");
            let (fitted, _) = discover::fit_or_discover(&asked, reference, &runs, Some(&cache));
            let feed = prediction::feed_of(&fitted);
            learn(&c, &prediction::verify(&m.path, &feed, name, None, &runs))
        };
        let n = record(&mut table, &c, &learned, &m.label, &when);
        added += n;
        let what = match &learned {
            Learned::NothingUnknown => "every op is in the table: nothing to learn".to_string(),
            Learned::Runs { ops } => format!("ran: {} run ({n} recorded)", ops.join(", ")),
            Learned::Fails { op, error } => {
                format!("failed: {op} does not run ({n} recorded): {error}")
            }
            Learned::CannotTell { ops, why } => {
                format!(
                    "failed, not recorded: cannot tell which of {} fails ({why})",
                    ops.join(", ")
                )
            }
            Learned::NotRun { why } => format!("not run, nothing recorded: {why}"),
        };
        println!("{} on {name}: {what}", m.label);
    }
    if added > 0 {
        conformance::write_probe(&out, &table, None, &[])?;
        println!(
            "{name}: {added} observed constraint(s) written to {}",
            out.display()
        );
    }
    Ok(())
}

/// edgebench's TFLite suite in the cache, made on first use with expected outputs from LiteRT's reference kernels.
fn tflite_suite(registry: &Registry) -> Result<PathBuf> {
    let (reference, _) = edgebench_bench::machine::available(registry, "litert-ref")?;
    let made = conformance::make_tflite_suite(&fetcher().cache, reference)?;
    for (case, why) in &made.dropped {
        eprintln!(
            "probe: {case} left out of the suite: the reference kernels could not run it: {why}"
        );
    }
    Ok(made.dir)
}
