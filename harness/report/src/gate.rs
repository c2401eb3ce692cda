//! The regression gate: a candidate run against a baseline run, cell by cell (target, backend, model, variant),
//! judged from the raw samples of both. Latency: the ratio of medians (candidate / baseline) with a seeded bootstrap
//! confidence interval, against `max(threshold, noise floor)`, where the noise floor is the baseline's own
//! dispersion (its median's CI half-width, and the drift between the medians of its first and second halves).
//! Outcomes and agreement with the reference are compared too. Nothing here measures.

use crate::{Cell, Outcome, Results};
use rand::SeedableRng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the `gate --json` document (docs/gate.md).
pub const GATE_FORMAT_VERSION: u32 = 1;

pub mod confirm;

/// How the gate judges.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GateOptions {
    /// A slowdown is a regression only beyond this share (0.05 = 5 %), or the noise floor when that is larger.
    pub threshold: f64,
    /// Bootstrap draws per cell.
    pub resamples: usize,
    /// Seed of the bootstrap (with the cell's key): the same inputs give the same verdicts.
    pub seed: u64,
    /// Two-sided confidence of the ratio's interval.
    pub confidence: f64,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            threshold: 0.05,
            resamples: 2000,
            seed: 0,
            confidence: 0.95,
        }
    }
}

/// A cell's verdict.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Ran before, fails now (failed, crashed, timed out).
    NowFailing,
    /// Outputs agreed with the reference before, not now.
    AccuracyRegressed,
    /// Slower beyond the limit, with confidence.
    Regressed,
    /// One of the two cells' own CI missed its target (an unstable cell), or the interval straddles the limit.
    Inconclusive,
    /// Interleaved: the two children of one side kept speeds further apart than the threshold for the whole
    /// session, so the comparison cannot be judged at this threshold on this machine.
    NotGateable,
    /// Flagged by the session (regressed, accuracy regressed), not confirmed by a fresh session of new children.
    Cleared,
    /// In the baseline, not in the candidate.
    Missing,
    /// In the candidate, not in the baseline.
    New,
    /// Failed in both.
    StillFailing,
    /// Failed before, runs now.
    NowRunning,
    /// Emulated (qemu-user): timings are not compared; outcome and agreement were, and held.
    NotTimed,
    /// Faster beyond the limit, with confidence.
    Improved,
    /// Within the limit.
    Unchanged,
}

impl Verdict {
    /// Whether this verdict fails the gate.
    pub fn fails(self) -> bool {
        matches!(
            self,
            Verdict::NowFailing | Verdict::AccuracyRegressed | Verdict::Regressed
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::NowFailing => "now failing",
            Verdict::AccuracyRegressed => "accuracy regressed",
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotGateable => "not gateable",
            Verdict::Cleared => "cleared",
            Verdict::Missing => "missing",
            Verdict::New => "new",
            Verdict::StillFailing => "still failing",
            Verdict::NowRunning => "now running",
            Verdict::NotTimed => "not timed (emulated)",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
        }
    }
}

/// The gate's judgement of one cell.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CellVerdict {
    pub target: String,
    pub backend: String,
    pub model: String,
    pub variant: String,
    pub verdict: Verdict,
    /// Candidate median / baseline median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// Bootstrap interval of the ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_ci: Option<[f64; 2]>,
    /// The baseline's own dispersion, as a share of its median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floor: Option<f64>,
    /// The share a change must exceed: max(threshold, noise floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_p50_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_p50_ns: Option<f64>,
    /// Which side's own CI missed its target (`baseline`, `candidate`): an unstable cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unstable: Vec<String>,
    /// Interleaved cells: how far apart one side's two children ran (the side where they were further apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<confirm::Spread>,
    /// A flagged cell measured again in the confirmation session, and what that said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<confirm::Confirmation>,
    /// One line saying why.
    pub reason: String,
}

impl CellVerdict {
    /// `target/backend/model/variant`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.target, self.backend, self.model, self.variant
        )
    }
}

