//! `edgebench`: thin command-line edge over the harness and backend crates.

mod cmd;
mod exit;
mod flags;
mod registry;
mod resolve;
mod terminal;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Will this ONNX model run on the board, what must change so that it runs, and what does it cost?
#[derive(Parser, Debug)]
#[command(name = "edgebench", version, about, long_about = None)]
struct Cli {
    /// ONNX Runtime shared library to load (else ORT_DYLIB_PATH, EDGEBENCH_VENV, a `.venv`, or next to the binary).
    #[arg(long, global = true, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// LiteRT's libLiteRt.so to load (else EDGEBENCH_LITERT_LIB, EDGEBENCH_VENV, a `.venv`, or next to the binary).
    #[arg(long, global = true, value_name = "PATH")]
    litert_lib: Option<PathBuf>,
    /// ONNX Runtime with the OpenVINO provider for `ort-openvino` (else EDGEBENCH_ORT_OPENVINO_LIB, a
    /// `.venv-openvino` with the onnxruntime-openvino wheel, or next to the binary).
    #[arg(long, global = true, value_name = "PATH")]
    ort_openvino_lib: Option<PathBuf>,
    /// ONNX Runtime with the CUDA and TensorRT providers for `ort-cuda` and `ort-tensorrt` (else --ort-lib, e.g.
    /// JetPack's own library, EDGEBENCH_ORT_GPU_LIB, a `.venv-gpu` with the onnxruntime-gpu wheel).
    #[arg(long, global = true, value_name = "PATH")]
    ort_gpu_lib: Option<PathBuf>,
    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The facts of a model: opsets, inputs, outputs, op histogram (subgraphs included), parameters, FLOPs.
    Inspect(cmd::inspect::Args),
    /// One inference on a backend with a seeded feed; without MODEL, the embedded default plan.
    Run(cmd::run::Args),
    /// What a model costs: latency statistics, cold start, peak memory, energy, roofline; each cell isolated.
    Bench(cmd::bench::Args),
    /// Builds the runner for a target of targets.toml (cross-compiling), with that target's backends.
    Build(cmd::build::Args),
    /// One bench cell in this process (used by `bench`, one child per cell).
    #[command(hide = true)]
    BenchCell(cmd::cell::Args),
    /// Every backend: compiled in, available here (or why not), version; and the host.
    Doctor(cmd::doctor::Args),
    /// Will each model run on each backend? Predicted from the support tables; `--verify` also runs them.
    Check(cmd::check::Args),
    /// Rewrites a model so that it runs on a backend: rules chosen by its support table, each verified numerically.
    Rewrite(cmd::rewrite::Args),
    /// fp16 and int8 variants of a model, each judged against fp32 (drift, size, check verdict per backend).
    Variants(cmd::variants::Args),
    /// Runs the ONNX conformance node tests on one backend and regenerates its support table.
    Probe(cmd::probe::Args),
    /// One conformance test in this process (used by `probe`, one child per test).
    #[command(hide = true)]
    ProbeOne(cmd::probe::OneArgs),
    /// Where the time goes: per-op profile of each model on each backend with a profiler (FLOPs, bytes, roofs).
    Profile(cmd::profile::Args),
    /// One profile in this process (used by `profile`, one child per model x backend).
    #[command(hide = true)]
    ProfileOne(cmd::profile::OneArgs),
    /// Joins results.json files of the shards of one plan (`bench --partition`).
    Merge(cmd::merge::Args),
    /// The run history (SQLite): `history add RUN...`, `history show`.
    #[command(subcommand)]
    History(cmd::history::Command),
    /// The HTML report (or Markdown / JUnit) of a saved run; with --baseline, the gate's verdicts in it.
    Report(cmd::report::Args),
    /// The regression gate: a candidate run against a baseline run, from their raw samples.
    Gate(cmd::gate::Args),
    /// The model zoo: list, fetch into the cache.
    #[command(subcommand)]
    Models(cmd::models::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn,wgpu_hal=error,wgpu_core=error,naga=error",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDGEBENCH_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: never in pipes, CI logs or child processes, never with NO_COLOR.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    // Panics inside backends are caught and reported as backend failures (`Guarded`); the default hook would still
    // print a multi-line note for them. Keep the message for `-vv` only.
    std::panic::set_hook(Box::new(|info| tracing::debug!("panic: {info}")));
    if let Some(p) = &cli.litert_lib {
        // SAFETY: set once at start-up, before any thread exists; children (bench cells) inherit it.
        unsafe { std::env::set_var("EDGEBENCH_LITERT_LIB", p) };
    }
    for (flag, var) in [
        (&cli.ort_openvino_lib, "EDGEBENCH_ORT_OPENVINO_LIB"),
        (&cli.ort_gpu_lib, "EDGEBENCH_ORT_GPU_LIB"),
    ] {
        if let Some(p) = flag {
            // SAFETY: as above.
            unsafe { std::env::set_var(var, p) };
        }
    }
    let registry = registry::build(cli.ort_lib.clone(), cli.litert_lib.clone());
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli, &registry)))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(anyhow::anyhow!("internal error: panicked: {what}"))
            });
    match result {
        Ok(()) => std::process::ExitCode::from(exit::OK),
        Err(e) => {
            let (code, msg) = exit::classify(&e);
            eprintln!("edgebench: error: {msg}");
            std::process::ExitCode::from(code)
        }
    }
}

fn dispatch(cli: Cli, registry: &edgebench_backend_api::Registry) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => cmd::inspect::run(a, registry),
        // One default plan: `run` without a model is `bench` with its defaults.
        Command::Run(a) => match a.default_plan() {
            Some((seed, timeout, json)) => {
                if !json {
                    eprintln!(
                        "edgebench: run without MODEL runs the default plan of `edgebench bench`"
                    );
                }
                let args = cmd::bench::Args::default_plan(seed, timeout, json)?;
                cmd::bench::run(args, registry, cli.ort_lib.as_deref())
            }
            None => cmd::run::run(a, registry),
        },
        Command::Doctor(a) => cmd::doctor::run(a, registry),
        Command::Models(c) => cmd::models::run(c),
        Command::Bench(a) => cmd::bench::run(a, registry, cli.ort_lib.as_deref()),
        Command::BenchCell(a) => cmd::cell::run(a, registry),
        Command::Build(a) => cmd::build::run(a),
        Command::Merge(a) => cmd::merge::run(a),
        Command::History(c) => cmd::history::run(c),
        Command::Report(a) => cmd::report::run(a),
        Command::Gate(a) => cmd::gate::run(a),
        Command::Check(a) => cmd::check::run(a, registry, cli.ort_lib.as_deref()),
        Command::Rewrite(a) => cmd::rewrite::run(a, registry),
        Command::Variants(a) => cmd::variants::run(a, registry),
        Command::Probe(a) => cmd::probe::run(a, registry, cli.ort_lib.as_deref()),
        Command::ProbeOne(a) => cmd::probe::probe_one(a, registry),
        Command::Profile(a) => cmd::profile::run(a, registry, cli.ort_lib.as_deref()),
        Command::ProfileOne(a) => cmd::profile::one(a, registry),
    }
}
