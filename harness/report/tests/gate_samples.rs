//! The gate's statistics on real saved samples (tract on attention_block: 2,833 samples; wonnx on lavapipe on
//! tiny_mlp: 177 noisy samples from a cell stopped by its time cap) with known shifts. Deterministic: the bootstrap
//! is seeded.

use edgebench_report::gate::{GateOptions, compare};
use rand::{Rng, SeedableRng};

fn samples(name: &str) -> Vec<f64> {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn scaled(s: &[f64], f: f64) -> Vec<f64> {
    s.iter().map(|x| x * f).collect()
}

/// A seeded resample with replacement: another draw from the same distribution.
fn resampled(s: &[f64], seed: u64) -> Vec<f64> {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..s.len())
        .map(|_| s[r.random_range(0..s.len())])
        .collect()
}

fn regressed(b: &[f64], c: &[f64]) -> bool {
    let k = compare(b, c, &GateOptions::default(), "cell");
    k.ci[0] > 1.0 + k.limit
}

fn improved(b: &[f64], c: &[f64]) -> bool {
    let k = compare(b, c, &GateOptions::default(), "cell");
    k.ci[1] < 1.0 / (1.0 + k.limit)
}

#[test]
fn known_shifts_of_a_steady_cell() {
    let s = samples("tract-attention_block.ns.txt");
    assert!(regressed(&s, &scaled(&s, 1.10)));
    assert!(regressed(&s, &scaled(&resampled(&s, 1), 1.10)));
    assert!(improved(&s, &scaled(&s, 0.90)));
    assert!(!regressed(&s, &scaled(&s, 1.02)) && !improved(&s, &scaled(&s, 1.02)));
    // 50 resamples of the same distribution: never flagged either way.
    for seed in 0..50 {
        let c = resampled(&s, seed);
        assert!(!regressed(&s, &c) && !improved(&s, &c), "seed {seed}");
    }
    let k = compare(&s, &scaled(&s, 1.10), &GateOptions::default(), "cell");
    assert!((k.ratio - 1.10).abs() < 1e-9, "{k:?}");
    assert!(k.ci[0] <= 1.10 && k.ci[1] >= 1.10, "{k:?}");
    assert_eq!(
        k,
        compare(&s, &scaled(&s, 1.10), &GateOptions::default(), "cell")
    );
    // Another seed gives another, equally valid interval.
    let other = GateOptions {
        seed: 7,
        ..Default::default()
    };
    assert_ne!(k.ci, compare(&s, &scaled(&s, 1.10), &other, "cell").ci);
}

#[test]
fn a_baseline_that_shifted_within_itself_cannot_convict_a_smaller_change() {
    let s = samples("tract-attention_block.ns.txt");
    let half = s.len() / 2;
    let mut stepped = s.clone();
    for x in stepped.iter_mut().skip(half) {
        *x *= 1.20;
    }
    let k = compare(
        &stepped,
        &scaled(&stepped, 1.10),
        &GateOptions::default(),
        "cell",
    );
    assert!(k.noise_floor > 0.15, "{k:?}");
    assert!(!regressed(&stepped, &scaled(&stepped, 1.10)), "{k:?}");
    // ...but a change beyond its own noise still is one.
    assert!(regressed(&stepped, &scaled(&stepped, 1.60)));
}

#[test]
fn a_noisy_cell_needs_a_bigger_change() {
    let s = samples("wonnx-tiny_mlp.ns.txt");
    let k = compare(&s, &scaled(&s, 1.10), &GateOptions::default(), "cell");
    // 177 samples with a wide spread: the interval is wide, and the noise floor is at least its half-width.
    assert!(k.ci[1] - k.ci[0] > 0.02, "{k:?}");
    assert!(regressed(&s, &scaled(&s, 2.0)));
    for seed in 0..20 {
        let c = resampled(&s, seed);
        assert!(!regressed(&s, &c), "seed {seed}");
    }
}
