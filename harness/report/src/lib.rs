//! The results schema (`results.json`, versioned, documented in docs/results-json.md) and writing a run to disk.
//! Reports and the gate render from these types alone; nothing here measures.

use edgebench_measure::energy::Energy;
use edgebench_measure::sampling::StoppedBy;
use edgebench_measure::stats::Stats;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod ci;
pub mod gate;
pub mod html;
pub mod profile;
mod profile_html;
pub mod samples;
pub mod trend;

/// Bumped on any incompatible change of the types below.
pub const FORMAT_VERSION: u32 = 2;

/// One run: a plan executed on one or more targets.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Results {
    #[serde(rename = "format-version")]
    pub format_version: u32,
    pub run_id: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub edgebench_version: String,
    pub git_commit: String,
    /// The machine edgebench ran on (the host; an emulated target runs on it too).
    pub machine: Machine,
    /// Every target of the run, with its backends as its runner reported them.
    pub targets: Vec<TargetRecord>,
    pub settings: Settings,
    /// Identifies the plan (models, targets, backends, settings), the same for every shard of it.
    pub plan_id: String,
    /// Which shard of the plan this run is (`hash:M/N`), if it is one.
    pub partition: Option<Partition>,
    /// For a merged file: the run ids it was merged from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The feed every model of the plan got, and how its symbolic dims were defaulted (absent in older files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<ModelFeed>,
    /// How each non-fp32 variant of the plan was made and its drift against fp32.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantRecord>,
    /// The support tables' prediction per model x backend (target-independent), for the report's matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compat: Vec<CompatRecord>,
    pub cells: Vec<Cell>,
}

/// What `check` predicts for one model on one backend, recorded when the plan was made.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompatRecord {
    pub model: String,
    pub backend: String,
    /// `runs`, `partial`, `no` or `unknown` (no node known to be blocked, some the table does not list), from the
    /// backend's support table and the model's own shapes.
    pub verdict: String,
    /// `node (op): reason` for each node not known to run, blocking then unknown (at most 20; `blocking_total`
    /// counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<String>,
    #[serde(default)]
    pub blocking_total: usize,
    /// Of `blocking_total`, the nodes whose op the table does not list.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown: usize,
    /// Supported partitions of the graph, when partial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<usize>,
    /// When it does not run as it is but is predicted to after `edgebench rewrite`: the rules, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_rewrites: Option<Vec<String>>,
    /// For a backend with an accelerator in its table (`[placement]`: XNNPACK, an ONNX Runtime execution
    /// provider): where the nodes are predicted to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementRecord>,
}

/// A predicted placement, as the report shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlacementRecord {
    pub accelerator: String,
    /// Nodes predicted on the accelerator, and on the runtime's own kernels.
    pub accelerated: usize,
    pub on_runtime_kernels: usize,
    /// Connected groups of accelerated nodes.
    pub partitions: usize,
}

/// The concrete feed of one model of a plan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelFeed {
    pub model: String,
    /// `NAME=DTYPE[SHAPE]` per runtime input.
    pub feed: Vec<String>,
    /// e.g. "input `x`: dim `batch` = 1 (leading batch dim; --dim batch=N to change)".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One shard of a plan: cells whose key hashes to `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Partition {
    pub index: u64,
    pub count: u64,
}

impl Partition {
    /// Parses `hash:M/N` (1 <= M <= N).
    pub fn parse(s: &str) -> Result<Partition, String> {
        let bad = || format!("--partition {s}: expected hash:M/N with 1 <= M <= N");
        let rest = s.strip_prefix("hash:").ok_or_else(bad)?;
        let (m, n) = rest.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) =
            (m.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }

    /// Whether the cell `(target, backend, model, variant)` belongs to this shard. FNV-1a of the key: stable
    /// across machines, platforms and Rust versions (std's hasher is not).
    pub fn contains(&self, target: &str, backend: &str, model: &str, variant: &str) -> bool {
        let key = format!("{target}\u{1f}{backend}\u{1f}{model}\u{1f}{variant}");
        fnv1a(key.as_bytes()) % self.count == self.index - 1
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error(
        "{file}: from another plan ({found}) than {first_file} ({expected}); only shards of one plan merge"
    )]
    OtherPlan {
        file: String,
        found: String,
        first_file: String,
        expected: String,
    },
    #[error("{file}: shard {index}/{count} is also in {other}")]
    DuplicateShard {
        file: String,
        other: String,
        index: u64,
        count: u64,
    },
}

