//! Change-point detection over one cell's series of medians: the t-statistic variant of E-Divisive means (Matteson
//! and James, 2014) that Apache Otava (formerly Hunter; Fleming et al., ICPE 2023) uses, with E-Divisive's
//! permutation test for significance: recursively, the split of a segment that maximises the two-sample t statistic
//! of log medians is a change point when fewer than `alpha` of the segment's random permutations reach that maximum.
//! Deterministic (the permutations come from a fixed-seed generator).

use serde::Serialize;

/// A change between two runs of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Index of the first point after the change.
    pub index: usize,
    /// Geometric mean of the segment before and after (ns).
    pub before_ns: f64,
    pub after_ns: f64,
    /// after / before - 1.
    pub change: f64,
    /// The permutation test's p-value.
    pub p: f64,
}

/// Settings: significance level, the shortest segment, permutations per test.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub alpha: f64,
    pub min_segment: usize,
    pub permutations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            alpha: 0.01,
            min_segment: 3,
            permutations: 499,
        }
    }
}

fn max_t(x: &[f64], min: usize) -> Option<(usize, f64)> {
    let n = x.len();
    if n < 2 * min {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for k in min..=n - min {
        let (a, b) = x.split_at(k);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(a), mean(b));
        let ss: f64 = a.iter().map(|v| (v - ma).powi(2)).sum::<f64>()
            + b.iter().map(|v| (v - mb).powi(2)).sum::<f64>();
        let sd = (ss / (n as f64 - 2.0).max(1.0)).sqrt().max(1e-12);
        let t = (ma - mb).abs() / (sd * (1.0 / a.len() as f64 + 1.0 / b.len() as f64).sqrt());
        if best.is_none_or(|(_, bt)| t > bt) {
            best = Some((k, t));
        }
    }
    best
}

/// A fixed-seed xorshift generator for the permutations.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The change points of a series of medians (ns), in order.
pub fn changes(medians_ns: &[f64], s: Settings) -> Vec<Change> {
    let logs: Vec<f64> = medians_ns.iter().map(|v| v.max(1e-9).ln()).collect();
    let mut found = vec![];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut stack = vec![(0usize, logs.len())];
    while let Some((a, b)) = stack.pop() {
        let seg = &logs[a..b];
        let Some((k, t)) = max_t(seg, s.min_segment) else {
            continue;
        };
        let mut perm = seg.to_vec();
        let mut reach = 0usize;
        for _ in 0..s.permutations {
            for i in (1..perm.len()).rev() {
                perm.swap(i, rng.below(i + 1));
            }
            if max_t(&perm, s.min_segment).is_some_and(|(_, pt)| pt >= t) {
                reach += 1;
            }
        }
        let p = (reach + 1) as f64 / (s.permutations + 1) as f64;
        if p < s.alpha {
            let gm = |v: &[f64]| (v.iter().sum::<f64>() / v.len() as f64).exp();
            let (before_ns, after_ns) = (gm(&seg[..k]), gm(&seg[k..]));
            found.push(Change {
                index: a + k,
                before_ns,
                after_ns,
                change: after_ns / before_ns - 1.0,
                p,
            });
            stack.push((a, a + k));
            stack.push((a + k, b));
        }
    }
    found.sort_by_key(|c| c.index);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Medians around 1 ms with ±1 % deterministic noise, a `step` from index `at` on.
    fn series(n: usize, at: usize, step: f64) -> Vec<f64> {
        let mut r = Rng(42);
        (0..n)
            .map(|i| {
                let noise = (r.below(2001) as f64 / 1000.0 - 1.0) * 0.01;
                1e6 * (1.0 + noise) * if i >= at { 1.0 + step } else { 1.0 }
            })
            .collect()
    }

    #[test]
    fn a_five_percent_step_is_found_where_it_is_and_a_flat_series_has_none() {
        let c = changes(&series(30, 18, 0.05), Settings::default());
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].index, 18);
        assert!((c[0].change - 0.05).abs() < 0.01, "{c:?}");
        assert!(changes(&series(30, 30, 0.0), Settings::default()).is_empty());
        // too short to tell
        assert!(changes(&series(4, 2, 0.5), Settings::default()).is_empty());
    }

    #[test]
    fn two_steps_are_two_changes() {
        let mut s = series(36, 12, 0.08);
        for v in &mut s[24..] {
            *v *= 0.9;
        }
        let idx: Vec<usize> = changes(&s, Settings::default())
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(idx, [12, 24]);
    }
}
