//! `edgebench bench`: what a model costs on a target. Resolves the words (models, feeds, backends, targets) into a
//! plan and hands it to `edgebench_bench`, which runs each cell in its own child process (`bench-cell`) and writes
//! `reports/runs/<run-id>/results.json`; this file only prints (the terminal table and progress bar).

use super::{fetcher, manifest, print_json};
use crate::exit::{USAGE, fail};
use crate::resolve;
use crate::terminal::Terminal;
use anyhow::Result;
use edgebench_backend_api::{Registry, RegistryError};
use edgebench_bench::events::ResultsWriter;
use edgebench_bench::orchestrate::{self, RunInfo, Start};
use edgebench_bench::plan::{self, Plan, PlanModel, Site};
use edgebench_bench::runner::{self, Context};
use edgebench_bench::{machine, targets};
use edgebench_report::{Partition, Settings};
use std::path::{Path, PathBuf};

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
    /// A symbolic dim's value, `NAME=VALUE`, wherever it appears (repeatable). Leading batch dims default to 1.
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dim: Vec<String>,
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
    /// Fresh processes per cell, sharing `--max-time` (each has its own cold start and warm-up): the gate then sees
    /// how much this machine's speed differs from one process to the next. 5 is a good setting for baselines.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    processes: u16,
    /// Seconds before a cell is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Address-space limit of each cell's process, bytes with optional K/M/G/T (default: this machine's memory;
    /// `none` for no limit). An allocation beyond it is that cell's outcome, not the kernel's OOM killer's.
    #[arg(long, value_name = "BYTES")]
    memory_limit: Option<String>,
    /// Run only this shard of the plan, `hash:M/N`: cells split deterministically by (target, backend, model,
    /// variant), so N machines share a plan; join the results with `edgebench merge`.
    #[arg(long, value_name = "hash:M/N")]
    partition: Option<String>,
    /// Variants to run besides fp32, comma-separated: fp16, fp16-weights, int8-dynamic, int8-static (made before the
    /// run on this machine, cached; each cell records its ratios to the fp32 cell).
    #[arg(long, value_delimiter = ',', value_name = "V,...")]
    variants: Vec<String>,
    /// Resume this run folder: re-run only the cells that did not finish (the plan must be the same).
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Where run folders are created.
    #[arg(long, default_value = "reports/runs")]
    out: PathBuf,
    /// Print results.json to stdout.
    #[arg(long)]
    json: bool,
    /// Threads per inference for backends that take a count: ONNX Runtime's intra-op pool (tract runs on one
    /// thread, wonnx on the GPU). Default: the backend's own choice. `--threads 1` keeps a gate on a 2-core VM
    /// from measuring the pool's scheduling (BENCHMARKS.md).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Interleaved A/B session: every cell runs as two children per side that take turns (a b b a ...), side a
    /// this binary as is, side b changed by --b-exe/--b-env/--b-model; turns go on until the turn ratio's interval
    /// decides the cell at --threshold, its CI is within --ci (0.03 suits a gate) or --max-time; two run folders
    /// (`...-a`, `...-b`) for `edgebench gate`, which then compares them turn by turn. This machine's targets only
    /// (docs/gate.md).
    #[arg(long)]
    ab: bool,
    /// Side b's edgebench build (its `bench-cell` measures side b), e.g. the pull request's.
    #[arg(long, value_name = "PATH", requires = "ab")]
    b_exe: Option<PathBuf>,
    /// An environment variable of side b's children, `KEY=VALUE` (repeatable), e.g. ORT_DYLIB_PATH=... for another
    /// ONNX Runtime (without --ort-lib, which would win).
    #[arg(long, value_name = "KEY=VALUE", requires = "ab")]
    b_env: Vec<String>,
    /// Side b's file for the plan's one model (e.g. the pull request's version of it; same inputs), fp32 cells.
    #[arg(long, value_name = "PATH", requires = "ab")]
    b_model: Option<PathBuf>,
    /// Length of one turn of an interleaved session, milliseconds (a turn holds at least one inference).
    #[arg(long, default_value_t = 5.0, value_name = "MS", requires = "ab")]
    turn_ms: f64,
    /// An interleaved session stops a cell as soon as the interval of its turn ratio decides it at this threshold
    /// (wholly beyond it or wholly within it), as `edgebench gate --threshold` will judge it; `none`: only --ci and
    /// --max-time stop a cell. Default 5 % (the gate's)
    #[arg(long, value_name = "SHARE", requires = "ab")]
    threshold: Option<String>,
}

