//! `edgebench probe --backend B`: the ONNX conformance node suite on one backend, each test in its own child
//! process (`edgebench probe-one`), regenerating the probed part of the backend's support table.

use super::{fetcher, manifest};
use crate::exit::{USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_bench::conformance::{self, ATOL, RTOL};
use edgebench_compat::probe::{summary_line, table_from_probe};
use edgebench_compat::table::{Header, SupportTable};
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
    let (backend, version) = edgebench_bench::machine::available(registry, &a.backend)?;
    let name = backend.name();
    let tests_dir = match &a.tests {
        Some(d) => d.clone(),
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
                "{}: no conformance tests (model.onnx folders) match",
                tests_dir.display()
            ),
        ));
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("backends/{name}/ops.toml")));
    let previous = match std::fs::read_to_string(&out) {
        Ok(text) => Some(
            SupportTable::parse(&text, &out.display().to_string()).map_err(|e| fail(USAGE, e))?,
        ),
        Err(_) => edgebench_compat::embedded(name).and_then(Result::ok),
    };
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let exe = std::env::current_exe()?;
    let bar = indicatif::ProgressBar::new(tests.len() as u64);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "probe {msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
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
    let host = edgebench_bench::machine::host();
    let adapter = match backend.availability() {
        edgebench_backend_api::Availability::Available { details, .. } => details
            .iter()
            .find(|(k, _)| k == "adapter")
            .map(|(_, v)| format!(", adapter {v}"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let header = Header {
        backend: name.into(),
        version,
        probed_with: format!(
            "onnx {} node tests ({} run)",
            manifest().conformance.version,
            outcomes.len()
        ),
        probed_on: format!(
            "{} ({} cores), {}{adapter}",
            host.cpu, host.logical_cores, host.arch
        ),
        tolerance: format!("|got - expected| <= {ATOL:e} + {RTOL:e} * |expected|"),
        probe_summary: summary_line(&outcomes),
        max_opset: None,
    };
    let table = table_from_probe(header, &outcomes, previous.as_ref(), a.filter.is_some());
    if let Some(p) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?;
    }
    edgebench_graph::write_atomic(&out, table.to_toml().as_bytes())
        .map_err(|e| fail(USAGE, format!("{}: {e}", out.display())))?;
    if let Some(p) = &a.outcomes {
        let lines: Vec<String> = outcomes
            .iter()
            .filter_map(|o| serde_json::to_string(o).ok())
            .collect();
        edgebench_graph::write_atomic(p, (lines.join("\n") + "\n").as_bytes())
            .map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?;
    }
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
