//! The flags of `edgebench bench`.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model files, zoo names (cached) or fixture names. None: every fixture and every cached zoo model.
    pub models: Vec<String>,
    /// Every zoo model (must be cached).
    #[arg(long)]
    pub zoo: bool,
    /// Backends (default: the target's backends that are available here).
    #[arg(long, short)]
    pub backend: Vec<String>,
    /// Targets from targets.toml (repeatable; default `host`). Cells of all targets land in one results.json.
    #[arg(long)]
    pub target: Vec<String>,
    /// The targets file (default: ./targets.toml if present, else the one built in).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Inputs for a single model argument, `NAME=DTYPE[SHAPE]` (zoo models use their manifest feed).
    #[arg(long = "feed", value_name = "SPEC")]
    pub feed: Vec<String>,
    /// A symbolic dim's value, `NAME=VALUE`, wherever it appears (repeatable). Leading batch dims default to 1.
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    pub dim: Vec<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop sampling when the 95% CI of the median is within this share of the median.
    #[arg(long, default_value_t = 0.01)]
    pub ci: f64,
    /// Seconds of sampling at most per cell.
    #[arg(long, default_value_t = 10.0)]
    pub max_time: f64,
    /// Seconds of warm-up (and at least 5 iterations).
    #[arg(long, default_value_t = 0.3)]
    pub warmup: f64,
    /// Fresh processes per cell, sharing `--max-time` (each has its own cold start and warm-up): the gate then sees
    /// how much this machine's speed differs from one process to the next. 5 is a good setting for baselines.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub processes: u16,
    /// Seconds before a cell is stopped and recorded as a timeout.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Address-space limit of each cell's process, bytes with optional K/M/G/T (default: this machine's memory;
    /// `none` for no limit). An allocation beyond it is that cell's outcome, not the kernel's OOM killer's. Not
    /// applied to backends that compute on a GPU (their driver reserves more virtual memory than the machine has)
    #[arg(long, value_name = "BYTES")]
    pub memory_limit: Option<String>,
    /// Run only this shard of the plan, `hash:M/N`: cells split deterministically by (target, backend, model,
    /// variant), so N machines share a plan; join the results with `edgebench merge`.
    #[arg(long, value_name = "hash:M/N")]
    pub partition: Option<String>,
    /// Variants to run besides fp32, comma-separated: fp16, fp16-weights, int8-dynamic, int8-static (made before the
    /// run on this machine, cached; each cell records its ratios to the fp32 cell).
    #[arg(long, value_delimiter = ',', value_name = "V,...")]
    pub variants: Vec<String>,
    /// Run every cell's model as it is: no verified rewrite for backends whose table predicts "runs after
    /// rewrites" (by default their fp32 cells run the rewritten model and record the rules and the drift).
    #[arg(long)]
    pub no_rewrite: bool,
    /// Resume this run folder: re-run only the cells that did not finish (the plan must be the same).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Where run folders are created.
    #[arg(long, default_value = "reports/runs")]
    pub out: PathBuf,
    /// Print results.json to stdout.
    #[arg(long)]
    pub json: bool,
    /// Threads per inference for backends that take a count: ONNX Runtime's intra-op pool (tract runs on one
    /// thread, wonnx on the GPU). Default: the backend's own choice. `--threads 1` keeps a gate on a 2-core VM
    /// from measuring the pool's scheduling (BENCHMARKS.md).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// After each host cell's timed pass, a separate profiled pass (20 runs after 5 warm-up) on every backend with
    /// a per-op profiler: `cells[].profile` in results.json, a per-op section in the report (docs/profile.md).
    #[arg(long)]
    pub profile: bool,
    /// Interleaved A/B session: every cell runs as two children per side that take turns (a b b a ...), side a
    /// this binary as is, side b changed by --b-exe/--b-env/--b-model; turns go on until the turn ratio's interval
    /// decides the cell at --threshold, its CI is within --ci (0.03 suits a gate) or --max-time; two run folders
    /// (`...-a`, `...-b`) for `edgebench gate`, which then compares them turn by turn. This machine's targets only
    /// (docs/gate.md).
    #[arg(long)]
    pub ab: bool,
    /// Side b's edgebench build (its `bench-cell` measures side b), e.g. the pull request's.
    #[arg(long, value_name = "PATH", requires = "ab")]
    pub b_exe: Option<PathBuf>,
    /// An environment variable of side b's children, `KEY=VALUE` (repeatable), e.g. ORT_DYLIB_PATH=... for another
    /// ONNX Runtime (without --ort-lib, which would win).
    #[arg(long, value_name = "KEY=VALUE", requires = "ab")]
    pub b_env: Vec<String>,
    /// Side b's file for the plan's one model (e.g. the pull request's version of it; same inputs), fp32 cells.
    #[arg(long, value_name = "PATH", requires = "ab")]
    pub b_model: Option<PathBuf>,
    /// Length of one turn of an interleaved session, milliseconds (a turn holds at least one inference).
    #[arg(long, default_value_t = 5.0, value_name = "MS", requires = "ab")]
    pub turn_ms: f64,
    /// An interleaved session stops a cell as soon as the interval of its turn ratio decides it at this threshold
    /// (wholly beyond it or wholly within it), as `edgebench gate --threshold` will judge it; `none`: only --ci and
    /// --max-time stop a cell. Default 5 % (the gate's)
    #[arg(long, value_name = "SHARE", requires = "ab")]
    pub threshold: Option<String>,
    /// Do not measure the cells the session flags (regressed, accuracy regressed) again: by default they are, in a
    /// confirmation session of fresh children (`...-confirm-a`, `-b`), and the gate fails only on confirmed
    /// verdicts (docs/gate.md).
    #[arg(long, requires = "ab")]
    pub no_confirm: bool,
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
