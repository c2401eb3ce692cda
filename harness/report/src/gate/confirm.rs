//! The two checks an interleaved session adds to the gate: whether a side's two children kept speeds of their own
//! further apart than the threshold (a cell *not gateable* on this machine at this threshold), and the confirmation stage (`bench --ab --confirm`):
//! the cells a session flagged, measured again by fresh children, decide whether the job fails.
//!
//! Family-wise error: a flagged cell fails only if the confirmation session, independent of the first (new
//! children, another load order, other CPUs for each pair of turns), also flags it, at the confidence
//! 1 - (1 - c) / k for k flagged cells (Bonferroni over the cells it confirms). Given the first stage's flags, the
//! chance that any cell whose speed did not change is confirmed is then at most 1 - c (5 %), whatever the number of
//! cells in the plan; the first stage only chooses which cells are asked.

use super::{
    CellVerdict, GateOptions, Verdict, groups, judge, key, median_interval, median_of,
    median_sorted,
};
use crate::Results;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How far one side's two children ran apart over a session: the median over pairs of turns of (second child's
/// turn median / first child's), with its bootstrap interval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    /// `baseline` or `candidate`.
    pub side: String,
    pub ratio: f64,
    pub ci: [f64; 2],
}

impl Spread {
    /// Whether the children were apart by more than the threshold, with confidence (the interval wholly beyond
    /// ±threshold): then a difference of the threshold's size between the sides can come from which child ran.
    pub fn beyond(&self, threshold: f64) -> bool {
        let h = 1.0 + threshold;
        self.ci[0] > h || self.ci[1] < 1.0 / h
    }

    /// The children's offset as a share (|ratio - 1|, symmetric).
    pub fn offset(&self) -> f64 {
        self.ratio.max(1.0 / self.ratio) - 1.0
    }

    pub fn describe(&self) -> String {
        format!(
            "the {} side's two children ran {:.1} % apart [{:+.1} %, {:+.1} %] for the whole session",
            self.side,
            self.offset() * 100.0,
            (self.ci[0] - 1.0) * 100.0,
            (self.ci[1] - 1.0) * 100.0
        )
    }
}

/// Pairs of turns a side needs before its children are compared (fewer give no interval worth the name).
pub const SPREAD_MIN_PAIRS: usize = 8;

/// The confidence of the children's interval: a second test per cell, held to the session's own looks' 99 %.
const SPREAD_CONFIDENCE: f64 = 0.99;

