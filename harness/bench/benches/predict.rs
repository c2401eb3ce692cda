//! Speed of `check`'s prediction with the after-rewrite layer (issue #19, recorded in BENCHMARKS.md): the 1765
//! conformance node models, each loaded, fitted with its feed, checked against the three tables and, where it does
//! not run as it is, the rewrite rules applied in memory with tract's shape inference as the oracle (one oracle
//! per model, as `check` does). Target: <= 1 s in one process. Needs `edgebench models fetch onnx-conformance`;
//! says so and measures nothing otherwise.

use criterion::{Criterion, criterion_group, criterion_main};
use edgebench_bench::prepare::compat;
use edgebench_compat::{SupportTable, Verdict, check};
use edgebench_graph::stats::ShapeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn tables() -> Vec<&'static SupportTable> {
    ["tract", "ort", "wonnx"]
        .iter()
        .map(|b| edgebench_compat::embedded_ref(b).unwrap().unwrap())
        .collect()
}

/// One model's predictions on every table: (runs as it is, runs after rewrites).
fn predict(
    path: &Path,
    tables: &[&SupportTable],
    oracle: &dyn edgebench_backend_api::Backend,
) -> (usize, usize) {
    let m = edgebench_graph::load(path).expect("loads");
    let shapes = ShapeMap::from_model(&m, &HashMap::new());
    let memo = edgebench_models::fit::fit(&m, "m", &[], &[], &[])
        .ok()
        .map(|f| compat::oracle(oracle, &edgebench_models::fit::input_specs(&f.specs)));
    let (mut runs, mut after) = (0, 0);
    for t in tables {
        if check(&m, t, &shapes).verdict == Verdict::Runs {
            runs += 1;
        } else if let Some(o) = &memo
            && compat::after_rewrites(&m, t, o).is_some()
        {
            after += 1;
        }
    }
    (runs, after)
}

fn conformance(c: &mut Criterion) {
    let node = edgebench_models::cache_dir().join("onnx-conformance-1.22.0/node");
    let Ok(rd) = std::fs::read_dir(&node) else {
        eprintln!(
            "NOT MEASURED: {} missing (edgebench models fetch onnx-conformance)",
            node.display()
        );
        return;
    };
    let mut models: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path().join("model.onnx"))
        .filter(|p| p.is_file())
        .collect();
    models.sort();
    assert_eq!(models.len(), 1765);
    let tables = tables();
    let tract = edgebench_backend_tract::Tract;
    let t = std::time::Instant::now();
    let (runs, after) = models
        .iter()
        .map(|p| predict(p, &tables, &tract))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    eprintln!(
        "one pass: {:?}; of 1765 x 3 cells, {runs} run as they are, {after} are predicted to run after rewrites",
        t.elapsed()
    );
    let mut g = c.benchmark_group("predict");
    g.sample_size(10);
    g.bench_function("conformance_1765_models_x3_tables_with_rewrites", |b| {
        b.iter(|| {
            models
                .iter()
                .map(|p| predict(p, &tables, &tract).1)
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, conformance);
criterion_main!(benches);
