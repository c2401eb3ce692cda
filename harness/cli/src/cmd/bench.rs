//! `edgebench bench`: what a model costs on a target. Each (model x backend) cell runs in its own child process
//! (`edgebench bench-cell`), started small, with a timeout: cold start, adaptive steady-state sampling, peak memory,
//! CPU time, energy (sensor or power model) and outputs. The parent adds the roofline and the agreement with the
//! reference backend, and writes `reports/runs/<run-id>/results.json` with the raw samples beside it.

use super::cells::{Ended, last_error, run_cell};
use super::{fetcher, manifest, print_json};
use crate::exit::{BACKEND_FAILED, UNAVAILABLE, USAGE, fail};
use crate::resolve;
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_measure::energy::{PowerModel, Sensor};
use edgebench_measure::process;
use edgebench_measure::sampling::{self, StoppedBy};
use edgebench_measure::stats::Stats;
use edgebench_measure::targets::{Runner, SensorChoice, Target, Targets};
use edgebench_report::{
    self as report, Cell, ColdStart, Machine, Memory, Outcome, Results, Roofline, Settings,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `targets.toml` as committed, for when there is none in the current folder.
const EMBEDDED_TARGETS: &str = include_str!("../../../../targets.toml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model files, zoo names (cached) or fixture names. None: every fixture and every cached zoo model.
    models: Vec<String>,
    /// Every zoo model (must be cached).
    #[arg(long)]
    zoo: bool,
    /// Backends (default: the target's backends that are available here).
    #[arg(long, short)]
    backend: Vec<String>,
    /// Target from targets.toml.
    #[arg(long, default_value = "host")]
    target: String,
    /// The targets file (default: ./targets.toml if present, else the one built in).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Inputs for a single model argument, `NAME=DTYPE[SHAPE]` (zoo models use their manifest feed).
    #[arg(long = "feed", value_name = "SPEC")]
    feed: Vec<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop sampling when the 95% CI of the median is within this share of the median.
    #[arg(long, default_value_t = 0.01)]
    ci: f64,
    /// Seconds of sampling at most per cell.
    #[arg(long, default_value_t = 10.0)]
    max_time: f64,
    /// Seconds of warm-up (and at least 5 iterations).
    #[arg(long, default_value_t = 0.3)]
    warmup: f64,
    /// Seconds before a cell is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Where run folders are created.
    #[arg(long, default_value = "reports/runs")]
    out: PathBuf,
    /// Print results.json to stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CellArgs {
    model: String,
    #[arg(long)]
    backend: String,
    #[arg(long = "feed")]
    feed: Vec<String>,
    #[arg(long)]
    seed: u64,
    #[arg(long)]
    ci: f64,
    #[arg(long)]
    max_time: f64,
    #[arg(long)]
    warmup: f64,
    #[arg(long)]
    samples: PathBuf,
    #[arg(long)]
    outputs: PathBuf,
    #[arg(long)]
    idle_watts: f64,
    #[arg(long)]
    active_watts_per_core: f64,
    /// Read RAPL/hwmon when present.
    #[arg(long)]
    sensor: bool,
    #[arg(long)]
    target: String,
}

/// What a cell's child reports.
#[derive(Serialize, Deserialize, Debug)]
struct Measured {
    backend_version: String,
    cold_start: ColdStart,
    latency: Stats,
    stopped_by: StoppedBy,
    warmup_iterations: usize,
    memory: Memory,
    cpu_user_s: f64,
    cpu_sys_s: f64,
    energy: edgebench_measure::energy::Energy,
}

/// Measures one cell in this (fresh, small) process.
pub fn cell(a: CellArgs, registry: &Registry) -> Result<()> {
    super::injected_fault();
    let baseline = process::status_bytes("VmRSS").unwrap_or(0);
    process::reset_peak_rss();
    let m = resolve::model(&a.model, &fetcher(), &manifest())?;
    let model = resolve::load(&m)?;
    let specs = resolve::feed(&model, &m, &a.feed)?;
    drop(model);
    let (backend, version) = super::run::available(registry, &a.backend)?;
    let feed = resolve::tensors(&specs, a.seed)?;
    let inputs = resolve::input_specs(&specs);
    let label = &m.label;
    let t0 = Instant::now();
    let mut session = backend
        .load(&m.path, &inputs)
        .map_err(|e| fail(BACKEND_FAILED, format!("{label}: {e}")))?;
    let t1 = Instant::now();
    let outs = session
        .run(&feed)
        .map_err(|e| fail(BACKEND_FAILED, format!("{label}: {e}")))?;
    let t2 = Instant::now();
    let after_load = process::status_bytes("VmRSS").unwrap_or(0);
    edgebench_backend_api::save_tensors(&a.outputs, &outs)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.outputs.display()))?;
    let plan = sampling::Plan {
        warmup: Duration::from_secs_f64(a.warmup),
        target_rel_ci: a.ci,
        max_time: Duration::from_secs_f64(a.max_time),
        ..Default::default()
    };
    let sensor = if a.sensor {
        Sensor::find(
            Path::new("/sys/class/powercap"),
            Path::new("/sys/class/hwmon"),
        )
    } else {
        None
    };
    let run_err =
        |e: edgebench_backend_api::BackendError| fail(BACKEND_FAILED, format!("{label}: {e}"));
    let warmup_iters =
        sampling::warm_up(&plan, || session.run(&feed).map(drop)).map_err(run_err)?;
    // CPU time and energy cover the sampling phase only, like the latency samples.
    let u0 = process::usage();
    let reading = sensor.as_ref().and_then(Sensor::start);
    let mut sampled = sampling::measure(&plan, || session.run(&feed).map(drop)).map_err(run_err)?;
    sampled.warmup_iters = warmup_iters;
    let wall = sampled.wall.as_secs_f64();
    let used = process::usage().since(&u0);
    let n = sampled.samples_ns.len();
    let energy = match (&sensor, &reading) {
        (Some(s), Some(r)) => s.finish(r, wall, n),
        _ => None,
    }
    .unwrap_or_else(|| {
        PowerModel {
            idle_watts: a.idle_watts,
            active_watts_per_core: a.active_watts_per_core,
        }
        .estimate(wall, used.cpu_s(), n, &a.target)
    });
    let peak = process::status_bytes("VmHWM").unwrap_or(process::usage().max_rss_bytes);
    let text: String = sampled
        .samples_ns
        .iter()
        .map(|s| format!("{s:.0}\n"))
        .collect();
    report::write_atomic(&a.samples, text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let out = Measured {
        backend_version: version,
        cold_start: ColdStart {
            load_ms: ms(t1 - t0),
            first_inference_ms: ms(t2 - t1),
            total_ms: ms(t2 - t0),
        },
        latency: Stats::from_samples(&sampled.samples_ns),
        stopped_by: sampled.stopped_by,
        warmup_iterations: sampled.warmup_iters,
        memory: Memory {
            baseline_rss_bytes: baseline,
            peak_rss_bytes: peak,
            model_added_bytes: after_load as i64 - baseline as i64,
        },
        cpu_user_s: used.user_s,
        cpu_sys_s: used.sys_s,
        energy,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

fn load_targets(a: &Args) -> Result<Target> {
    let (text, file) = match &a.targets {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| fail(USAGE, format!("{}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        None if Path::new("targets.toml").is_file() => (
            std::fs::read_to_string("targets.toml")
                .map_err(|e| fail(USAGE, format!("targets.toml: {e}")))?,
            "targets.toml".into(),
        ),
        None => (
            EMBEDDED_TARGETS.to_string(),
            "targets.toml (built in)".into(),
        ),
    };
    let (targets, warnings) = Targets::parse(&text, &file).map_err(|e| fail(USAGE, e))?;
    for w in warnings {
        eprintln!("edgebench: warning: {w}");
    }
    let t = targets.target.get(&a.target).cloned().ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "{file}: no target `{}` (targets: {})",
                a.target,
                targets
                    .target
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    if t.runner != Runner::Local {
        return Err(fail(
            UNAVAILABLE,
            format!(
                "target `{}` uses the `{}` runner, which is not implemented yet (cross-compiled runs come with the qemu/ssh issue); use a local target such as `host`",
                a.target,
                if t.runner == Runner::Qemu {
                    "qemu"
                } else {
                    "ssh"
                }
            ),
        ));
    }
    Ok(t)
}

/// The machine record.
pub fn machine(registry: &Registry, emulated: bool) -> Machine {
    let h = super::doctor::host();
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .ok()
        .map(|s| s.trim().to_string());
    let backends = super::doctor::backend_facts(registry);
    Machine {
        cpu: h.cpu,
        logical_cores: h.logical_cores,
        physical_cores: h.physical_cores,
        memory_bytes: h.memory_bytes,
        os: h.os,
        kernel: h.kernel,
        arch: h.arch,
        governor,
        emulated,
        backends,
    }
}

fn models(a: &Args) -> Result<Vec<String>> {
    let f = fetcher();
    let m = manifest();
    let mut out = a.models.clone();
    if a.zoo {
        out.extend(super::zoo_names()?);
    }
    if out.is_empty() {
        out.extend(
            edgebench_graph::fixtures::NAMES
                .iter()
                .map(|s| s.to_string()),
        );
        out.extend(
            m.model
                .iter()
                .filter(|z| f.cached(z).is_some())
                .map(|z| z.name.clone()),
        );
    }
    if !a.feed.is_empty() && out.len() != 1 {
        return Err(fail(USAGE, "--feed needs exactly one model"));
    }
    Ok(out)
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    let target = load_targets(&a)?;
    let machine = machine(registry, false);
    let wanted: Vec<String> = if a.backend.is_empty() {
        target.backends.clone()
    } else {
        a.backend.clone()
    };
    let mut backends = vec![];
    for b in &wanted {
        let name = registry
            .get(b)
            .map_err(|e| fail(USAGE, e))?
            .name()
            .to_string();
        match machine.backends.iter().find(|f| f.name == name) {
            Some(f) if f.available => backends.push(name),
            Some(f) => {
                if !a.json {
                    eprintln!(
                        "edgebench: backend {name} is unavailable here: {}",
                        f.reason.clone().unwrap_or_default()
                    );
                }
            }
            None => {}
        }
    }
    if backends.is_empty() {
        return Err(fail(
            UNAVAILABLE,
            format!("none of the backends {wanted:?} is available here (see `edgebench doctor`)"),
        ));
    }
    let models = models(&a)?;
    // Resolve every model first: a bad argument fails before anything is measured.
    let mut flops = vec![];
    for m in &models {
        let r = super::inspect::analyse(m, &a.feed, registry, true)?;
        flops.push(r.summary.flops.total_flops);
    }
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (dir, run_id) = report::new_run_dir(&a.out, &format!("{started}-{}", a.target))
        .map_err(|e| fail(USAGE, e))?;
    std::fs::create_dir_all(dir.join("samples"))
        .map_err(|e| fail(USAGE, format!("{}: {e}", dir.display())))?;
    let scratch = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let bar = indicatif::ProgressBar::new((models.len() * backends.len()) as u64);
    if a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("bench [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut cells = vec![];
    for (mi, m) in models.iter().enumerate() {
        let mut row: Vec<(Cell, Option<PathBuf>)> = vec![];
        for b in &backends {
            bar.set_message(format!("{m} on {b}"));
            let safe = |s: &str| s.replace(['/', '\\', ' '], "_");
            let samples_rel = format!("samples/{}.{}.{}.txt", safe(&a.target), b, safe(m));
            let outputs = scratch.path().join(format!("{mi}.{b}.pb"));
            let mut cmd = Command::new(&exe);
            cmd.args([
                "bench-cell",
                m,
                "--backend",
                b,
                "--seed",
                &a.seed.to_string(),
            ])
            .args([
                "--ci",
                &a.ci.to_string(),
                "--max-time",
                &a.max_time.to_string(),
                "--warmup",
                &a.warmup.to_string(),
            ])
            .arg("--samples")
            .arg(dir.join(&samples_rel))
            .arg("--outputs")
            .arg(&outputs)
            .args(["--idle-watts", &target.power.idle_watts.to_string()])
            .args([
                "--active-watts-per-core",
                &target.power.active_watts_per_core.to_string(),
                "--target",
                &a.target,
            ]);
            if target.sensor == SensorChoice::Auto {
                cmd.arg("--sensor");
            }
            for f in &a.feed {
                cmd.args(["--feed", f]);
            }
            if let Some(l) = ort_lib {
                cmd.arg("--ort-lib").arg(l);
            }
            let (ended, timeout) = run_cell(cmd, a.timeout);
            let mut cell = Cell {
                target: a.target.clone(),
                backend: b.clone(),
                backend_version: machine
                    .backends
                    .iter()
                    .find(|f| &f.name == b)
                    .and_then(|f| f.version.clone()),
                model: m.clone(),
                variant: "fp32".into(),
                outcome: Outcome::Ok,
                cold_start: None,
                latency: None,
                stopped_by: None,
                warmup_iterations: None,
                samples_file: None,
                memory: None,
                cpu_user_s: None,
                cpu_sys_s: None,
                energy: None,
                roofline: None,
                agreement: None,
            };
            let mut saved = None;
            match ended {
                Ended::Exited {
                    code: 0, stdout, ..
                } => match serde_json::from_str::<Measured>(stdout.trim()) {
                    Ok(x) => {
                        let peak = if b == "wonnx" {
                            target.gpu_peak_gflops.unwrap_or(target.peak_gflops)
                        } else {
                            target.peak_gflops
                        };
                        // No roofline when the model's FLOPs are unknown (shapes could not be inferred).
                        if flops[mi] > 0 && x.latency.p50_ns > 0.0 {
                            let achieved = flops[mi] as f64 / x.latency.p50_ns;
                            cell.roofline = Some(Roofline {
                                model_flops: flops[mi],
                                achieved_gflops: achieved,
                                peak_gflops: peak,
                                share_of_peak: achieved / peak,
                            });
                        }
                        cell.backend_version = Some(x.backend_version);
                        cell.cold_start = Some(x.cold_start);
                        cell.latency = Some(x.latency);
                        cell.stopped_by = Some(x.stopped_by);
                        cell.warmup_iterations = Some(x.warmup_iterations);
                        cell.samples_file = Some(samples_rel);
                        cell.memory = Some(x.memory);
                        cell.cpu_user_s = Some(x.cpu_user_s);
                        cell.cpu_sys_s = Some(x.cpu_sys_s);
                        cell.energy = Some(x.energy);
                        saved = Some(outputs);
                    }
                    Err(e) => {
                        cell.outcome = Outcome::Failed {
                            exit_code: 0,
                            message: format!("unreadable cell report: {e}"),
                        }
                    }
                },
                Ended::Exited { code, stderr, .. } => {
                    cell.outcome = Outcome::Failed {
                        exit_code: code,
                        message: last_error(&stderr),
                    }
                }
                Ended::Signalled { signal, stderr } => {
                    cell.outcome = Outcome::Crashed {
                        signal,
                        message: super::cells::crash_message(signal, &stderr),
                    }
                }
                Ended::TimedOut => cell.outcome = Outcome::Timeout { seconds: timeout },
            }
            bar.inc(1);
            row.push((cell, saved));
        }
        agree(&mut row);
        for (c, _) in row {
            if !a.json {
                bar.suspend(|| println!("{}", line(&c)));
            }
            cells.push(c);
        }
    }
    bar.finish_and_clear();
    let results = Results {
        format_version: report::FORMAT_VERSION,
        run_id: run_id.clone(),
        started_unix: started,
        edgebench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EDGEBENCH_GIT_COMMIT").into(),
        machine,
        settings: Settings {
            target: a.target.clone(),
            seed: a.seed,
            target_rel_ci: a.ci,
            max_time_s: a.max_time,
            warmup_s: a.warmup,
            cell_timeout_s: a.timeout,
        },
        cells,
    };
    let path = report::save(&dir, &results).map_err(|e| fail(USAGE, e))?;
    if a.json {
        print_json(&results)?;
    } else {
        println!("results: {}", path.display());
    }
    Ok(())
}

/// Compares each cell's outputs with the reference.
fn agree(row: &mut [(Cell, Option<PathBuf>)]) {
    let saved: Vec<(String, Option<PathBuf>)> = row
        .iter()
        .map(|(c, p)| (c.backend.clone(), p.clone()))
        .collect();
    for ((cell, _), ag) in row.iter_mut().zip(super::agreement::row(&saved)) {
        cell.agreement = ag;
    }
}

fn line(c: &Cell) -> String {
    let head = format!("{:<22} {:<6}", c.model, c.backend);
    match (&c.outcome, &c.latency) {
        (Outcome::Ok, Some(l)) => {
            let ci = (l.median_ci95_ns[1] - l.median_ci95_ns[0]) / l.p50_ns * 100.0;
            let e = c.energy.as_ref().map(|e| {
                let kind = match e.source {
                    edgebench_measure::energy::Source::Measured { .. } => "measured",
                    edgebench_measure::energy::Source::Estimated { .. } => "est.",
                };
                format!("{:.3} mJ/inf ({kind})", e.joules_per_inference * 1e3)
            });
            let agree = match &c.agreement {
                None => String::new(),
                Some(a) if a.agree => format!(" = {}", a.reference),
                Some(a) => format!(" DIFFERS from {} ({:.1e})", a.reference, a.max_abs_error),
            };
            format!(
                "{head} p50 {:>9.3} ms  CI {:>4.1}%  p99 {:>9.3} ms  n {:>6} ({})  cold {:>8.1} ms  peak {:>7.1} MiB  {}  {}{agree}",
                l.p50_ns / 1e6,
                ci,
                l.p99_ns / 1e6,
                l.count,
                match c.stopped_by {
                    Some(StoppedBy::Precision) => "ci",
                    Some(StoppedBy::TimeCap) => "time cap",
                    Some(StoppedBy::SampleCap) => "sample cap",
                    None => "?",
                },
                c.cold_start
                    .as_ref()
                    .map(|x| x.total_ms)
                    .unwrap_or(f64::NAN),
                c.memory
                    .as_ref()
                    .map(|m| m.peak_rss_bytes as f64 / 1048576.0)
                    .unwrap_or(f64::NAN),
                e.unwrap_or_default(),
                c.roofline
                    .as_ref()
                    .map(|r| format!(
                        "{:.2} GFLOP/s ({:.1}% of peak)",
                        r.achieved_gflops,
                        r.share_of_peak * 100.0
                    ))
                    .unwrap_or_else(|| "FLOPs unknown".into()),
            )
        }
        (Outcome::Failed { exit_code, message }, _) => {
            format!("{head} failed (exit {exit_code}): {message}")
        }
        (Outcome::Crashed { signal, message }, _) => {
            format!("{head} crashed (signal {signal:?}): {message}")
        }
        (Outcome::Timeout { seconds }, _) => format!("{head} timeout after {seconds} s"),
        (Outcome::Ok, None) => format!("{head} ok (no samples)"),
    }
}
