//! Speed and memory of `check` (issue targets, recorded in BENCHMARKS.md):
//! - load + check of all 1765 conformance node models against the three tables, in one process: <= 2 s;
//! - load + check of the largest zoo model (minilm, 23 MB): <= 100 ms, peak heap <= 2x the file size.
//! Needs `edgebench models fetch` (the cache); says so and measures nothing otherwise.

use criterion::{Criterion, criterion_group, criterion_main};
use edgebench_compat::{SupportTable, check};
use edgebench_graph::stats::ShapeMap;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live and peak heap bytes: the memory the loader and checker allocate (the model file itself is mapped,
/// not allocated).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

fn cache() -> PathBuf {
    std::env::var_os("EDGEBENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/edgebench")
        })
}

fn tables() -> Vec<SupportTable> {
    edgebench_compat::EMBEDDED
        .iter()
        .map(|(b, ..)| edgebench_compat::embedded(b).unwrap().unwrap())
        .collect()
}

fn check_file(path: &std::path::Path, tables: &[SupportTable]) -> usize {
    let m = edgebench_graph::load(path).expect("loads");
    let shapes = ShapeMap::from_model(&m, &HashMap::new());
    tables
        .iter()
        .map(|t| check(&m, t, &shapes).supported_nodes)
        .sum()
}

fn conformance(c: &mut Criterion) {
    let node = cache().join("onnx-conformance-1.22.0/node");
    let Ok(rd) = std::fs::read_dir(&node) else {
        eprintln!(
            "NOT MEASURED: {} missing (edgebench models fetch onnx-conformance)",
            node.display()
        );
        return;
    };
    let models: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path().join("model.onnx"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(models.len(), 1765);
    let tables = tables();
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    g.bench_function("conformance_1765_models_x3_tables", |b| {
        b.iter(|| models.iter().map(|p| check_file(p, &tables)).sum::<usize>())
    });
    g.finish();
}

fn minilm(c: &mut Criterion) {
    let p = cache().join("models/minilm_l6_v2_int8w.onnx");
    if !p.is_file() {
        eprintln!(
            "NOT MEASURED: {} missing (edgebench models fetch minilm_l6_v2_int8w)",
            p.display()
        );
        return;
    }
    let tables = tables();
    let size = std::fs::metadata(&p).unwrap().len() as usize;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    check_file(&p, &tables);
    let once = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    eprintln!(
        "minilm: file {size} B, one load + check x3 tables {once:?}, peak heap {peak} B = {:.3}x the file",
        peak as f64 / size as f64
    );
    let mut g = c.benchmark_group("check");
    g.sample_size(20);
    g.bench_function("minilm_23MB_x3_tables", |b| {
        b.iter(|| check_file(&p, &tables))
    });
    g.finish();
}

criterion_group!(benches, conformance, minilm);
criterion_main!(benches);