/// Joins shards of one plan. `inputs` are (file name, results, folder of the file); sample paths become relative to
/// `out_dir` where possible, else absolute.
pub fn merge(
    inputs: Vec<(String, Results, PathBuf)>,
    out_dir: &Path,
) -> Result<Results, MergeError> {
    let Some((first_file, first, _)) = inputs.first().cloned() else {
        return Err(MergeError::Empty);
    };
    let mut seen: Vec<(Partition, String)> = vec![];
    let mut out = first.clone();
    out.cells.clear();
    out.compat.clear();
    out.partition = None;
    out.merged_from.clear();
    for (file, r, dir) in inputs {
        if r.plan_id != first.plan_id {
            return Err(MergeError::OtherPlan {
                file,
                found: r.plan_id,
                first_file,
                expected: first.plan_id,
            });
        }
        if let Some(p) = r.partition {
            if let Some((_, other)) = seen.iter().find(|(q, _)| *q == p) {
                return Err(MergeError::DuplicateShard {
                    file,
                    other: other.clone(),
                    index: p.index,
                    count: p.count,
                });
            }
            seen.push((p, file.clone()));
        }
        for t in &r.targets {
            if !out.targets.iter().any(|x| x.name == t.name) {
                out.targets.push(t.clone());
            }
        }
        out.merged_from.push(r.run_id.clone());
        for v in &r.variants {
            if !out
                .variants
                .iter()
                .any(|x| x.model == v.model && x.kind == v.kind)
            {
                out.variants.push(v.clone());
            }
        }
        for c in &r.compat {
            if !out
                .compat
                .iter()
                .any(|x| x.model == c.model && x.backend == c.backend)
            {
                out.compat.push(c.clone());
            }
        }
        for f in &r.feeds {
            if !out.feeds.iter().any(|x| x.model == f.model) {
                out.feeds.push(f.clone());
            }
        }
        for mut c in r.cells {
            if let Some(s) = &c.samples_file {
                let abs = dir.join(s);
                c.samples_file = Some(match abs.strip_prefix(out_dir) {
                    Ok(rel) => rel.display().to_string(),
                    Err(_) => abs.display().to_string(),
                });
            }
            out.cells.push(c);
        }
    }
    out.run_id = format!("merged-{}", out.merged_from.join("+"));
    out.cells.sort_by(|a, b| {
        (&a.model, &a.target, &a.backend, &a.variant)
            .cmp(&(&b.model, &b.target, &b.backend, &b.variant))
    });
    Ok(out)
}

/// How the cells were measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub targets: Vec<String>,
    pub seed: u64,
    pub target_rel_ci: f64,
    pub max_time_s: f64,
    pub warmup_s: f64,
    pub cell_timeout_s: u64,
    /// The address-space limit of each cell's process (`RLIMIT_AS`), if any; emulated targets run without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_address_space_bytes: Option<u64>,
    /// Fresh processes per cell (`bench --processes`), sharing `max_time_s`; 1 in older files.
    #[serde(default = "one_process")]
    pub processes: usize,
    /// Set when this run is one side of an interleaved session (`bench --ab`): its cells took turns with the other
    /// side's, so the gate can compare them turn by turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<Paired>,
    /// Threads per inference for backends that take a count (`bench --threads`: ONNX Runtime's intra-op pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// `bench --profile`: a profiled pass after each host cell's timed pass (`cells[].profile`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub profile: bool,
}

/// One side of an interleaved session (`bench --ab`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Paired {
    /// The session both runs share.
    pub session: String,
    /// `a` (this binary, as is) or `b` (with `b_exe` and `b_env`).
    pub side: String,
    /// The other side's run id.
    pub other_run: String,
    /// Length of one turn, milliseconds (a turn holds at least one sample).
    pub turn_ms: f64,
    /// What side b changed: another edgebench build for its cells, and environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_exe: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub b_env: Vec<String>,
    /// Side b's file for the plan's one model, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_model: Option<String>,
    /// The threshold a cell's turns stopped on once its interval decided it (`bench --ab --threshold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The confirmation session of this one (`bench --ab --confirm`): the cells this session flagged, measured again
    /// by fresh children; its two sides are the sibling run folders `<confirmation>-a` and `<confirmation>-b`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<String>,
    /// In a confirmation session: the session whose flagged cells it measured again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<String>,
}

