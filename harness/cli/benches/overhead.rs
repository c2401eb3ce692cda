//! Harness overhead per iteration (target <= 1 us): edgebench's sampling loop against a bare loop over the same
//! backend API, in the same process, on the smallest zoo model (oww_hello_deepa_mlp, ~14 us per run).
//! The difference of the two per-iteration times is the overhead (BENCHMARKS.md).

mod common;
use criterion::{Criterion, criterion_group, criterion_main};
use edgebench_measure::sampling::{Plan, measure};
use std::time::{Duration, Instant};

fn overhead(c: &mut Criterion) {
    for b in ["tract", "ort"] {
        let Some(backend) = common::backend(b) else {
            eprintln!("NOT MEASURED: backend {b} unavailable");
            continue;
        };
        let Some((mut session, feed)) = common::session(backend.as_ref(), "oww_hello_deepa_mlp")
        else {
            continue;
        };
        let mut g = c.benchmark_group(format!("overhead_{b}_oww"));
        g.bench_function("bare_loop", |bch| {
            bch.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    session.run(&feed).unwrap();
                }
                t.elapsed()
            })
        });
        g.bench_function("edgebench_sampling_loop", |bch| {
            bch.iter_custom(|iters| {
                // Never stop on precision: exactly `iters` timed iterations, CI checks included.
                let plan = Plan {
                    target_rel_ci: -1.0,
                    max_samples: iters as usize,
                    max_time: Duration::from_secs(3600),
                    ..Plan::default()
                };
                let t = Instant::now();
                measure(&plan, || session.run(&feed).map(drop)).unwrap();
                t.elapsed()
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(50);
    targets = overhead
}
criterion_main!(benches);