impl Args {
    /// The default plan with these few settings (what `run` without a model runs).
    pub fn default_plan(seed: u64, timeout: u64, json: bool) -> Result<Args> {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: Args,
        }
        let mut argv = vec!["bench".to_string(), "--seed".into(), seed.to_string()];
        argv.extend(["--timeout".into(), timeout.to_string()]);
        if json {
            argv.push("--json".into());
        }
        Ok(<Wrap as clap::Parser>::try_parse_from(argv)?.args)
    }
}

/// The model words of the command line, resolved: every fixture and cached zoo model when none is given.
fn model_words(a: &Args) -> Result<Vec<String>> {
    let mut out = a.models.clone();
    if a.zoo {
        out.extend(super::zoo_names()?);
    }
    if out.is_empty() {
        let f = fetcher();
        out.extend(
            edgebench_graph::fixtures::NAMES
                .iter()
                .map(|s| s.to_string()),
        );
        out.extend(
            manifest()
                .model
                .iter()
                .filter(|z| f.cached(z).is_some())
                .map(|z| z.name.clone()),
        );
    }
    if !a.feed.is_empty() && out.len() != 1 {
        return Err(fail(USAGE, "--feed needs exactly one model"));
    }
    if !a.dim.is_empty() && out.is_empty() {
        return Err(fail(USAGE, "--dim needs a model"));
    }
    Ok(out)
}

/// Every model resolved with its feed and FLOPs first: a bad argument fails before anything is measured.
fn plan_models(a: &Args, registry: &Registry) -> Result<Vec<PlanModel>> {
    let mut out = vec![];
    for m in model_words(a)? {
        let flops = super::inspect::analyse(&m, &a.feed, &a.dim, registry, true)?
            .summary
            .flops
            .total_flops;
        let r = resolve::model(&m, &fetcher(), &manifest())?;
        let ir = resolve::load(&r)?;
        let fitted = resolve::feed(&ir, &r, &a.feed, &a.dim)?;
        if !a.json {
            resolve::print_notes(&fitted);
        }
        out.push(PlanModel {
            name: m,
            path: r.path.clone(),
            feed: fitted.specs.iter().map(|s| s.to_string()).collect(),
            notes: fitted.notes,
            flops,
            variants: Default::default(),
        });
    }
    Ok(out)
}

/// The support tables' prediction for every model x requested backend that has a table (split backends have
/// none: their parts are judged by `check`).
fn compat_records(
    a: &Args,
    models: &[PlanModel],
    backends: &[&String],
    registry: &Registry,
) -> Result<Vec<edgebench_report::CompatRecord>> {
    let mut out = vec![];
    for m in models {
        let r = resolve::model(&m.name, &fetcher(), &manifest())?;
        let ir = resolve::load(&r)?;
        let specs = resolve::feed(&ir, &r, &a.feed, &a.dim)
            .ok()
            .map(|f| resolve::input_specs(&f.specs));
        let stamp = std::fs::metadata(&r.path)
            .map(|md| {
                let t = md
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                format!("{}:{t}", md.len())
            })
            .unwrap_or_default();
        for b in backends {
            let Some(Ok(table)) = edgebench_compat::embedded(b) else {
                continue;
            };
            // The prediction applies the rewrite rules in memory (tract's inference per rule): seconds per big
            // model, so it is cached per model file, feed, backend and edgebench build.
            let key = format!(
                "{:016x}",
                edgebench_report::fnv1a(
                    format!(
                        "{}|{stamp}|{}|{b}|{:?}|{}|{}",
                        r.path.display(),
                        m.name,
                        m.feed,
                        env!("CARGO_PKG_VERSION"),
                        env!("EDGEBENCH_GIT_COMMIT")
                    )
                    .as_bytes()
                )
            );
            let cached = edgebench_models::cache_dir()
                .join("compat")
                .join(format!("{key}.json"));
            if let Some(rec) = std::fs::read_to_string(&cached)
                .ok()
                .and_then(|t| serde_json::from_str::<edgebench_report::CompatRecord>(&t).ok())
            {
                out.push(rec);
                continue;
            }
            eprintln!(
                "edgebench: predicting {} on {b} from its support table and the rewrite rules (then cached)",
                m.name
            );
            let rec =
                super::check::compat_record(&ir, &m.name, b, &table, specs.as_deref(), registry);
            if let Some(dir) = cached.parent()
                && std::fs::create_dir_all(dir).is_ok()
                && let Ok(t) = serde_json::to_string(&rec)
            {
                let _ = edgebench_report::write_atomic(&cached, t.as_bytes());
            }
            out.push(rec);
        }
    }
    Ok(out)
}