fn one_process() -> usize {
    1
}

/// One target of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetRecord {
    pub name: String,
    pub triple: String,
    /// local | qemu | ssh
    pub runner: String,
    /// Under qemu-user: timings say nothing about the board.
    pub emulated: bool,
    pub backends: Vec<BackendFacts>,
    /// The roofs the roofline of this target's cells used (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofs: Option<Roofs>,
}

/// A target's compute and bandwidth roofs, and whether they were measured there or are nominal figures.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Roofs {
    pub peak_gflops: f64,
    pub mem_bandwidth_gbs: f64,
    /// `measured` (FMA kernel and triad on this machine) or `nominal` (targets.toml: datasheet or arithmetic).
    pub source: String,
    /// How they were measured, or where the nominal figures come from.
    pub detail: String,
}

/// The machine the run happened on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    /// cpufreq scaling governor of cpu0, if readable.
    pub governor: Option<String>,
    /// Under qemu-user: timings say nothing about the board.
    pub emulated: bool,
    pub backends: Vec<BackendFacts>,
}

/// A backend as found on the machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendFacts {
    pub name: String,
    pub compiled_in: bool,
    pub available: bool,
    pub version: Option<String>,
    pub reason: Option<String>,
    /// ORT library path, wgpu adapter, driver, software flag...
    pub details: Vec<(String, String)>,
    /// `cpu` or `gpu`: the processor it computes on, whose peak a cell's roofline uses (absent: cpu; written by
    /// edgebench since issue #19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Model formats it reads (`onnx`, `tflite`); empty in files written before TFLite support: ONNX only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
}

impl BackendFacts {
    /// Whether it reads models of this format (`onnx`, `tflite`).
    pub fn reads(&self, format: &str) -> bool {
        if self.formats.is_empty() {
            format == "onnx"
        } else {
            self.formats.iter().any(|f| f == format)
        }
    }

    /// Whether it computes on a GPU (its cells' roofline uses the target's GPU peak).
    pub fn on_gpu(&self) -> bool {
        self.device.as_deref() == Some("gpu")
    }
}

/// How a cell ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    /// The backend could not load or run the model (its message).
    Failed {
        exit_code: i32,
        message: String,
    },
    /// The cell's process died (abort, segfault, out of memory kill).
    Crashed {
        signal: Option<i32>,
        message: String,
    },
    Timeout {
        seconds: u64,
    },
    /// The run was interrupted (Ctrl-C, SIGTERM) before this cell ended; `--resume` runs it.
    Interrupted,
}

/// Cold start: a fresh process loading, preparing and running the model once.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ColdStart {
    pub load_ms: f64,
    pub first_inference_ms: f64,
    pub total_ms: f64,
}

/// Process memory of the cell.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Memory {
    /// RSS before the model was loaded.
    pub baseline_rss_bytes: u64,
    /// Peak RSS of the process over the whole cell (VmHWM).
    pub peak_rss_bytes: u64,
    /// RSS after loading and the first inference, minus the baseline.
    pub model_added_bytes: i64,
}

/// Achieved compute against the target's peak.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Roofline {
    pub model_flops: u64,
    pub achieved_gflops: f64,
    pub peak_gflops: f64,
    pub share_of_peak: f64,
    /// The bandwidth roof (GB/s) and whether both roofs were `measured` or `nominal` (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_bandwidth_gbs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roof_source: Option<String>,
    /// Size of the model file that ran (weights dominate it): FLOPs per byte of it is the arithmetic intensity the
    /// report plots (a lower bound: activations are not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_bytes: Option<u64>,
}

/// Agreement of the cell's outputs with the reference backend's on the same feed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Agreement {
    pub reference: String,
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    pub min_cosine: f64,
    pub agree: bool,
    pub error: Option<String>,
}

