//! Are edgebench's numbers right, and is adaptive stopping worth it? (BENCHMARKS.md)
//! For tract and ONNX Runtime on 3 zoo models (all slower than 1 ms here), side by side in one process:
//! 1. edgebench's median (warm-up + adaptive sampling to a 1% CI) vs the median of a plain fixed-count timing loop
//!    of the same API (200 timed iterations after 20 untimed), in 4 alternating ABBA rounds: target within 3%;
//! 2. the wall time edgebench needs to reach the 1% CI vs a fixed 1000-iteration run (onnxruntime_perf_test's
//!    default), with the ratio.
//! A measurement report rather than a statistical bench, so it has its own main (`harness = false`).

mod common;
use edgebench_measure::sampling::{Plan, sample};
use edgebench_measure::stats::percentile;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "| backend | model | edgebench p50 | plain-loop p50 | diff | edgebench wall (n, stop) | fixed 1000 wall | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for b in ["tract", "ort"] {
        let Some(backend) = common::backend(b) else {
            eprintln!("NOT MEASURED: backend {b} unavailable");
            continue;
        };
        for m in [
            "ppocr_mobile_v2_cls",
            "pplcnet_orientation",
            "magika_standard_v3_3",
        ] {
            let Some((mut s, feed)) = common::session(backend.as_ref(), m) else {
                continue;
            };
            // Side by side: 4 rounds in ABBA order, so drift of the machine between the two methods cancels out;
            // each method's result is the median of its per-round medians.
            let mut ebs = vec![];
            let mut pls = vec![];
            let mut walls = vec![];
            let mut adaptive = None;
            for round in 0..4 {
                let adaptive_first = round % 3 == 0;
                for first in [adaptive_first, !adaptive_first] {
                    if first {
                        let t = Instant::now();
                        let a = sample(&Plan::default(), || s.run(&feed).map(drop)).unwrap();
                        walls.push(t.elapsed().as_secs_f64());
                        let mut sorted = a.samples_ns.clone();
                        sorted.sort_by(f64::total_cmp);
                        ebs.push(percentile(&sorted, 50.0));
                        adaptive = Some(a);
                    } else {
                        for _ in 0..20 {
                            s.run(&feed).unwrap();
                        }
                        let mut plain: Vec<f64> = (0..200)
                            .map(|_| {
                                let t = Instant::now();
                                s.run(&feed).unwrap();
                                t.elapsed().as_nanos() as f64
                            })
                            .collect();
                        plain.sort_by(f64::total_cmp);
                        pls.push(percentile(&plain, 50.0));
                    }
                }
            }
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                percentile(v, 50.0)
            };
            let (eb, pl) = (med(&mut ebs), med(&mut pls));
            let adaptive = adaptive.unwrap();
            let adaptive_wall = std::time::Duration::from_secs_f64(med(&mut walls));
            let t = Instant::now();
            for _ in 0..1000 {
                s.run(&feed).unwrap();
            }
            let fixed_wall = t.elapsed();
            println!(
                "| {b} | {m} | {:.3} ms | {:.3} ms | {:+.2}% | {:.2} s (last run: {}, {:?}) | {:.2} s | {:.2}x |",
                eb / 1e6,
                pl / 1e6,
                (eb - pl) / pl * 100.0,
                adaptive_wall.as_secs_f64(),
                adaptive.samples_ns.len(),
                adaptive.stopped_by,
                fixed_wall.as_secs_f64(),
                fixed_wall.as_secs_f64() / adaptive_wall.as_secs_f64()
            );
        }
    }
}
