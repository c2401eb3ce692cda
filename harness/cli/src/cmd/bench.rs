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
    /// Targets from targets.toml (repeatable; default `host`). Cells of all targets land in one results.json.
    #[arg(long)]
    target: Vec<String>,
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
    /// Run only this shard of the plan, `hash:M/N`: cells split deterministically by (target, backend, model,
    /// variant), so N machines share a plan; join the results with `edgebench merge`.
    #[arg(long, value_name = "hash:M/N")]
    partition: Option<String>,
    /// Resume this run folder: re-run only the cells that did not finish (the plan must be the same).
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
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

/// Parses the targets file (printing its warnings) and returns the named target.
pub fn find_target(name: &str, file: Option<&Path>) -> Result<Target> {
    let (text, file) = match file {
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
    targets.target.get(name).cloned().ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "{file}: no target `{name}` (targets: {})",
                targets
                    .target
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// Where and how the cells of one target run.
struct Site {
    name: String,
    target: Target,
    /// The cell command's program and leading arguments: this binary, or the target's runner under qemu.
    program: Vec<std::ffi::OsString>,
    /// Environment for cell commands (None: removed).
    env: Vec<(String, Option<std::ffi::OsString>)>,
    emulated: bool,
    facts: Vec<report::BackendFacts>,
    /// ssh targets: the board's settings, the runner and ORT library to copy there, the staged run folder, and why
    /// it could not be reached.
    ssh: Option<edgebench_measure::targets::Ssh>,
    upload: Vec<(PathBuf, String)>,
    remote: Option<super::remote::Remote>,
    unreachable: Option<String>,
}

/// The qemu-user binary and sysroot for a triple.
fn qemu_for(triple: &str) -> Option<(&'static str, &'static str)> {
    match triple {
        "aarch64-unknown-linux-gnu" => Some(("qemu-aarch64", "/usr/aarch64-linux-gnu")),
        _ => None,
    }
}

/// Backend facts as the runner of a target reports them (`doctor --json`, under its runner).
fn remote_facts(
    program: &[std::ffi::OsString],
    env: &[(String, Option<std::ffi::OsString>)],
) -> Result<Vec<report::BackendFacts>, String> {
    let mut cmd = Command::new(&program[0]);
    cmd.args(&program[1..]).args(["doctor", "--json"]);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    match run_cell(cmd, 120).0 {
        Ended::Exited {
            code: 0, stdout, ..
        } => {
            let v: serde_json::Value = serde_json::from_str(&stdout)
                .map_err(|e| format!("unreadable doctor report: {e}"))?;
            serde_json::from_value(v["backends"].clone())
                .map_err(|e| format!("unreadable doctor report: {e}"))
        }
        Ended::Exited { code, stderr, .. } => Err(format!("exit {code}: {}", last_error(&stderr))),
        Ended::Signalled { signal, stderr } => Err(super::cells::crash_message(signal, &stderr)),
        Ended::TimedOut => Err("no answer within 120 s".into()),
    }
}

fn prepare(
    name: &str,
    target: Target,
    registry: &Registry,
    ort_lib: Option<&Path>,
) -> Result<Site> {
    match target.runner {
        Runner::Local => {
            let mut program = vec![std::env::current_exe()?.into_os_string()];
            if let Some(l) = ort_lib {
                program.push("--ort-lib".into());
                program.push(l.into());
            }
            Ok(Site {
                name: name.into(),
                target,
                program,
                env: vec![],
                emulated: false,
                facts: super::doctor::backend_facts(registry),
                ssh: None,
                upload: vec![],
                remote: None,
                unreachable: None,
            })
        }
        Runner::Qemu => {
            let (qemu, sysroot) = qemu_for(&target.triple).ok_or_else(|| {
                fail(
                    UNAVAILABLE,
                    format!(
                        "target `{name}`: no qemu-user runner known for {}",
                        target.triple
                    ),
                )
            })?;
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let dir = root.join("target").join(&target.triple).join("release");
            let bin = dir.join("edgebench");
            if !bin.is_file() {
                return Err(fail(
                    UNAVAILABLE,
                    format!(
                        "target `{name}`: no runner at {}; run `edgebench build --target {name}` first",
                        bin.display()
                    ),
                ));
            }
            let program: Vec<std::ffi::OsString> = vec![
                qemu.into(),
                "-L".into(),
                sysroot.into(),
                bin.into_os_string(),
            ];
            let lib = dir.join(format!("libonnxruntime.so.{}", super::build::ORT_VERSION));
            let mut env = vec![(
                "ORT_DYLIB_PATH".to_string(),
                lib.is_file().then(|| lib.clone().into_os_string()),
            )];
            let facts = match remote_facts(&program, &env) {
                Ok(f) => f,
                Err(crash) => {
                    // The backend that brought the runner down at start-up is ONNX Runtime (its CPU detection needs
                    // qemu >= 10): report it unavailable with the reason, keep the others.
                    let off = vec![(
                        "ORT_DYLIB_PATH".to_string(),
                        Some(std::ffi::OsString::from("/nonexistent/ort-disabled")),
                    )];
                    let mut f = remote_facts(&program, &off).map_err(|e| {
                        fail(
                            UNAVAILABLE,
                            format!("target `{name}`: the runner fails under {qemu}: {e}"),
                        )
                    })?;
                    for b in f.iter_mut().filter(|b| b.name == "ort") {
                        b.available = false;
                        b.version = None;
                        b.reason = Some(format!(
                            "ONNX Runtime crashed while starting under {qemu} ({crash}); its CPU detection needs qemu >= 10 (Debian bookworm-backports)"
                        ));
                    }
                    env = off;
                    f
                }
            };
            Ok(Site {
                name: name.into(),
                target,
                program,
                env,
                emulated: true,
                facts,
                ssh: None,
                upload: vec![],
                remote: None,
                unreachable: None,
            })
        }
        Runner::Ssh => {
            let cfg = target.ssh.clone().ok_or_else(|| {
                fail(
                    USAGE,
                    format!("target `{name}`: runner ssh without an ssh table"),
                )
            })?;
            // The runner: this very binary when the board has this machine's triple, else the cross-built one.
            let (bin, ort) = if target.triple == env!("EDGEBENCH_HOST_TRIPLE") {
                let ort = edgebench_backend_ort_lib(ort_lib);
                (std::env::current_exe()?, ort)
            } else {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../..")
                    .join("target")
                    .join(&target.triple)
                    .join("release");
                let lib = dir.join(format!("libonnxruntime.so.{}", super::build::ORT_VERSION));
                (dir.join("edgebench"), lib.is_file().then_some(lib))
            };
            if !bin.is_file() {
                return Err(fail(
                    UNAVAILABLE,
                    format!(
                        "target `{name}`: no runner at {}; run `edgebench build --target {name}` first",
                        bin.display()
                    ),
                ));
            }
            let mut upload = vec![(bin, "edgebench".to_string())];
            if let Some(l) = ort.filter(|_| target.backends.iter().any(|b| b == "ort")) {
                upload.push((
                    l,
                    format!("libonnxruntime.so.{}", super::build::ORT_VERSION),
                ));
            }
            Ok(Site {
                name: name.into(),
                target,
                program: vec![],
                env: vec![],
                emulated: false,
                facts: vec![],
                ssh: Some(cfg),
                upload,
                remote: None,
                unreachable: None,
            })
        }
    }
}

/// The ONNX Runtime library this process would load, to ship to a board of the same platform.
fn edgebench_backend_ort_lib(explicit: Option<&Path>) -> Option<PathBuf> {
    #[cfg(feature = "ort")]
    {
        edgebench_backend_ort::locate(explicit).ok().map(|l| l.path)
    }
    #[cfg(not(feature = "ort"))]
    {
        let _ = explicit;
        None
    }
}

/// Copies the runner, the ORT library and the models to an ssh target and asks its runner for its backends.
fn stage(site: &mut Site, run_id: &str, models: &[(PathBuf, Vec<String>)]) {
    let Some(cfg) = &site.ssh else { return };
    let remote = super::remote::Remote::new(cfg, run_id, &site.name);
    let mut files: Vec<(&Path, String)> = site
        .upload
        .iter()
        .map(|(p, n)| (p.as_path(), n.clone()))
        .collect();
    for (mi, (p, _)) in models.iter().enumerate() {
        files.push((p.as_path(), format!("models/{mi}.onnx")));
    }
    let staged = remote.put(&files).and_then(|()| {
        let cmd = remote.command(&[
            format!("{}/edgebench", remote.root),
            "doctor".into(),
            "--json".into(),
        ]);
        match run_cell(cmd, 120).0 {
            Ended::Exited {
                code: 0, stdout, ..
            } => serde_json::from_str::<serde_json::Value>(&stdout)
                .ok()
                .and_then(|v| {
                    serde_json::from_value::<Vec<report::BackendFacts>>(v["backends"].clone()).ok()
                })
                .ok_or_else(|| "unreadable doctor report from the board".to_string()),
            Ended::Exited { code, stderr, .. } => Err(format!(
                "the runner's doctor failed on the board (exit {code}): {}",
                last_error(&stderr)
            )),
            Ended::Signalled { signal, stderr } => {
                Err(super::cells::crash_message(signal, &stderr))
            }
            Ended::TimedOut => Err("the runner's doctor did not answer within 120 s".into()),
        }
    });
    match staged {
        Ok(facts) => site.facts = facts,
        Err(e) => site.unreachable = Some(e),
    }
    site.remote = Some(remote);
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
    let names: Vec<String> = if a.target.is_empty() {
        vec!["host".into()]
    } else {
        a.target.clone()
    };
    let mut sites = vec![];
    for n in &names {
        let t = find_target(n, a.targets.as_deref())?;
        sites.push(prepare(n, t, registry, ort_lib)?);
    }
    let machine = machine(registry, false);
    let models = models(&a)?;
    // Resolve every model and its feed first: a bad argument fails before anything is measured.
    let mut flops = vec![];
    let mut local: Vec<(PathBuf, Vec<String>)> = vec![];
    for m in &models {
        flops.push(
            super::inspect::analyse(m, &a.feed, registry, true)?
                .summary
                .flops
                .total_flops,
        );
        let r = resolve::model(m, &fetcher(), &manifest())?;
        let ir = resolve::load(&r)?;
        let specs = resolve::feed(&ir, &r, &a.feed)?;
        local.push((
            r.path.clone(),
            specs.iter().map(|s| s.to_string()).collect(),
        ));
    }
    let mut requested: Vec<(usize, String)> = vec![];
    for (si, s) in sites.iter().enumerate() {
        let wanted: Vec<String> = if a.backend.is_empty() {
            s.target.backends.clone()
        } else {
            a.backend.clone()
        };
        for b in &wanted {
            let name = registry
                .get(b)
                .map(|x| x.name().to_string())
                .or_else(|e| match e {
                    edgebench_backend_api::RegistryError::NotCompiled { name, .. } => Ok(name),
                    e => Err(fail(USAGE, e)),
                })?;
            requested.push((si, name));
        }
    }
    let partition = a
        .partition
        .as_deref()
        .map(report::Partition::parse)
        .transpose()
        .map_err(|e| fail(USAGE, e))?;
    // The plan's identity: the same for every shard of it and across resumes, different for anything that
    // changes what is measured. Availability is not part of it: a board that was unreachable may be back.
    let plan_key = serde_json::json!({
        "models": models, "cells": requested.iter().map(|(si, b)| format!("{}/{b}", sites[*si].name)).collect::<Vec<_>>(),
        "seed": a.seed, "ci": a.ci, "max_time": a.max_time, "warmup": a.warmup, "feed": a.feed,
        "partitions": partition.map(|p| p.count),
    });
    let plan_id = format!("{:016x}", report::fnv1a(plan_key.to_string().as_bytes()));
    let in_shard = |target: &str, backend: &str, model: &str| {
        partition.is_none_or(|p| p.contains(target, backend, model, "fp32"))
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (dir, run_id, kept) = match &a.resume {
        Some(d) => {
            let prev = report::load(&d.join("results.json")).map_err(|e| fail(USAGE, e))?;
            if prev.plan_id != plan_id || prev.partition != partition {
                return Err(fail(
                    USAGE,
                    format!(
                        "{}: a run of another plan; resume it with the same models, targets, backends and settings",
                        d.display()
                    ),
                ));
            }
            let done: Vec<Cell> = prev
                .cells
                .into_iter()
                .filter(|c| c.outcome == Outcome::Ok)
                .collect();
            (d.clone(), prev.run_id, done)
        }
        None => {
            let (d, id) = report::new_run_dir(&a.out, &format!("{started}-{}", names.join("+")))
                .map_err(|e| fail(USAGE, e))?;
            (d, id, vec![])
        }
    };
    for sub in ["samples", "outputs"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| fail(USAGE, format!("{}: {e}", dir.display())))?;
    }
    for s in sites.iter_mut() {
        stage(s, &run_id, &local);
        if let (Some(why), false) = (&s.unreachable, a.json) {
            eprintln!("edgebench: {}: cannot use the board: {why}", s.name);
        }
    }
    let mut plan: Vec<(usize, String)> = vec![];
    for (si, b) in &requested {
        let s = &sites[*si];
        match s.facts.iter().find(|f| &f.name == b) {
            Some(f) if f.available => plan.push((*si, b.clone())),
            Some(f) => {
                if !a.json {
                    eprintln!(
                        "edgebench: {}: backend {b} is unavailable: {}",
                        s.name,
                        f.reason.clone().unwrap_or_default()
                    );
                }
            }
            // An unreachable board: its cells are recorded with the reason.
            None if s.unreachable.is_some() => plan.push((*si, b.clone())),
            None => {}
        }
    }
    for s in &sites {
        if s.emulated && !a.json {
            eprintln!(
                "edgebench: {}: runs under qemu-user emulation: its timings say nothing about the board",
                s.name
            );
        }
    }
    if plan.is_empty() {
        return Err(fail(
            UNAVAILABLE,
            "no requested backend is available on any requested target (see `edgebench doctor`)",
        ));
    }
    let total = models
        .iter()
        .map(|m| {
            plan.iter()
                .filter(|(si, b)| in_shard(&sites[*si].name, b, m))
                .count()
        })
        .sum::<usize>();
    let bar = indicatif::ProgressBar::new(total as u64);
    if a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("bench [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let results = |cells: Vec<Cell>| Results {
        format_version: report::FORMAT_VERSION,
        run_id: run_id.clone(),
        started_unix: started,
        edgebench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EDGEBENCH_GIT_COMMIT").into(),
        machine: machine.clone(),
        targets: sites
            .iter()
            .map(|s| report::TargetRecord {
                name: s.name.clone(),
                triple: s.target.triple.clone(),
                runner: format!("{:?}", s.target.runner).to_lowercase(),
                emulated: s.emulated,
                backends: s.facts.clone(),
            })
            .collect(),
        settings: Settings {
            targets: names.clone(),
            seed: a.seed,
            target_rel_ci: a.ci,
            max_time_s: a.max_time,
            warmup_s: a.warmup,
            cell_timeout_s: a.timeout,
        },
        plan_id: plan_id.clone(),
        partition,
        merged_from: vec![],
        cells,
    };
    let mut cells: Vec<Cell> = vec![];
    for (mi, m) in models.iter().enumerate() {
        let mut row: Vec<(Cell, Option<PathBuf>)> = vec![];
        for (si, b) in &plan {
            let site = &sites[*si];
            if !in_shard(&site.name, b, m) {
                continue;
            }
            let safe = |s: &str| s.replace(['/', '\\', ' '], "_");
            if let Some(done) = kept
                .iter()
                .find(|c| c.target == site.name && &c.backend == b && &c.model == m)
            {
                // Its outputs stay in the run folder, so cells re-run now are still compared with it.
                let saved = dir.join(format!("outputs/{}.{}.{}.pb", safe(&site.name), b, safe(m)));
                row.push((done.clone(), saved.is_file().then_some(saved)));
                bar.inc(1);
                continue;
            }
            bar.set_message(format!("{m} on {b} ({})", site.name));
            let samples_rel = format!("samples/{}.{}.{}.txt", safe(&site.name), b, safe(m));
            let outputs = dir.join(format!("outputs/{}.{}.{}.pb", safe(&site.name), b, safe(m)));
            let mut cell = Cell {
                target: site.name.clone(),
                emulated: site.emulated,
                backend: b.clone(),
                backend_version: site
                    .facts
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
            let common: Vec<String> = [
                vec![
                    "--backend".into(),
                    b.clone(),
                    "--seed".into(),
                    a.seed.to_string(),
                ],
                vec![
                    "--ci".into(),
                    a.ci.to_string(),
                    "--max-time".into(),
                    a.max_time.to_string(),
                    "--warmup".into(),
                    a.warmup.to_string(),
                ],
                vec![
                    "--idle-watts".into(),
                    site.target.power.idle_watts.to_string(),
                ],
                vec![
                    "--active-watts-per-core".into(),
                    site.target.power.active_watts_per_core.to_string(),
                    "--target".into(),
                    site.name.clone(),
                ],
                if site.target.sensor == SensorChoice::Auto && !site.emulated {
                    vec!["--sensor".into()]
                } else {
                    vec![]
                },
            ]
            .concat();
            let ended = if let Some(why) = &site.unreachable {
                None.ok_or_else(|| why.clone())
            } else if let Some(r) = &site.remote {
                // On the board: its own paths, and the feed spelled out (the board has no zoo manifest cache).
                let remote_out = format!("out/{mi}.{si}.{b}");
                let mut args = vec![
                    format!("{}/edgebench", r.root),
                    "bench-cell".into(),
                    format!("{}/models/{mi}.onnx", r.root),
                ];
                args.extend(common.clone());
                args.extend([
                    "--samples".into(),
                    format!("{}/{remote_out}.txt", r.root),
                    "--outputs".into(),
                    format!("{}/{remote_out}.pb", r.root),
                ]);
                for f in &local[mi].1 {
                    args.extend(["--feed".into(), f.clone()]);
                }
                let ended = run_cell(r.command(&args), a.timeout);
                if matches!(ended.0, Ended::Exited { code: 0, .. }) {
                    match r
                        .get(&format!("{remote_out}.txt"), &dir.join(&samples_rel))
                        .and_then(|()| r.get(&format!("{remote_out}.pb"), &outputs))
                    {
                        Ok(()) => Ok(ended),
                        Err(e) => Err(e),
                    }
                } else {
                    Ok(ended)
                }
            } else {
                let mut cmd = Command::new(&site.program[0]);
                cmd.args(&site.program[1..])
                    .args(["bench-cell", m])
                    .args(&common)
                    .arg("--samples")
                    .arg(dir.join(&samples_rel))
                    .arg("--outputs")
                    .arg(&outputs);
                for f in &a.feed {
                    cmd.args(["--feed", f]);
                }
                for (k, v) in &site.env {
                    match v {
                        Some(v) => cmd.env(k, v),
                        None => cmd.env_remove(k),
                    };
                }
                Ok(run_cell(cmd, a.timeout))
            };
            let mut saved = None;
            match ended {
                Err(why) => {
                    cell.outcome = Outcome::Failed {
                        exit_code: super::remote::SSH_CONNECTION_FAILED,
                        message: format!("{}: {why}", site.name),
                    }
                }
                Ok((
                    Ended::Exited {
                        code: 0, stdout, ..
                    },
                    _,
                )) => match serde_json::from_str::<Measured>(stdout.trim()) {
                    Ok(x) => {
                        let peak = if b == "wonnx" {
                            site.target
                                .gpu_peak_gflops
                                .unwrap_or(site.target.peak_gflops)
                        } else {
                            site.target.peak_gflops
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
                Ok((Ended::Exited { code, stderr, .. }, _)) => {
                    let msg = last_error(&stderr);
                    let msg =
                        if site.remote.is_some() && code == super::remote::SSH_CONNECTION_FAILED {
                            format!("ssh connection to {} failed: {msg}", site.name)
                        } else {
                            msg
                        };
                    cell.outcome = Outcome::Failed {
                        exit_code: code,
                        message: msg,
                    }
                }
                Ok((Ended::Signalled { signal, stderr }, _)) => {
                    cell.outcome = Outcome::Crashed {
                        signal,
                        message: super::cells::crash_message(signal, &stderr),
                    }
                }
                Ok((Ended::TimedOut, t)) => cell.outcome = Outcome::Timeout { seconds: t },
            }
            bar.inc(1);
            row.push((cell, saved));
            // Saved after every cell: an interrupted run can be resumed with --resume.
            let so_far: Vec<Cell> = cells
                .iter()
                .cloned()
                .chain(row.iter().map(|(c, _)| c.clone()))
                .collect();
            report::save(&dir, &results(so_far)).map_err(|e| fail(USAGE, e))?;
        }
        agree(&mut row);
        for (c, _) in row {
            if !a.json {
                bar.suspend(|| println!("{}", line(&c, sites.len() > 1)));
            }
            cells.push(c);
        }
    }
    bar.finish_and_clear();
    for s in &sites {
        if let (Some(r), None) = (&s.remote, &s.unreachable) {
            if let Err(e) = r.clean() {
                eprintln!(
                    "edgebench: {}: could not remove {} on the board: {e}",
                    s.name, r.root
                );
            }
        }
    }
    let results = results(cells);
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
    // Emulated cells never serve as the reference; they are compared with a real one.
    let saved: Vec<(String, bool, Option<PathBuf>)> = row
        .iter()
        .map(|(c, p)| (c.backend.clone(), !c.emulated, p.clone()))
        .collect();
    for ((cell, p), ag) in row.iter_mut().zip(super::agreement::row(&saved)) {
        if p.is_some() {
            cell.agreement = ag;
        }
    }
}

fn line(c: &Cell, show_target: bool) -> String {
    let head = if show_target {
        format!(
            "{:<22} {:<10} {:<6}{}",
            c.model,
            c.target,
            c.backend,
            if c.emulated { " (emulated)" } else { "" }
        )
    } else {
        format!("{:<22} {:<6}", c.model, c.backend)
    };
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
