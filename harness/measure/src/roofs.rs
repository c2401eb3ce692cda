//! The machine's own roofs for the roofline: an FMA-bound kernel (peak fp32 GFLOP/s) and a STREAM-like triad
//! (memory bandwidth), each run on every core and measured, not looked up. Figures from a datasheet are
//! "nominal"; these are "measured" on the machine the run happens on.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Measured roofs of one machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Roofs {
    /// Best fp32 GFLOP/s of the FMA kernel over all threads.
    pub peak_gflops: f64,
    /// Best triad bandwidth in GB/s (10^9 bytes/s; 12 bytes moved per f32 element: two reads, one write).
    pub mem_bandwidth_gbs: f64,
    pub threads: usize,
    /// Which vector kernel ran: `avx512f`, `avx2+fma`, `neon` or `scalar`.
    pub kernel: String,
    /// Seconds since the Unix epoch.
    pub measured_unix: u64,
}

const LANES: usize = 16;
const ACCS: usize = 8;
type Block = [[f32; LANES]; ACCS];

/// ACCS independent chains of LANES-wide fused multiply-adds: 2 FLOPs per lane per step.
#[inline(always)]
fn fma_steps(acc: &mut Block, m: f32, a: f32, steps: usize) {
    for _ in 0..steps {
        for row in acc.iter_mut() {
            for x in row.iter_mut() {
                *x = x.mul_add(m, a);
            }
        }
    }
}

// `fma` must be named: without it `mul_add` stays a libm call per lane even with AVX-512 (measured: 5.5 GFLOP/s on
// a 2-core AMD EPYC VM with AVX-512).
// With AVX-512, `mul_add` stays a call per element even with `fma` enabled (measured: 2.6 GFLOP/s per core where
// `_mm512_fmadd_ps` reaches 116 on a 2-core AMD EPYC VM whose ONNX Runtime MatMuls reach 230 on both cores): the
// AVX-512 kernel is written with the intrinsic, one register per row, ACCS independent chains.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_avx512(acc: &mut Block, m: f32, a: f32, steps: usize) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
    const { assert!(LANES == 16) };
    let (vm, va) = (_mm512_set1_ps(m), _mm512_set1_ps(a));
    // SAFETY: each row is exactly 16 f32 (asserted above), what one unaligned 512-bit load and store move.
    let mut r = acc.map(|row| unsafe { _mm512_loadu_ps(row.as_ptr()) });
    for _ in 0..steps {
        for x in r.iter_mut() {
            *x = _mm512_fmadd_ps(*x, vm, va);
        }
    }
    for (row, x) in acc.iter_mut().zip(r) {
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(row.as_mut_ptr(), x) };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_avx2(acc: &mut Block, m: f32, a: f32, steps: usize) {
    fma_steps(acc, m, a, steps)
}

/// Without hardware FMA `mul_add` is a library call: count a separate multiply and add instead.
#[allow(dead_code)]
fn mul_add_scalar(acc: &mut Block, m: f32, a: f32, steps: usize) {
    for _ in 0..steps {
        for row in acc.iter_mut() {
            for x in row.iter_mut() {
                *x = *x * m + a;
            }
        }
    }
}

type Kernel = fn(&mut Block, f32, f32, usize);

/// Every kernel this CPU can run, widest first.
fn kernels() -> Vec<(Kernel, &'static str)> {
    #[allow(unused_mut)]
    let mut k: Vec<(Kernel, &'static str)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were detected at run time.
            k.push((|b, m, a, s| unsafe { fma_avx512(b, m, a, s) }, "avx512f"));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were detected at run time.
            k.push((|b, m, a, s| unsafe { fma_avx2(b, m, a, s) }, "avx2+fma"));
        }
    }
    #[cfg(target_arch = "aarch64")]
    k.push((fma_steps, "neon"));
    k.push((mul_add_scalar, "scalar"));
    k
}

