//! The report on a big run: a synthetic 2,000-cell results file (4 targets x 5 backends x 25 models x 4 variants,
//! 1,000 raw samples per cell, some failed cells, a gate against a shifted copy) rendered to HTML. Prints the page
//! size; criterion measures the time (target: < 2 s, < 10 MB; BENCHMARKS.md).

use criterion::{Criterion, criterion_group, criterion_main};
use edgebench_measure::energy::{Energy, Source};
use edgebench_measure::stats::Stats;
use edgebench_report::*;
use rand::{Rng, SeedableRng};
use std::path::Path;

fn machine() -> Machine {
    Machine {
        cpu: "synthetic".into(),
        logical_cores: 2,
        physical_cores: Some(1),
        memory_bytes: 24 << 30,
        os: "Debian".into(),
        kernel: "6".into(),
        arch: "x86_64".into(),
        governor: None,
        emulated: false,
        backends: vec![],
    }
}

fn synthetic(dir: &Path, shift: f64, seed: u64) -> Results {
    std::fs::create_dir_all(dir.join("samples")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let targets = ["host", "pi4", "pi5", "jetson"];
    let backends = ["tract", "ort", "wonnx", "wonnx+tract", "ort-xnnpack"];
    let variants = ["fp32", "fp16", "int8-dynamic", "int8-static"];
    let mut cells = vec![];
    for t in targets {
        for b in backends {
            for m in 0..25 {
                for v in variants {
                    let model = format!("model_{m:02}");
                    let base = 1e5 * (1.0 + m as f64) * if b == "wonnx" { 8.0 } else { 1.0 };
                    let samples: Vec<f64> = (0..1000)
                        .map(|_| base * shift * (1.0 + 0.1 * rng.random::<f64>().powi(4)))
                        .collect();
                    let file = format!("samples/{t}-{b}-{model}-{v}.txt");
                    let text: String = samples.iter().map(|s| format!("{s:.0}\n")).collect();
                    std::fs::write(dir.join(&file), text).unwrap();
                    let failed = (m + t.len() + b.len()) % 17 == 0;
                    cells.push(Cell {
                        target: t.into(),
                        emulated: false,
                        backend: b.into(),
                        backend_version: Some("1".into()),
                        model,
                        variant: v.into(),
                        outcome: if failed {
                            Outcome::Failed {
                                exit_code: 5,
                                message: "the backend refused: op not supported".into(),
                            }
                        } else {
                            Outcome::Ok
                        },
                        cold_start: (!failed).then_some(ColdStart {
                            load_ms: 30.0,
                            first_inference_ms: 2.0,
                            total_ms: 32.0,
                        }),
                        latency: (!failed).then(|| Stats::from_samples(&samples)),
                        stopped_by: None,
                        warmup_iterations: Some(5),
                        samples_file: (!failed).then_some(file),
                        memory: (!failed).then_some(Memory {
                            baseline_rss_bytes: 10 << 20,
                            peak_rss_bytes: 60 << 20,
                            model_added_bytes: 40 << 20,
                        }),
                        cpu_user_s: Some(1.0),
                        cpu_sys_s: Some(0.1),
                        energy: (!failed).then_some(Energy {
                            joules: 10.0,
                            average_watts: 12.0,
                            joules_per_inference: 0.001,
                            source: Source::Estimated {
                                model: "synthetic".into(),
                            },
                        }),
                        roofline: (!failed).then_some(Roofline {
                            model_flops: 1_000_000_000,
                            achieved_gflops: 10.0,
                            peak_gflops: 100.0,
                            share_of_peak: 0.1,
                            mem_bandwidth_gbs: Some(20.0),
                            roof_source: Some("nominal".into()),
                            model_bytes: Some(5_000_000),
                        }),
                        agreement: None,
                        split: vec![],
                        delta: (v != "fp32").then(|| Delta {
                            latency_ratio: Some(0.8),
                            peak_memory_ratio: Some(0.9),
                            energy_ratio: Some(0.8),
                            size_ratio: Some(0.5),
                            drift: vec![],
                        }),
                        processes: vec![],
                        turns: vec![],
                        rewrite: None,
                        profile: None,
                    });
                }
            }
        }
    }
    Results {
        format_version: FORMAT_VERSION,
        run_id: format!("synthetic-{seed}"),
        started_unix: 0,
        edgebench_version: "0".into(),
        git_commit: "0".into(),
        machine: machine(),
        targets: vec![],
        settings: Settings {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            seed: 0,
            target_rel_ci: 0.01,
            max_time_s: 10.0,
            warmup_s: 0.3,
            cell_timeout_s: 300,
            cell_address_space_bytes: None,
            processes: 1,
            paired: None,
            threads: None,
            profile: false,
        },
        plan_id: "p".into(),
        partition: None,
        merged_from: vec![],
        feeds: vec![],
        variants: vec![],
        compat: vec![],
        cells,
    }
}

fn render(c: &mut Criterion) {
    let t = tempfile::tempdir().unwrap();
    let (bd, cd) = (t.path().join("base"), t.path().join("cand"));
    let base = synthetic(&bd, 1.0, 1);
    let cand = synthetic(&cd, 1.05, 2);
    let g = gate::gate(&base, &bd, &cand, &cd, &gate::GateOptions::default()).unwrap();
    let page = html::Page {
        results: &cand,
        dir: &cd,
        gate: Some(&g),
        source: "synthetic".into(),
        trends: None,
    };
    let html = html::render(&page);
    eprintln!(
        "report of {} cells: {:.2} MB of HTML",
        cand.cells.len(),
        html.len() as f64 / 1e6
    );
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("html_2000_cells", |b| b.iter(|| html::render(&page).len()));
    group.bench_function("gate_2000_cells", |b| {
        b.iter(|| {
            gate::gate(&base, &bd, &cand, &cd, &gate::GateOptions::default())
                .unwrap()
                .failures
        })
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