/// The whole judgement.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Gate {
    #[serde(rename = "format-version")]
    pub format_version: u32,
    pub baseline_run: String,
    pub candidate_run: String,
    pub options: GateOptions,
    /// Verdict name -> cells.
    pub counts: BTreeMap<String, usize>,
    /// Cells whose verdict fails the gate.
    pub failures: usize,
    /// Timed comparisons where a side was measured in a single process: its between-process variance is invisible
    /// (`bench --processes 5` shows it).
    #[serde(default)]
    pub single_process_cells: usize,
    /// The runs are the two sides of one interleaved session (`bench --ab`): cells compared turn by turn.
    #[serde(default)]
    pub interleaved: bool,
    /// Why the timing verdicts may not mean what they say (e.g. the runs are from different machines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The confirmation session whose verdicts decided the flagged cells (`bench --ab --confirm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<confirm::Stage>,
    /// Worst first (the order of [`Verdict`]), then by id.
    pub cells: Vec<CellVerdict>,
}

/// Why the two runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(
        "{baseline} and {candidate} have no cell in common (matched by target, backend, model and variant)"
    )]
    NothingInCommon { baseline: String, candidate: String },
}

/// Reads a cell's raw samples (ns, one per line, in time order) from its run folder.
pub fn load_samples(dir: &Path, cell: &Cell) -> Result<Vec<f64>, String> {
    let rel = cell
        .samples_file
        .as_deref()
        .ok_or_else(|| "no samples file recorded".to_string())?;
    let p = dir.join(rel);
    let out = crate::samples::read(&p)?;
    if out.is_empty() {
        return Err(format!("{}: no samples", p.display()));
    }
    Ok(out)
}

fn median_sorted(s: &[f64]) -> f64 {
    edgebench_measure::stats::percentile(s, 50.0)
}

/// A draw of the bootstrap distribution of the median of `sorted`: the median of n values resampled with
/// replacement is the empirical quantile at the median of n uniforms, which follows Beta(k, n + 1 - k) with
/// k = ceil(n / 2). Exact for the (lower) median, O(1) per draw instead of O(n).
fn bootstrap_median(sorted: &[f64], beta: &Beta<f64>, rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
    let u: f64 = beta.sample(rng);
    let i = ((u * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn beta_for(n: usize) -> Beta<f64> {
    let k = n.div_ceil(2).max(1) as f64;
    let b = (n as f64 + 1.0 - k).max(1.0);
    Beta::new(k, b).unwrap_or_else(|_| Beta::new(1.0, 1.0).expect("Beta(1,1) is valid"))
}

/// The two-sided percentile interval of bootstrap draws at `confidence`.
fn interval(draws: &mut [f64], confidence: f64) -> [f64; 2] {
    draws.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence).clamp(0.0, 1.0) / 2.0;
    [
        edgebench_measure::stats::percentile(draws, alpha * 100.0),
        edgebench_measure::stats::percentile(draws, (1.0 - alpha) * 100.0),
    ]
}

/// The median of unsorted values.
fn median_of(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

/// The bootstrap interval of the median of `sorted` (at least 10 draws, seeded).
fn median_interval(sorted: &[f64], resamples: usize, confidence: f64, seed: u64) -> [f64; 2] {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let beta = beta_for(sorted.len());
    let mut draws: Vec<f64> = (0..resamples.max(10))
        .map(|_| bootstrap_median(sorted, &beta, &mut rng))
        .collect();
    interval(&mut draws, confidence)
}

/// The latency comparison of two sample sets (each in time order).
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub ratio: f64,
    pub ci: [f64; 2],
    pub noise_floor: f64,
    pub limit: f64,
    pub baseline_p50: f64,
    pub candidate_p50: f64,
}

/// Splits samples into consecutive groups of the given sizes (one group when `sizes` is empty or does not add up).
fn groups<'a>(s: &'a [f64], sizes: &[usize]) -> Vec<&'a [f64]> {
    if sizes.len() < 2 || sizes.iter().sum::<usize>() != s.len() || sizes.contains(&0) {
        return vec![s];
    }
    let mut out = vec![];
    let mut at = 0;
    for n in sizes {
        out.push(&s[at..at + n]);
        at += n;
    }
    out
}