/// The `--memory-limit` setting: bytes, `none`, or (absent) this machine's memory.
fn ab_side(a: &Args) -> Result<Option<plan::AbSide>> {
    if !a.ab {
        return Ok(None);
    }
    if a.resume.is_some() || a.processes > 1 {
        return Err(fail(
            USAGE,
            "--ab: neither --resume nor --processes applies to an interleaved session",
        ));
    }
    if !(a.turn_ms.is_finite() && a.turn_ms > 0.0) {
        return Err(fail(
            USAGE,
            format!("--turn-ms {}: expected a positive number", a.turn_ms),
        ));
    }
    if let Some(e) = &a.b_exe
        && !e.is_file()
    {
        return Err(fail(
            USAGE,
            format!("--b-exe {}: no such file", e.display()),
        ));
    }
    if let Some(m) = &a.b_model {
        if !m.is_file() {
            return Err(fail(
                USAGE,
                format!("--b-model {}: no such file", m.display()),
            ));
        }
        if model_words(a)?.len() != 1 || !a.variants.is_empty() {
            return Err(fail(
                USAGE,
                "--b-model: the plan must have exactly one model and no --variants (side b runs this file in its place)",
            ));
        }
    }
    let mut env = vec![];
    for kv in &a.b_env {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_string(), v.to_string())),
            _ => return Err(fail(USAGE, format!("--b-env {kv}: expected KEY=VALUE"))),
        }
    }
    Ok(Some(plan::AbSide {
        exe: a.b_exe.clone(),
        env,
        model: a
            .b_model
            .as_ref()
            .map(|m| std::fs::canonicalize(m).unwrap_or_else(|_| m.clone())),
        turn_ms: a.turn_ms,
        threshold: match a.threshold.as_deref() {
            None => Some(0.05),
            Some("none") => None,
            Some(t) => Some(super::gate::parse_threshold(t).ok_or_else(|| {
                fail(
                    USAGE,
                    format!("--threshold {t}: expected a share such as 5% or 0.05, or none"),
                )
            })?),
        },
    }))
}

pub fn memory_limit(flag: Option<&str>) -> Result<Option<u64>> {
    match flag {
        None => Ok(edgebench_bench::cell::default_address_space()),
        Some("none") => Ok(None),
        Some(v) => edgebench_bench::cell::parse_bytes(v)
            .filter(|b| *b > 0)
            .map(Some)
            .ok_or_else(|| {
                fail(
                    USAGE,
                    format!("--memory-limit {v}: expected BYTES[K|M|G|T] or none"),
                )
            }),
    }
}