/// Runs `work(thread)` on `threads` threads at once, `reps` times; returns the shortest wall time of a rep.
fn best_parallel(threads: usize, reps: usize, work: impl Fn(usize) + Sync) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let w = &work;
                s.spawn(move || w(t));
            }
        });
        best = best.min(start.elapsed());
    }
    best
}

/// Peak fp32 GFLOP/s of the FMA kernel on `threads` threads (best of `reps`, each ~`steps` x 256 FLOPs per
/// thread).
/// Every kernel of [`kernels`] is measured and the fastest counts (its name is returned): a kernel that the
/// compiler or the CPU serves badly then lowers nothing. The scalar one is skipped when a vector kernel exists.
pub fn measure_peak_gflops(threads: usize, steps: usize, reps: usize) -> (f64, &'static str) {
    let all = kernels();
    let vector = all.len() > 1;
    let flops = (threads * steps * ACCS * LANES * 2) as f64;
    all.into_iter()
        .filter(|(_, name)| !(vector && *name == "scalar"))
        .map(|(kernel, name)| {
            let t = best_parallel(threads, reps, |i| {
                let mut acc: Block = [[1.0 + i as f32 * 1e-3; LANES]; ACCS];
                kernel(
                    &mut acc,
                    std::hint::black_box(0.999_999),
                    std::hint::black_box(1e-6),
                    steps,
                );
                std::hint::black_box(&acc);
            });
            (flops / t.as_secs_f64() / 1e9, name)
        })
        .fold(
            (0.0, "scalar"),
            |best, x| if x.0 > best.0 { x } else { best },
        )
}

/// Triad `a = b + s * c` over `elems` f32 per array per thread (best of `reps`), in GB/s.
pub fn measure_triad_gbs(threads: usize, elems: usize, reps: usize) -> f64 {
    let mut arrays: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = (0..threads)
        .map(|_| (vec![0.0; elems], vec![1.0; elems], vec![2.0; elems]))
        .collect();
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let start = Instant::now();
        std::thread::scope(|s| {
            for (a, b, c) in arrays.iter_mut() {
                s.spawn(move || {
                    let k = std::hint::black_box(3.0f32);
                    for ((x, y), z) in a.iter_mut().zip(b.iter()).zip(c.iter()) {
                        *x = y + k * z;
                    }
                    std::hint::black_box(&a);
                });
            }
        });
        best = best.min(start.elapsed());
    }
    (threads * elems * 12) as f64 / best.as_secs_f64() / 1e9
}

/// Both roofs on `threads` threads with the default sizes: ~0.3 s of FMA work and 3 x 32 MiB arrays per thread
/// (beyond any last-level cache of an edge board or a 2-core VM share).
pub fn measure(threads: usize) -> Roofs {
    let threads = threads.max(1);
    let (peak, kernel) = measure_peak_gflops(threads, 2_000_000, 5);
    let bw = measure_triad_gbs(threads, 8 << 20, 5);
    Roofs {
        peak_gflops: peak,
        mem_bandwidth_gbs: bw,
        threads,
        kernel: kernel.to_string(),
        measured_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_report_positive_finite_figures() {
        let (g, name) = measure_peak_gflops(1, 10_000, 2);
        assert!(g.is_finite() && g > 0.0, "{g}");
        assert!(!name.is_empty());
        let bw = measure_triad_gbs(1, 1 << 16, 2);
        assert!(bw.is_finite() && bw > 0.0, "{bw}");
    }

    #[test]
    fn every_kernel_computes_what_it_claims() {
        let all = kernels();
        assert!(all.iter().any(|(_, n)| *n == "scalar"));
        for (kernel, name) in all {
            let mut acc: Block = [[1.0; LANES]; ACCS];
            kernel(&mut acc, 2.0, 1.0, 3);
            // 1 -> 3 -> 7 -> 15
            assert!(acc.iter().flatten().all(|x| *x == 15.0), "{name}");
        }
    }
}