/// Like [`compare`], for cells measured in several processes (`bench --processes K`): the statistic is the best
/// process's median (the machine's speed differs from process to process; the fastest process is the least
/// disturbed one), bootstrapped by resampling within every process and taking the minimum; the noise floor is
/// how far the baseline's two best processes disagree (and the best one's CI half-width). With one process on a
/// side, this is [`compare`].
pub fn compare_processes(
    baseline: &[f64],
    baseline_sizes: &[usize],
    candidate: &[f64],
    candidate_sizes: &[usize],
    o: &GateOptions,
    key: &str,
) -> Comparison {
    let gb = groups(baseline, baseline_sizes);
    let gc = groups(candidate, candidate_sizes);
    if gb.len() < 2 || gc.len() < 2 {
        return compare(baseline, candidate, o, key);
    }
    let sorted = |g: &[&[f64]]| -> Vec<Vec<f64>> {
        g.iter()
            .map(|x| {
                let mut v = x.to_vec();
                v.sort_by(f64::total_cmp);
                v
            })
            .collect()
    };
    let (sb, sc) = (sorted(&gb), sorted(&gc));
    let best = |g: &[Vec<f64>]| {
        g.iter()
            .map(|x| median_sorted(x))
            .fold(f64::INFINITY, f64::min)
    };
    let (mb, mc) = (best(&sb), best(&sc));
    let seed = o.seed ^ crate::fnv1a(key.as_bytes());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let betas = |g: &[Vec<f64>]| g.iter().map(|x| beta_for(x.len())).collect::<Vec<_>>();
    let (bb, bc) = (betas(&sb), betas(&sc));
    let draw = |g: &[Vec<f64>], beta: &[Beta<f64>], rng: &mut rand_chacha::ChaCha8Rng| {
        g.iter()
            .zip(beta)
            .map(|(x, be)| bootstrap_median(x, be, rng))
            .fold(f64::INFINITY, f64::min)
    };
    let mut ratios: Vec<f64> = (0..o.resamples.max(10))
        .map(|_| {
            let x = draw(&sb, &bb, &mut rng);
            let y = draw(&sc, &bc, &mut rng);
            if x > 0.0 { y / x } else { f64::INFINITY }
        })
        .collect();
    let ci = interval(&mut ratios, o.confidence);
    let mut medians: Vec<f64> = sb.iter().map(|x| median_sorted(x)).collect();
    medians.sort_by(f64::total_cmp);
    let spread = if medians[0] > 0.0 {
        medians[1] / medians[0] - 1.0
    } else {
        0.0
    };
    let best_i = sb
        .iter()
        .position(|x| median_sorted(x) == medians[0])
        .unwrap_or(0);
    let ci_b = edgebench_measure::stats::median_ci95(&sb[best_i]);
    let half_width = if mb > 0.0 {
        (ci_b[1] - ci_b[0]) / 2.0 / mb
    } else {
        0.0
    };
    let noise_floor = spread.max(half_width);
    Comparison {
        ratio: if mb > 0.0 { mc / mb } else { f64::INFINITY },
        ci,
        noise_floor,
        limit: o.threshold.max(noise_floor),
        baseline_p50: mb,
        candidate_p50: mc,
    }
}