/// One (target, backend, model, variant) measurement.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub target: String,
    /// Ran under emulation (qemu-user): correctness only, timings mean nothing about the board.
    pub emulated: bool,
    pub backend: String,
    pub backend_version: Option<String>,
    pub model: String,
    /// `fp32`, `fp16`, `fp16-weights`, `int8-dynamic` or `int8-static`.
    pub variant: String,
    pub outcome: Outcome,
    pub cold_start: Option<ColdStart>,
    pub latency: Option<Stats>,
    pub stopped_by: Option<StoppedBy>,
    pub warmup_iterations: Option<usize>,
    /// Raw latency samples (ns), one per line, relative to the run folder.
    pub samples_file: Option<String>,
    pub memory: Option<Memory>,
    pub cpu_user_s: Option<f64>,
    pub cpu_sys_s: Option<f64>,
    pub energy: Option<Energy>,
    pub roofline: Option<Roofline>,
    pub agreement: Option<Agreement>,
    /// For a split backend (`wonnx+tract`): each backend's partitions and share of the time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitPart>,
    /// For a variant other than fp32: its ratios to the fp32 cell of the same target x backend x model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
    /// With `bench --processes K` (K >= 2): each process's share of the pooled samples (in the samples file's
    /// order) and its median. Empty for one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRecord>,
    /// In an interleaved session (`bench --ab`): the turns, in the samples file's order; turn i of this cell ran
    /// right next to turn i of the other side's cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<ProcessRecord>,
    /// An fp32 cell of a model that its backend's table predicts to run only after rewrites: the verified rewrite
    /// the cell ran (`used`), or why it could not (then the cell ran the original model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<RewriteRecord>,
    /// `bench --profile`: where the time goes, per ONNX node (a separate profiled pass after the timed one; never
    /// part of the cell's timings, ignored by the gate). docs/profile.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<profile::ProfileOutcome>,
}

/// The verified rewrite of one model for one backend (made once per model file, feed, backend, table and rule set,
/// then cached), as a cell recorded it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RewriteRecord {
    /// The rules applied, in order (one entry per verified step).
    pub rules: Vec<String>,
    /// The cell ran the rewritten model. False when the verified rewrite does not make the model run on the
    /// backend (a rule rolled back, or the reference could not run the original): the cell ran the original.
    pub used: bool,
    /// The backend the rewrite was verified on, and the tolerance.
    pub reference: String,
    pub tolerance: String,
    /// The rewritten model against the original on the reference, over the verification's seeded feeds (worst
    /// output and feed): max abs error, max rel error, lowest cosine. Absent when no rule was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<RewriteDrift>,
    /// `rule (nodes): reason` for every step that was rolled back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
    /// Why the rewrite could not be made or verified at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The rewritten model file (in the cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The drift of a rewritten model against the original.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RewriteDrift {
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    pub min_cosine: f64,
}

impl RewriteRecord {
    /// `runs after rewrites: rule, rule, ...`, or why the rewrite was not used.
    pub fn summary(&self) -> String {
        if self.used {
            format!("runs after rewrites: {}", self.rules.join(", "))
        } else if let Some(e) = &self.error {
            format!("rewrite not used: {e}")
        } else {
            format!(
                "rewrite not used: {}",
                self.rolled_back
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "the rewritten model still does not run fully".into())
            )
        }
    }
}

/// One of a cell's processes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProcessRecord {
    /// How many consecutive samples of the samples file are this process's.
    pub samples: usize,
    pub p50_ns: f64,
}

/// One backend's share of a split cell, over the timed iterations.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SplitPart {
    pub backend: String,
    pub partitions: usize,
    pub nodes: usize,
    /// Mean time inside this backend's partitions per inference (the rest of the latency is copying tensors
    /// between partitions).
    pub ms_per_inference: f64,
    /// Share of the mean latency (both are means over the timed iterations).
    pub share: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A variant cell against the fp32 cell of the same target x backend x model (ratios are variant / fp32; < 1 is
/// faster, smaller, less). A ratio is absent when either cell lacks the measurement.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Delta {
    /// Median latency.
    pub latency_ratio: Option<f64>,
    /// Peak RSS.
    pub peak_memory_ratio: Option<f64>,
    /// Energy per inference.
    pub energy_ratio: Option<f64>,
    /// Model file size.
    pub size_ratio: Option<f64>,
    /// The variant's drift against fp32 (from `variants` in results.json).
    pub drift: Vec<OutputDrift>,
}

