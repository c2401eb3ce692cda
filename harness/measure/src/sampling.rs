//! The adaptive sampling loop: warm up by time and count, then sample until the 95% CI of the median is narrower
//! than a target share of the median, or a time cap. Every sample is kept.

use crate::stats::relative_ci_width;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long and how precisely to sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// Warm-up lasts at least this long and at least `warmup_min_iters` iterations.
    pub warmup: Duration,
    pub warmup_min_iters: usize,
    /// Stop when (CI95 width of the median) / median <= this.
    pub target_rel_ci: f64,
    /// Never fewer samples than this before the CI is trusted.
    pub min_samples: usize,
    /// Stop sampling after this long, whatever the CI.
    pub max_time: Duration,
    /// Hard cap on samples (memory).
    pub max_samples: usize,
    /// Test-only slowdown (`EDGEBENCH_FAULT=slow:F`): each timed iteration is stretched by busy-waiting until it
    /// lasted `stretch` times as long as `f` took. 1.0 (the default) does nothing.
    #[serde(default = "one")]
    pub stretch: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            warmup: Duration::from_millis(300),
            warmup_min_iters: 5,
            target_rel_ci: 0.01,
            min_samples: 30,
            max_time: Duration::from_secs(10),
            max_samples: 1_000_000,
            stretch: 1.0,
        }
    }
}

/// Why sampling stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoppedBy {
    /// The CI target was reached.
    Precision,
    /// The time cap came first.
    TimeCap,
    /// The sample cap came first.
    SampleCap,
}

/// What the loop produced.
#[derive(Clone, Debug)]
pub struct Sampled {
    /// Latency of each timed iteration, nanoseconds, in order.
    pub samples_ns: Vec<f64>,
    pub warmup_iters: usize,
    pub stopped_by: StoppedBy,
    /// Wall time of the sampling phase (warm-up excluded).
    pub wall: Duration,
}

/// Warms up then measures (see [`warm_up`] and [`measure`]).
pub fn sample<E>(plan: &Plan, mut f: impl FnMut() -> Result<(), E>) -> Result<Sampled, E> {
    let warmup_iters = warm_up(plan, &mut f)?;
    let mut s = measure(plan, f)?;
    s.warmup_iters = warmup_iters;
    Ok(s)
}

/// Runs `f` for at least `plan.warmup` and `plan.warmup_min_iters` iterations; returns the iteration count.
pub fn warm_up<E>(plan: &Plan, mut f: impl FnMut() -> Result<(), E>) -> Result<usize, E> {
    let start = Instant::now();
    let mut warmup_iters = 0;
    while warmup_iters < plan.warmup_min_iters || start.elapsed() < plan.warmup {
        f()?;
        warmup_iters += 1;
    }
    Ok(warmup_iters)
}

/// One timed iteration of `f`, nanoseconds, stretched by the test-only `plan.stretch`.
fn timed<E>(plan: &Plan, f: &mut impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let t = Instant::now();
    f()?;
    if plan.stretch > 1.0 {
        let until = t.elapsed().mul_f64(plan.stretch);
        while t.elapsed() < until {
            std::hint::spin_loop();
        }
    }
    Ok(t.elapsed().as_nanos() as f64)
}

/// Times `f` until the stop rule of `plan`. The CI is re-checked at geometrically spaced sample counts, so checking
/// costs O(n log n) overall and nothing inside the timed region. `warmup_iters` of the result is 0.
pub fn measure<E>(plan: &Plan, mut f: impl FnMut() -> Result<(), E>) -> Result<Sampled, E> {
    let warmup_iters = 0;
    let mut samples: Vec<f64> = Vec::with_capacity(1024);
    let begin = Instant::now();
    let mut next_check = plan.min_samples.max(2);
    let stopped_by = loop {
        samples.push(timed(plan, &mut f)?);
        if samples.len() >= plan.max_samples {
            break StoppedBy::SampleCap;
        }
        if samples.len() >= next_check {
            let mut sorted = samples.clone();
            sorted.sort_by(f64::total_cmp);
            if relative_ci_width(&sorted) <= plan.target_rel_ci {
                break StoppedBy::Precision;
            }
            next_check = next_check + next_check / 4 + 1;
        }
        if begin.elapsed() >= plan.max_time {
            break StoppedBy::TimeCap;
        }
    };
    Ok(Sampled {
        samples_ns: samples,
        warmup_iters,
        stopped_by,
        wall: begin.elapsed(),
    })
}

/// One turn of an interleaved (A/B) cell: times `f` for about `dur` (at least one sample) and returns the samples.
/// With `rewarm`, one untimed iteration runs first: the other side's turn just evicted this side's caches.
pub fn turn<E>(
    plan: &Plan,
    dur: Duration,
    rewarm: bool,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Vec<f64>, E> {
    if rewarm {
        f()?;
    }
    let mut samples = vec![];
    let begin = Instant::now();
    loop {
        samples.push(timed(plan, &mut f)?);
        if begin.elapsed() >= dur || samples.len() >= plan.max_samples {
            break;
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_on_precision_for_a_steady_workload_and_on_the_cap_otherwise() {
        let plan = Plan {
            warmup: Duration::ZERO,
            max_time: Duration::from_secs(30),
            ..Plan::default()
        };
        let s = sample(&plan, || -> Result<(), ()> {
            std::hint::black_box((0..2000u64).sum::<u64>());
            Ok(())
        })
        .unwrap();
        assert!(s.samples_ns.len() >= 30);
        assert_eq!(s.warmup_iters, 5);
        // The cap path: an impossible precision target ends by the sample cap, deterministically.
        let plan = Plan {
            target_rel_ci: -1.0,
            max_samples: 200,
            max_time: Duration::from_secs(60),
            ..plan
        };
        let s = sample(&plan, || -> Result<(), ()> { Ok(()) }).unwrap();
        assert_eq!(
            (s.stopped_by, s.samples_ns.len()),
            (StoppedBy::SampleCap, 200)
        );
        // errors stop the loop and are returned
        let mut n = 0;
        let e = sample(&plan, || {
            n += 1;
            if n == 3 { Err("boom") } else { Ok(()) }
        });
        assert_eq!(e.unwrap_err(), "boom");
    }
}