/// For the two sides of an interleaved session (`bench --ab`): turn i of the candidate ran right next to turn i of
/// the baseline, so a change of the machine's speed that outlasts a turn cancels in their ratio. The statistic is
/// the median over turns of (candidate turn median / baseline turn median), its interval the bootstrap over turns
/// (seeded); the noise floor is that interval's half-width (the turns' own disagreement). `None` when the turns do
/// not match (different counts, or samples that do not add up to them): the caller compares the pools instead.
pub fn compare_paired(
    baseline: &[f64],
    baseline_turns: &[usize],
    candidate: &[f64],
    candidate_turns: &[usize],
    o: &GateOptions,
    key: &str,
) -> Option<Comparison> {
    if baseline_turns.len() != candidate_turns.len() || baseline_turns.len() < 2 {
        return None;
    }
    let gb = groups(baseline, baseline_turns);
    let gc = groups(candidate, candidate_turns);
    if gb.len() != baseline_turns.len() || gc.len() != candidate_turns.len() {
        return None;
    }
    let median = median_of;
    let mut ratios: Vec<f64> = gb
        .iter()
        .zip(&gc)
        .map(|(b, c)| {
            let mb = median(b);
            if mb > 0.0 {
                median(c) / mb
            } else {
                f64::INFINITY
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = median_sorted(&ratios);
    let ci = median_interval(
        &ratios,
        o.resamples,
        o.confidence,
        o.seed ^ crate::fnv1a(key.as_bytes()),
    );
    let noise_floor = if ratio > 0.0 {
        (ci[1] - ci[0]) / 2.0 / ratio
    } else {
        0.0
    };
    // The pair's turns are the evidence; the threshold alone is the limit (the interval carries the noise).
    Some(Comparison {
        ratio,
        ci,
        noise_floor,
        limit: o.threshold,
        baseline_p50: median(baseline),
        candidate_p50: median(candidate),
    })
}

/// Ratio of medians with its bootstrap interval, and the baseline's noise floor.
pub fn compare(baseline: &[f64], candidate: &[f64], o: &GateOptions, key: &str) -> Comparison {
    let mut b = baseline.to_vec();
    let mut c = candidate.to_vec();
    b.sort_by(f64::total_cmp);
    c.sort_by(f64::total_cmp);
    let (mb, mc) = (median_sorted(&b), median_sorted(&c));
    let seed = o.seed ^ crate::fnv1a(key.as_bytes());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (beta_b, beta_c) = (beta_for(b.len()), beta_for(c.len()));
    let mut ratios: Vec<f64> = (0..o.resamples.max(10))
        .map(|_| {
            let x = bootstrap_median(&b, &beta_b, &mut rng);
            let y = bootstrap_median(&c, &beta_c, &mut rng);
            if x > 0.0 { y / x } else { f64::INFINITY }
        })
        .collect();
    let ci = interval(&mut ratios, o.confidence);
    // The baseline's own dispersion: its median's CI half-width and the drift between its two halves.
    let ci_b = edgebench_measure::stats::median_ci95(&b);
    let half_width = if mb > 0.0 {
        (ci_b[1] - ci_b[0]) / 2.0 / mb
    } else {
        0.0
    };
    let drift = if baseline.len() >= 20 {
        let (first, second) = baseline.split_at(baseline.len() / 2);
        let mut f = first.to_vec();
        let mut s = second.to_vec();
        f.sort_by(f64::total_cmp);
        s.sort_by(f64::total_cmp);
        let (m1, m2) = (median_sorted(&f), median_sorted(&s));
        if m1 > 0.0 && m2 > 0.0 {
            (m1.max(m2) / m1.min(m2)) - 1.0
        } else {
            0.0
        }
    } else {
        0.0
    };
    let noise_floor = half_width.max(drift);
    Comparison {
        ratio: if mb > 0.0 { mc / mb } else { f64::INFINITY },
        ci,
        noise_floor,
        limit: o.threshold.max(noise_floor),
        baseline_p50: mb,
        candidate_p50: mc,
    }
}

/// Whether a cell's own CI missed the run's target (the sampling stopped on the time cap with a wider CI). For a
/// cell of several processes, the CI of its best process (the one the gate compares) counts.
fn unstable(c: &Cell, samples: &[f64], target_rel_ci: f64) -> bool {
    let sizes: Vec<usize> = c.processes.iter().map(|p| p.samples).collect();
    let g = groups(samples, &sizes);
    let width = if g.len() >= 2 {
        let best = g
            .iter()
            .map(|x| {
                let mut v = x.to_vec();
                v.sort_by(f64::total_cmp);
                v
            })
            .min_by(|a, b| median_sorted(a).total_cmp(&median_sorted(b)));
        best.map(|v| {
            let ci = edgebench_measure::stats::median_ci95(&v);
            (ci[1] - ci[0]) / median_sorted(&v)
        })
    } else {
        c.latency
            .as_ref()
            .map(|s| (s.median_ci95_ns[1] - s.median_ci95_ns[0]) / s.p50_ns)
    };
    width.is_some_and(|w| !(w <= target_rel_ci * 1.0001))
}

/// Whether the two runs are the two sides of one interleaved session (`bench --ab`).
pub fn paired_runs(a: &Results, b: &Results) -> bool {
    match (&a.settings.paired, &b.settings.paired) {
        (Some(x), Some(y)) => x.session == y.session && x.side != y.side,
        _ => false,
    }
}

fn key(c: &Cell) -> (String, String, String, String) {
    (
        c.target.clone(),
        c.backend.clone(),
        c.model.clone(),
        c.variant.clone(),
    )
}

fn outcome_line(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Failed { message, .. } => format!("failed: {message}"),
        Outcome::Crashed { message, .. } => format!("crashed: {message}"),
        Outcome::Timeout { seconds } => format!("timed out after {seconds} s"),
        Outcome::Interrupted => "interrupted".into(),
    }
}

/// Judges every cell. `*_dir` are the folders the results files are in (the samples are relative to them).
pub fn gate(
    baseline: &Results,
    baseline_dir: &Path,
    candidate: &Results,
    candidate_dir: &Path,
    o: &GateOptions,
) -> Result<Gate, GateError> {
    let base: BTreeMap<_, &Cell> = baseline.cells.iter().map(|c| (key(c), c)).collect();
    let cand: BTreeMap<_, &Cell> = candidate.cells.iter().map(|c| (key(c), c)).collect();
    if !base.keys().any(|k| cand.contains_key(k)) {
        return Err(GateError::NothingInCommon {
            baseline: baseline.run_id.clone(),
            candidate: candidate.run_id.clone(),
        });
    }
    let mut keys: Vec<_> = base.keys().chain(cand.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let mut cells = vec![];
    for k in keys {
        let (b, c) = (base.get(&k).copied(), cand.get(&k).copied());
        let mut v = CellVerdict {
            target: k.0.clone(),
            backend: k.1.clone(),
            model: k.2.clone(),
            variant: k.3.clone(),
            verdict: Verdict::Unchanged,
            ratio: None,
            ratio_ci: None,
            noise_floor: None,
            limit: None,
            baseline_p50_ns: b.and_then(|x| x.latency.as_ref()).map(|s| s.p50_ns),
            candidate_p50_ns: c.and_then(|x| x.latency.as_ref()).map(|s| s.p50_ns),
            unstable: vec![],
            spread: None,
            confirmation: None,
            reason: String::new(),
        };
        let (verdict, reason) = match (b, c) {
            (None, Some(c)) => (
                Verdict::New,
                format!("new cell ({})", outcome_line(&c.outcome)),
            ),
            (Some(b), None) => (
                Verdict::Missing,
                format!("not in the candidate (was {})", outcome_line(&b.outcome)),
            ),
            (None, None) => continue,
            (Some(b), Some(c)) => judge(
                b,
                baseline_dir,
                baseline,
                c,
                candidate_dir,
                candidate,
                o,
                &mut v,
            ),
        };
        v.verdict = verdict;
        v.reason = reason;
        cells.push(v);
    }
    let mut warnings = vec![];
    let stage = confirm::apply(&mut cells, candidate, candidate_dir, o, &mut warnings);
    cells.sort_by(|a, b| (a.verdict, a.id()).cmp(&(b.verdict, b.id())));
    let mut counts = BTreeMap::new();
    for c in &cells {
        *counts.entry(c.verdict.name().to_string()).or_insert(0) += 1;
    }
    let single_process_cells = cells
        .iter()
        .filter(|v| v.ratio.is_some())
        .filter(|v| {
            let procs = |r: &Results| {
                r.cells
                    .iter()
                    .find(|c| {
                        c.target == v.target
                            && c.backend == v.backend
                            && c.model == v.model
                            && c.variant == v.variant
                    })
                    .map(|c| c.processes.len())
                    .unwrap_or(0)
            };
            procs(baseline) < 2 || procs(candidate) < 2
        })
        .count();
    let single_process_cells = if paired_runs(baseline, candidate) {
        0
    } else {
        single_process_cells
    };
    let (mb, mc) = (&baseline.machine, &candidate.machine);
    if (&mb.cpu, mb.logical_cores, &mb.arch) != (&mc.cpu, mc.logical_cores, &mc.arch) {
        warnings.push(format!(
            "the runs are from different machines ({} x{} vs {} x{}): timing verdicts compare the machines as well as \
             the builds",
            mb.cpu, mb.logical_cores, mc.cpu, mc.logical_cores
        ));
    }
    let session_threshold = baseline
        .settings
        .paired
        .as_ref()
        .and_then(|p| p.threshold)
        .filter(|_| paired_runs(baseline, candidate));
    if let Some(t) = session_threshold
        && (t - o.threshold).abs() > 1e-9
    {
        warnings.push(format!(
            "the session stopped its cells once they were decided at a {:.1} % threshold; at {:.1} % some may be \
             inconclusive for want of turns",
            t * 100.0,
            o.threshold * 100.0
        ));
    }
    Ok(Gate {
        interleaved: paired_runs(baseline, candidate),
        warnings,
        confirmation: stage,
        single_process_cells,
        format_version: GATE_FORMAT_VERSION,
        baseline_run: baseline.run_id.clone(),
        candidate_run: candidate.run_id.clone(),
        options: o.clone(),
        failures: cells.iter().filter(|c| c.verdict.fails()).count(),
        counts,
        cells,
    })
}

/// A share as a percentage without a needless decimal: 0.05 -> "5", 0.025 -> "2.5".
fn share(x: f64) -> String {
    let p = (x * 1000.0).round() / 10.0;
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn judge(
    b: &Cell,
    bdir: &Path,
    br: &Results,
    c: &Cell,
    cdir: &Path,
    cr: &Results,
    o: &GateOptions,
    v: &mut CellVerdict,
) -> (Verdict, String) {
    match (b.outcome == Outcome::Ok, c.outcome == Outcome::Ok) {
        (true, false) => return (Verdict::NowFailing, outcome_line(&c.outcome)),
        (false, true) => {
            return (
                Verdict::NowRunning,
                format!("was {}", outcome_line(&b.outcome)),
            );
        }
        (false, false) => return (Verdict::StillFailing, outcome_line(&c.outcome)),
        (true, true) => {}
    }
    let agreed = |x: &Cell| x.agreement.as_ref().map(|a| a.agree);
    if agreed(b) == Some(true) && agreed(c) == Some(false) {
        let a = c.agreement.as_ref();
        return (
            Verdict::AccuracyRegressed,
            format!(
                "outputs no longer agree with {}: max abs {:.3e}, min cosine {:.6}{}",
                a.map(|a| a.reference.as_str()).unwrap_or("the reference"),
                a.map(|a| a.max_abs_error).unwrap_or(f64::NAN),
                a.map(|a| a.min_cosine).unwrap_or(f64::NAN),
                a.and_then(|a| a.error.as_deref())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        );
    }
    if b.emulated || c.emulated {
        return (
            Verdict::NotTimed,
            "emulated (qemu-user): timings say nothing about the board; outcome and agreement held"
                .into(),
        );
    }
    let (sb, sc) = match (load_samples(bdir, b), load_samples(cdir, c)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            return (
                Verdict::Inconclusive,
                format!("raw samples unreadable: {e}"),
            );
        }
    };
    let sizes = |x: &Cell| x.processes.iter().map(|p| p.samples).collect::<Vec<_>>();
    let turns = |x: &Cell| x.turns.iter().map(|p| p.samples).collect::<Vec<_>>();
    let paired = paired_runs(br, cr)
        .then(|| compare_paired(&sb, &turns(b), &sc, &turns(c), o, &v.id()))
        .flatten();
    let is_paired = paired.is_some();
    let cmp =
        paired.unwrap_or_else(|| compare_processes(&sb, &sizes(b), &sc, &sizes(c), o, &v.id()));
    if b.processes.len() >= 2 && c.processes.len() >= 2 {
        v.baseline_p50_ns = Some(cmp.baseline_p50);
        v.candidate_p50_ns = Some(cmp.candidate_p50);
    }
    v.ratio = Some(cmp.ratio);
    v.ratio_ci = Some(cmp.ci);
    v.noise_floor = Some(cmp.noise_floor);
    v.limit = Some(cmp.limit);
    // A paired comparison's precision is its own interval's (checked below); the pools' CIs do not apply.
    if !is_paired && unstable(b, &sb, br.settings.target_rel_ci) {
        v.unstable.push("baseline".into());
    }
    if !is_paired && unstable(c, &sc, cr.settings.target_rel_ci) {
        v.unstable.push("candidate".into());
    }
    let pct = |x: f64| format!("{:+.1} %", (x - 1.0) * 100.0);
    let band = format!(
        "ratio {:.3} [{:.3}, {:.3}], limit ±{:.1} %",
        cmp.ratio,
        cmp.ci[0],
        cmp.ci[1],
        cmp.limit * 100.0
    );
    let band = if is_paired {
        format!("{band}, {} interleaved turns", b.turns.len())
    } else {
        band
    };
    let (hi, lo) = (1.0 + cmp.limit, 1.0 / (1.0 + cmp.limit));
    if is_paired {
        v.spread = confirm::spread(&sb, &turns(b), &sc, &turns(c), o, &v.id());
    }
    // Children of one side that ran further apart than the threshold: the turn interval cannot see that
    // offset (it belongs to a child, not to a turn), so only a change clear of it as well is judged.
    if let Some(s) = v.spread.as_ref().filter(|s| s.beyond(o.threshold)) {
        let off = s.offset();
        if !(cmp.ci[0] > hi * (1.0 + off) || cmp.ci[1] < lo / (1.0 + off)) {
            return (
                Verdict::NotGateable,
                format!(
                    "not gateable on this machine at {} %: {} ({band})",
                    share(o.threshold),
                    s.describe()
                ),
            );
        }
    }
    if cmp.ci[0] > hi {
        (
            Verdict::Regressed,
            format!("slower {} ({band})", pct(cmp.ratio)),
        )
    } else if cmp.ci[1] < lo {
        (
            Verdict::Improved,
            format!("faster {} ({band})", pct(cmp.ratio)),
        )
    } else if !v.unstable.is_empty() {
        (
            Verdict::Inconclusive,
            format!(
                "unstable: the {} cell's own CI missed its target ({band})",
                v.unstable.join(" and ")
            ),
        )
    } else if is_paired && (cmp.ci[0] < lo || cmp.ci[1] > hi) {
        (
            Verdict::Inconclusive,
            format!("the turns disagree: the interval reaches beyond the limit ({band})"),
        )
    } else if cmp.ratio <= hi && cmp.ratio >= lo {
        (Verdict::Unchanged, format!("within the limit ({band})"))
    } else {
        (
            Verdict::Inconclusive,
            format!("beyond the limit but the interval reaches inside it ({band})"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(n: usize, base: f64, seed: u64) -> Vec<f64> {
        use rand::Rng;
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| base * (1.0 + 0.05 * r.random::<f64>()))
            .collect()
    }

    #[test]
    fn the_bootstrap_is_seeded_and_brackets_the_ratio() {
        let a = noisy(500, 1000.0, 1);
        let b: Vec<f64> = noisy(500, 1000.0, 2).iter().map(|x| x * 1.2).collect();
        let o = GateOptions::default();
        let c1 = compare(&a, &b, &o, "k");
        let c2 = compare(&a, &b, &o, "k");
        assert_eq!(c1, c2);
        assert!(c1.ci[0] < c1.ratio && c1.ratio < c1.ci[1]);
        assert!((c1.ratio - 1.2).abs() < 0.02, "{c1:?}");
        assert!(c1.ci[0] > 1.15, "{c1:?}");
    }

    #[test]
    fn a_drifting_baseline_raises_the_noise_floor() {
        let mut a = noisy(200, 1000.0, 3);
        for x in a.iter_mut().skip(100) {
            *x *= 1.3;
        }
        let c = compare(&a, &a, &GateOptions::default(), "k");
        assert!(c.noise_floor > 0.25, "{c:?}");
        assert!(c.limit >= c.noise_floor);
    }

    /// Turns of a machine whose speed changes from turn to turn (x0.7 .. x1.6, as this VM's do), the same speed
    /// for both sides of a turn; `slow` stretches side b.
    fn session(turns: usize, seed: u64, slow: f64) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
        use rand::Rng;
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut a, mut b, mut sizes) = (vec![], vec![], vec![]);
        for _ in 0..turns {
            let state = [0.7, 1.0, 1.0, 1.3, 1.6][r.random_range(0..5)];
            let n = r.random_range(20..60);
            a.extend(noisy(n, 1000.0 * state, r.random()));
            b.extend(noisy(n, 1000.0 * state * slow, r.random()));
            sizes.push(n);
        }
        (a, b, sizes)
    }

    #[test]
    fn interleaved_turns_cancel_the_machine_and_see_the_change() {
        let o = GateOptions::default();
        let mut flagged = 0;
        for seed in 0..50 {
            // A/A: the pools differ with the states, the turn ratios do not.
            let (a, b, n) = session(25, seed, 1.0);
            let c = compare_paired(&a, &n, &b, &n, &o, "k").unwrap();
            assert!(c.ci[0] <= 1.0 + o.threshold, "{c:?}");
            // 10 % slower: always beyond the 5 % limit with confidence.
            let (a, b, n) = session(25, seed, 1.10);
            let c = compare_paired(&a, &n, &b, &n, &o, "k").unwrap();
            flagged += usize::from(c.ci[0] > 1.0 + c.limit);
            assert!((c.ratio - 1.10).abs() < 0.03, "{c:?}");
        }
        assert_eq!(flagged, 50);
        // Turns that do not match are no pairing.
        let (a, b, n) = session(10, 1, 1.0);
        assert!(compare_paired(&a, &n, &b, &n[1..], &o, "k").is_none());
        assert!(compare_paired(&a, &n[1..], &b[1..], &n[1..], &o, "k").is_none());
    }

    #[test]
    fn bootstrap_median_of_a_singleton_is_the_value() {
        let beta = beta_for(1);
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(bootstrap_median(&[7.0], &beta, &mut r), 7.0);
    }
}