/// The ONNX Runtime library this process would load, to ship to a board of the same platform.
fn ort_library(explicit: Option<&Path>) -> Option<PathBuf> {
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

/// A target that runs on this machine (local runner, this triple) gets this machine's measured roofs (cached per
/// machine); emulated and remote targets keep their nominal figures until measured there.
pub fn measure_roofs(target: &mut edgebench_measure::targets::Target, host_triple: &str) {
    if target.runner != edgebench_measure::targets::Runner::Local || target.triple != host_triple {
        return;
    }
    let (r, cached) = machine::host_roofs(&edgebench_models::cache_dir(), false);
    target.peak_gflops = r.peak_gflops;
    target.mem_bandwidth_gbs = r.mem_bandwidth_gbs;
    target.measured_roofs = Some(format!(
        "measured on this machine{}: {} FMA kernel on {} threads, triad 3 x 32 MiB per thread",
        if cached { " (cached)" } else { "" },
        r.kernel,
        r.threads
    ));
}

pub fn run(a: Args, registry: &Registry, ort_lib: Option<&Path>) -> Result<()> {
    // Flags are checked before anything costs time.
    let ab = ab_side(&a)?;
    let names: Vec<String> = if a.target.is_empty() {
        vec!["host".into()]
    } else {
        a.target.clone()
    };
    let ctx = Context {
        exe: std::env::current_exe()?,
        ort_lib: ort_lib.map(Path::to_path_buf),
        host_triple: env!("EDGEBENCH_HOST_TRIPLE").into(),
        host_facts: machine::backend_facts(registry),
        ort_library: ort_library(ort_lib),
        workspace: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let mut sites = vec![];
    for n in &names {
        let (mut target, warnings) = targets::find(n, a.targets.as_deref())?;
        if a.ab && target.runner != edgebench_measure::targets::Runner::Local {
            return Err(fail(
                USAGE,
                format!(
                    "--ab: target {n} does not run cells on this machine; an interleaved session drives both sides' \
                     children from here, so it takes targets with runner = \"local\" (qemu targets are not timed anyway)"
                ),
            ));
        }
        for w in warnings {
            eprintln!("edgebench: warning: {w}");
        }
        measure_roofs(&mut target, &ctx.host_triple);
        let runner = runner::prepare(n, &target, &ctx)?;
        sites.push(Site {
            name: n.clone(),
            target,
            runner,
        });
    }
    let models = plan_models(&a, registry)?;
    let mut requested = vec![];
    for (si, s) in sites.iter().enumerate() {
        let wanted = if a.backend.is_empty() {
            &s.target.backends
        } else {
            &a.backend
        };
        for b in wanted {
            let name = match registry.get(b) {
                Ok(x) => x.name().to_string(),
                Err(RegistryError::NotCompiled { name, .. }) => name,
                Err(e) => return Err(fail(USAGE, e)),
            };
            requested.push((si, name));
        }
    }
    let partition = a
        .partition
        .as_deref()
        .map(Partition::parse)
        .transpose()
        .map_err(|e| fail(USAGE, e))?;
    let variants = plan::variants(&a.variants)?;
    let mut backends: Vec<&String> = requested.iter().map(|(_, b)| b).collect();
    backends.sort();
    backends.dedup();
    let compat = compat_records(&a, &models, &backends, registry)?;
    let mut models = models;
    let mut variant_records = vec![];
    for m in &mut models {
        variant_records.extend(super::variants::for_plan(m, &variants, registry)?);
    }
    let mut plan = Plan {
        sites,
        requested,
        models,
        variants,
        variant_records,
        compat,
        settings: Settings {
            targets: names,
            seed: a.seed,
            target_rel_ci: a.ci,
            max_time_s: a.max_time,
            warmup_s: a.warmup,
            cell_timeout_s: a.timeout,
            cell_address_space_bytes: memory_limit(a.memory_limit.as_deref())?,
            processes: a.processes as usize,
            paired: None,
            threads: a.threads.map(usize::from),
        },
        feed_flags: [a.feed.clone(), a.dim.clone()].concat(),
        ab,
        partition,
    };
    let start = match &a.resume {
        Some(dir) => Start::Resume { dir: dir.clone() },
        None => Start::New {
            root: a.out.clone(),
        },
    };
    let info = RunInfo {
        machine: machine::record(registry, false),
        edgebench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EDGEBENCH_GIT_COMMIT").into(),
    };
    edgebench_bench::handle_interrupts();
    let mut writer = ResultsWriter::default();
    let mut terminal = Terminal::new(a.json);
    let (results, dir) =
        orchestrate::execute(&mut plan, start, info, &mut [&mut writer, &mut terminal])?;
    let b_dir = results
        .settings
        .paired
        .as_ref()
        .and_then(|p| dir.parent().map(|root| root.join(&p.other_run)));
    if a.json {
        print_json(&results)?;
    } else if let Some(b) = b_dir {
        println!("results (side a): {}", dir.join("results.json").display());
        println!("results (side b): {}", b.join("results.json").display());
        println!(
            "compare: edgebench gate --baseline {} --candidate {}",
            dir.display(),
            b.display()
        );
    } else {
        println!("results: {}", dir.join("results.json").display());
    }
    Ok(())
}