/// The side (of the two) whose children ran further apart; `None` when the turns do not split into children (fewer
/// than [`SPREAD_MIN_PAIRS`] pairs of turns on both sides).
pub fn spread(
    baseline: &[f64],
    baseline_turns: &[usize],
    candidate: &[f64],
    candidate_turns: &[usize],
    o: &GateOptions,
    key: &str,
) -> Option<Spread> {
    let one = |s: &[f64], t: &[usize], side: &str| -> Option<Spread> {
        let g = groups(s, t);
        if g.len() != t.len() || g.len() < 2 * SPREAD_MIN_PAIRS {
            return None;
        }
        let med = median_of;
        // A side's turns alternate between its children (turn i is child i % 2's); adjacent turns are a pair.
        let mut r: Vec<f64> = g
            .chunks_exact(2)
            .map(|p| (med(p[0]), med(p[1])))
            .filter(|(a, _)| *a > 0.0)
            .map(|(a, b)| b / a)
            .collect();
        if r.len() < SPREAD_MIN_PAIRS {
            return None;
        }
        r.sort_by(f64::total_cmp);
        let seed = o.seed ^ crate::fnv1a(format!("{key}/children/{side}").as_bytes());
        Some(Spread {
            side: side.into(),
            ratio: median_sorted(&r),
            ci: median_interval(&r, o.resamples, SPREAD_CONFIDENCE.max(o.confidence), seed),
        })
    };
    let a = one(baseline, baseline_turns, "baseline");
    let b = one(candidate, candidate_turns, "candidate");
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.offset() > a.offset() { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What the confirmation session said of one flagged cell.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Confirmation {
    /// The verdict the first session gave (the one confirmed or cleared).
    pub flagged: Verdict,
    /// The confirmation's own verdict, at the confirmation's confidence.
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_ci: Option<[f64; 2]>,
    pub reason: String,
}

/// The confirmation stage of a gate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stage {
    /// The confirmation session (its sides are the run folders `<session>-a`, `<session>-b`).
    pub session: String,
    /// The two-sided confidence of its intervals: 1 - (1 - confidence) / cells.
    pub confidence: f64,
    /// Flagged cells it decided.
    pub cells: usize,
    pub confirmed: usize,
    pub cleared: usize,
}

/// Whether a verdict is one the confirmation stage measures again (`bench --ab --confirm` re-runs these cells).
pub fn confirmable(v: Verdict) -> bool {
    matches!(v, Verdict::Regressed | Verdict::AccuracyRegressed)
}

/// The options of a confirmation of `k` cells: the confidence of each interval raised so that the k together keep
/// the gate's level (Bonferroni), with enough bootstrap draws to resolve the tails.
pub fn options(o: &GateOptions, k: usize) -> GateOptions {
    let k = k.max(1) as f64;
    let alpha = (1.0 - o.confidence).clamp(1e-6, 1.0);
    GateOptions {
        confidence: 1.0 - alpha / k,
        resamples: o.resamples.max((40.0 * k / alpha).ceil() as usize),
        ..o.clone()
    }
}

/// Applies the candidate's confirmation session, when it names one, to the flagged cells: confirmed cells keep
/// their verdict, the others become [`Verdict::Cleared`]. A confirmation that cannot be read leaves the flags
/// standing, with a warning.
pub fn apply(
    cells: &mut [CellVerdict],
    candidate: &Results,
    candidate_dir: &Path,
    o: &GateOptions,
    warnings: &mut Vec<String>,
) -> Option<Stage> {
    let p = candidate.settings.paired.as_ref()?;
    let name = p.confirmation.as_ref()?;
    // Judged the other way round (or at another threshold) nothing may be flagged: no stage to report.
    if !cells.iter().any(|c| confirmable(c.verdict)) {
        return None;
    }
    let root = candidate_dir.parent().unwrap_or(Path::new("."));
    let (bside, cside) = if p.side == "a" {
        ("b", "a")
    } else {
        ("a", "b")
    };
    let load = |side: &str| {
        let dir = root.join(format!("{name}-{side}"));
        crate::load(&dir.join("results.json")).map(|r| (r, dir))
    };
    let ((br, bdir), (cr, cdir)) = match (load(bside), load(cside)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            warnings.push(format!(
                "the confirmation session {name} cannot be read ({e}): the flagged cells stand unconfirmed"
            ));
            return None;
        }
    };
    let k = cells.iter().filter(|c| confirmable(c.verdict)).count();
    let co = options(o, k);
    let mut stage = Stage {
        session: name.clone(),
        confidence: co.confidence,
        cells: 0,
        confirmed: 0,
        cleared: 0,
    };
    for v in cells.iter_mut().filter(|c| confirmable(c.verdict)) {
        let id = (
            v.target.clone(),
            v.backend.clone(),
            v.model.clone(),
            v.variant.clone(),
        );
        let b = br.cells.iter().find(|c| key(c) == id);
        let c = cr.cells.iter().find(|c| key(c) == id);
        let (Some(b), Some(c)) = (b, c) else {
            v.reason = format!(
                "{} (not confirmed: the confirmation session has no such cell)",
                v.reason
            );
            continue;
        };
        let mut again = v.clone();
        again.unstable.clear();
        again.spread = None;
        let (verdict, reason) = judge(b, &bdir, &br, c, &cdir, &cr, &co, &mut again);
        stage.cells += 1;
        let confirmed = verdict.fails();
        v.confirmation = Some(Confirmation {
            flagged: v.verdict,
            verdict,
            ratio: again.ratio,
            ratio_ci: again.ratio_ci,
            reason: reason.clone(),
        });
        if confirmed {
            stage.confirmed += 1;
            v.reason = format!(
                "{}; confirmed by fresh children at {:.2} %: {reason}",
                v.reason,
                co.confidence * 100.0
            );
        } else {
            stage.cleared += 1;
            v.reason = format!(
                "flagged {} ({}), cleared by fresh children at {:.2} %: {}: {reason}",
                v.verdict.name(),
                v.reason,
                co.confidence * 100.0,
                verdict.name()
            );
            v.verdict = Verdict::Cleared;
        }
    }
    Some(stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_level_shares_the_gates_error_among_its_cells() {
        let o = GateOptions::default();
        assert!((options(&o, 1).confidence - 0.95).abs() < 1e-12);
        assert!((options(&o, 5).confidence - 0.99).abs() < 1e-12);
        // 20 draws or more in each tail.
        assert!(options(&o, 5).resamples as f64 * 0.005 >= 20.0);
    }

    /// A side whose second child runs `off` slower than its first for the whole session, turns of 30 samples.
    fn side(pairs: usize, off: f64) -> (Vec<f64>, Vec<usize>) {
        let mut s = vec![];
        for i in 0..pairs * 2 {
            let f = if i % 2 == 1 { off } else { 1.0 };
            s.extend((0..30).map(|j| 1000.0 * f * (1.0 + 0.01 * ((i * 7 + j) % 5) as f64)));
        }
        (s, vec![30; pairs * 2])
    }

    #[test]
    fn children_that_keep_their_own_speed_are_seen_from_the_turns() {
        let o = GateOptions::default();
        let (a, t) = side(20, 1.0);
        let (b, _) = side(20, 1.08);
        let s = spread(&a, &t, &b, &t, &o, "k").unwrap();
        assert_eq!(s.side, "candidate");
        assert!((s.ratio - 1.08).abs() < 0.01, "{s:?}");
        assert!(s.beyond(0.05) && !s.beyond(0.1));
        let s = spread(&a, &t, &a, &t, &o, "k").unwrap();
        assert!(!s.beyond(0.05), "{s:?}");
        // Too few turns to compare the children.
        let n = 20 * 2 * (SPREAD_MIN_PAIRS - 1);
        let few = &t[..2 * (SPREAD_MIN_PAIRS - 1)];
        assert!(spread(&a[..n], few, &b[..n], few, &o, "k").is_none());
    }
}
