//! Statistics of latency samples, computed exactly from the saved samples.

use serde::{Deserialize, Serialize};

/// Summary of samples in nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub count: usize,
    pub min_ns: f64,
    pub p50_ns: f64,
    pub p90_ns: f64,
    pub p99_ns: f64,
    pub max_ns: f64,
    pub mean_ns: f64,
    pub stddev_ns: f64,
    /// Distribution-free 95% confidence interval of the median (order statistics).
    pub median_ci95_ns: [f64; 2],
    /// Inferences per second at the median latency.
    pub throughput_per_s: f64,
}

/// The p-th percentile (0..=100) of sorted samples, linear interpolation between closest ranks.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let r = (p / 100.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (r.floor() as usize, r.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (r - lo as f64)
}

/// 95% CI of the median from order statistics: ranks n/2 -+ 1.96 sqrt(n)/2 (normal approximation of the binomial).
pub fn median_ci95(sorted: &[f64]) -> [f64; 2] {
    let n = sorted.len();
    if n == 0 {
        return [f64::NAN, f64::NAN];
    }
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0 - half).floor().max(0.0) as usize).min(n - 1);
    let hi = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    [sorted[lo], sorted[hi]]
}

/// Relative width of the median's CI: (hi - lo) / median.
pub fn relative_ci_width(sorted: &[f64]) -> f64 {
    let [lo, hi] = median_ci95(sorted);
    let m = percentile(sorted, 50.0);
    if m > 0.0 {
        (hi - lo) / m
    } else {
        f64::INFINITY
    }
}

impl Stats {
    pub fn from_samples(samples: &[f64]) -> Stats {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            s.iter().sum::<f64>() / n as f64
        };
        let var = if n < 2 {
            0.0
        } else {
            s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        };
        let p50 = percentile(&s, 50.0);
        Stats {
            count: n,
            min_ns: s.first().copied().unwrap_or(f64::NAN),
            p50_ns: p50,
            p90_ns: percentile(&s, 90.0),
            p99_ns: percentile(&s, 99.0),
            max_ns: s.last().copied().unwrap_or(f64::NAN),
            mean_ns: mean,
            stddev_ns: var.sqrt(),
            median_ci95_ns: median_ci95(&s),
            throughput_per_s: if p50 > 0.0 { 1e9 / p50 } else { f64::NAN },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_ci_of_known_samples() {
        let s: Vec<f64> = (1..=101).map(f64::from).collect();
        let st = Stats::from_samples(&s);
        assert_eq!(
            (st.min_ns, st.p50_ns, st.max_ns, st.count),
            (1.0, 51.0, 101.0, 101)
        );
        assert_eq!(st.p90_ns, 91.0);
        assert_eq!(st.p99_ns, 100.0);
        assert_eq!(st.mean_ns, 51.0);
        // ranks 50.5 -+ 9.85 -> [40, 61] (0-based) -> values 41 and 62
        assert_eq!(st.median_ci95_ns, [41.0, 62.0]);
        assert!((st.throughput_per_s - 1e9 / 51.0).abs() < 1e-6);
        let tight: Vec<f64> = (0..1000).map(|i| 100.0 + (i % 3) as f64 * 0.1).collect();
        assert!(
            relative_ci_width(&{
                let mut t = tight.clone();
                t.sort_by(f64::total_cmp);
                t
            }) <= 0.01
        );
    }
}