/// One output's drift of a variant against fp32 over the evaluation feeds, on the reference backend.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OutputDrift {
    pub output: String,
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    /// Lowest cosine similarity over the feeds.
    pub min_cosine: f64,
    /// Share of rows whose argmax agrees, for `[batch, classes]` outputs (classifiers).
    pub top1_agreement: Option<f64>,
    pub rows: usize,
    /// Median and 10th percentile over rows of fp32's top-1 minus top-2 value: how close to a tie the inputs put
    /// the classifier (a flip needs an error of half the margin).
    #[serde(default)]
    pub fp32_margin_p50: Option<f64>,
    #[serde(default)]
    pub fp32_margin_p10: Option<f64>,
}

/// How a variant of a model was made and how it compares with fp32 (the same for every target and backend).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VariantRecord {
    pub model: String,
    pub kind: String,
    pub bytes: u64,
    pub fp32_bytes: u64,
    pub size_ratio: f64,
    /// The backend the drift and the calibration ran on.
    pub reference: String,
    pub eval_feeds: usize,
    pub drift: Vec<OutputDrift>,
    /// The support tables' verdict per backend (`runs`, `partial`, ...).
    pub verdicts: std::collections::BTreeMap<String, String>,
    pub calibration: Option<String>,
    /// Quantization options as given (int8 kinds).
    pub options: Option<serde_json::Value>,
}

/// Why a run could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a results file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: format-version {found}, this edgebench reads {expected}")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
}

/// Writes bytes via a temp file in the same folder and a rename: a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    use std::io::Write;
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Creates a new run folder `<root>/<run_id>` (never an existing one: a suffix is added) and returns it.
pub fn new_run_dir(root: &Path, run_id: &str) -> Result<(PathBuf, String), ReportError> {
    std::fs::create_dir_all(root).map_err(|source| ReportError::Io {
        path: root.into(),
        source,
    })?;
    for k in 0..1000 {
        let id = if k == 0 {
            run_id.to_string()
        } else {
            format!("{run_id}-{k}")
        };
        let dir = root.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((dir, id)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(ReportError::Io { path: dir, source }),
        }
    }
    Err(ReportError::Io {
        path: root.into(),
        source: std::io::Error::other("no free run id"),
    })
}

/// Writes `results.json` into a run folder.
pub fn save(dir: &Path, r: &Results) -> Result<PathBuf, ReportError> {
    let p = dir.join("results.json");
    let text = serde_json::to_string_pretty(r).map_err(|e| ReportError::Parse {
        path: p.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&p, text.as_bytes())?;
    Ok(p)
}

/// Reads a results file, refusing other format versions.
pub fn load(path: &Path) -> Result<Results, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.into(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
        path: path.into(),
        message: e.to_string(),
    })?;
    let found = v
        .get("format-version")
        .and_then(|x| x.as_u64())
        .unwrap_or(0) as u32;
    if found != FORMAT_VERSION {
        return Err(ReportError::Version {
            path: path.into(),
            found,
            expected: FORMAT_VERSION,
        });
    }
    serde_json::from_value(v).map_err(|e| ReportError::Parse {
        path: path.into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_never_reused_and_writes_are_atomic() {
        let t = tempfile::tempdir().unwrap();
        let (a, ida) = new_run_dir(t.path(), "r1").unwrap();
        let (b, idb) = new_run_dir(t.path(), "r1").unwrap();
        assert_ne!(a, b);
        assert_eq!((ida.as_str(), idb.as_str()), ("r1", "r1-1"));
        let p = a.join("x.json");
        write_atomic(&p, b"{\"a\":1}").unwrap();
        // an interrupted write (here: a failing one) leaves the old content, and no temp file behind
        let dir_as_file = a.join("x.json/nope");
        assert!(write_atomic(&dir_as_file, b"zzz").is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}");
        assert_eq!(std::fs::read_dir(&a).unwrap().count(), 1);
        std::fs::write(a.join("old.json"), "{\"format-version\": 0}").unwrap();
        assert!(matches!(
            load(&a.join("old.json")),
            Err(ReportError::Version { found: 0, .. })
        ));
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
