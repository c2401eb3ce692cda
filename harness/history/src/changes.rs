//! Change-point detection over one cell's series of medians: the t-statistic variant of E-Divisive means (Matteson
//! and James, 2014) that Apache Otava (formerly Hunter; Fleming et al., ICPE 2023) uses, with E-Divisive's
//! permutation test for significance: recursively, the split of a segment that maximises the two-sample t statistic
//! is a change point when fewer than `alpha` of the segment's random permutations reach that maximum. One change
//! from Otava: the t statistic is taken on the segment's ranks, not its values (a rank-based, Mann-Whitney-like
//! split), because on real runs of this machine one whole run slowed by 20 % hid a clean 5 % step from the
//! value-based statistic (BENCHMARKS.md); the permutation test is exact on ranks. Deterministic (fixed-seed
//! permutations).

use serde::Serialize;

/// A change between two runs of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Index of the first point after the change.
    pub index: usize,
    /// Median of the segment before and after (ns).
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

/// Ranks of a segment (1-based, ties averaged): the statistic is computed on them, so one outlier run (a whole run
/// slowed by something else on the machine) weighs as one rank and cannot hide a step, as it did with values.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = avg;
        }
        i = j + 1;
    }
    r
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
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
        let r = ranks(seg);
        let Some((k, t)) = max_t(&r, s.min_segment) else {
            continue;
        };
        let mut perm = r.clone();
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
            let (before_ns, after_ns) = (median(&seg[..k]).exp(), median(&seg[k..]).exp());
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
    fn one_outlier_run_does_not_hide_a_step_nor_make_one() {
        // As measured on litert/tflite_cnn: a whole run 22 % slow, then a 5 % step at run 15.
        let mut s = series(30, 15, 0.05);
        s[5] *= 1.22;
        let c = changes(&s, Settings::default());
        assert_eq!(c.iter().map(|c| c.index).collect::<Vec<_>>(), [15], "{c:?}");
        let mut flat = series(30, 30, 0.0);
        flat[5] *= 1.22;
        flat[20] *= 1.3;
        assert!(changes(&flat, Settings::default()).is_empty());
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
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
