//! Activation ranges from calibration runs: min-max, percentile of |x|, or entropy (the KL-divergence threshold of
//! TensorRT's calibrator, also what onnxruntime's `CalibrationMethod.Entropy` computes).

use super::{Observe, VariantError, typed};
use crate::Facts;
use edgebench_graph::{DataType, Model};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How ranges are chosen from the observed values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum Method {
    /// The observed min and max.
    MinMax,
    /// |x| clipped at this percentile (e.g. 99.99) of all observed |x|.
    Percentile { percentile: f64 },
    /// |x| clipped at the threshold that minimises the KL divergence between the 2048-bin histogram and its
    /// 128-level quantization.
    Entropy,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "minmax" | "min-max" => Some(Method::MinMax),
            "percentile" => Some(Method::Percentile { percentile: 99.99 }),
            "entropy" | "kl" => Some(Method::Entropy),
            _ => None,
        }
    }
}

/// Calibrated `(min, max)` per value.
pub type Ranges = HashMap<String, (f32, f32)>;

const BINS: usize = 2048;
const LEVELS: usize = 128;

/// Runs the model with `values` as extra outputs on the calibration feeds and derives a range for each. The observer
/// must report graph inputs among `values` from the feeds themselves.
pub fn calibrate(
    model: &Model,
    values: &[String],
    facts: &Facts,
    observe: &dyn Observe,
    method: Method,
) -> Result<Ranges, VariantError> {
    let mut aug = model.clone();
    // Graph inputs are not made outputs (a backend may hand back an input-aliasing output unreliably): the
    // observer reports the feed's own tensors for them.
    let existing: std::collections::HashSet<String> = aug
        .graph
        .outputs
        .iter()
        .chain(&aug.graph.inputs)
        .map(|o| o.name.clone())
        .collect();
    for v in values {
        if !existing.contains(v) {
            aug.graph
                .outputs
                .push(typed(v, DataType::Float, facts.get(v).map(|(_, s)| s)));
        }
    }
    let mut minmax: HashMap<String, (f32, f32)> = HashMap::new();
    observe
        .observe(&aug, values, &mut |name, xs| {
            let e = minmax
                .entry(name.to_string())
                .or_insert((f32::INFINITY, f32::NEG_INFINITY));
            for x in xs.iter().filter(|x| x.is_finite()) {
                e.0 = e.0.min(*x);
                e.1 = e.1.max(*x);
            }
        })
        .map_err(VariantError::Calibration)?;
    for v in values {
        match minmax.get(v) {
            Some((lo, hi)) if lo <= hi => {}
            _ => {
                return Err(VariantError::Calibration(format!(
                    "no finite value observed for `{v}`"
                )));
            }
        }
    }
    if method == Method::MinMax {
        return Ok(minmax);
    }
    // Second pass: histograms of |x| over [0, max |x|].
    let absmax: HashMap<String, f32> = minmax
        .iter()
        .map(|(k, (lo, hi))| (k.clone(), lo.abs().max(hi.abs()).max(f32::MIN_POSITIVE)))
        .collect();
    let mut hists: HashMap<String, Vec<u64>> = HashMap::new();
    observe
        .observe(&aug, values, &mut |name, xs| {
            let Some(m) = absmax.get(name) else { return };
            let h = hists
                .entry(name.to_string())
                .or_insert_with(|| vec![0; BINS]);
            for x in xs.iter().filter(|x| x.is_finite()) {
                let b = ((x.abs() / m) * BINS as f32) as usize;
                h[b.min(BINS - 1)] += 1;
            }
        })
        .map_err(VariantError::Calibration)?;
    let mut out = Ranges::new();
    for (name, (lo, hi)) in minmax {
        let m = absmax[&name];
        let Some(h) = hists.get(&name) else {
            out.insert(name, (lo, hi));
            continue;
        };
        let t = match method {
            Method::Percentile { percentile } => percentile_threshold(h, percentile) * m,
            _ => entropy_threshold(h) * m,
        };
        out.insert(name, (lo.max(-t), hi.min(t)));
    }
    Ok(out)
}

/// The fraction of the histogram's range below which `p` percent of the counts lie (upper edge of that bin).
fn percentile_threshold(h: &[u64], p: f64) -> f32 {
    let total: u64 = h.iter().sum();
    let want = (total as f64 * p / 100.0).ceil() as u64;
    let mut acc = 0;
    for (i, c) in h.iter().enumerate() {
        acc += c;
        if acc >= want {
            return (i + 1) as f32 / h.len() as f32;
        }
    }
    1.0
}

/// The fraction of the histogram's range at which clipping minimises KL(P || Q), P the clipped histogram (outliers
/// added to its last bin) and Q its quantization into 128 levels spread back over the non-empty bins.
pub fn entropy_threshold(h: &[u64]) -> f32 {
    let n = h.len();
    if n <= LEVELS {
        return 1.0;
    }
    let mut best = (f64::INFINITY, n);
    let mut i = LEVELS;
    while i <= n {
        let mut p: Vec<f64> = h[..i].iter().map(|c| *c as f64).collect();
        p[i - 1] += h[i..].iter().sum::<u64>() as f64;
        let mut q = vec![0.0f64; i];
        for level in 0..LEVELS {
            let a = level * i / LEVELS;
            let b = ((level + 1) * i / LEVELS).max(a + 1);
            let sum: f64 = h[a..b].iter().map(|c| *c as f64).sum();
            let nonzero = h[a..b].iter().filter(|c| **c > 0).count();
            if nonzero > 0 {
                for j in a..b {
                    if h[j] > 0 {
                        q[j] = sum / nonzero as f64;
                    }
                }
            }
        }
        let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
        if sp > 0.0 && sq > 0.0 {
            let mut kl = 0.0;
            for (pj, qj) in p.iter().zip(&q) {
                if *pj > 0.0 {
                    let pn = pj / sp;
                    let qn = (qj / sq).max(1e-12);
                    kl += pn * (pn / qn).ln();
                }
            }
            if kl < best.0 {
                best = (kl, i);
            }
        }
        i += 8;
    }
    best.1 as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_clips_the_tail() {
        let mut h = vec![0u64; 100];
        h[9] = 9_999;
        h[99] = 1;
        assert_eq!(percentile_threshold(&h, 99.99), 0.1);
        assert_eq!(percentile_threshold(&h, 100.0), 1.0);
    }

    #[test]
    fn entropy_ignores_a_far_outlier() {
        // A bell of values in the first 300 bins and one outlier at the top: the threshold clips the outlier.
        let mut h = vec![0u64; BINS];
        for (i, c) in h.iter_mut().enumerate().take(300) {
            *c = (10_000.0 * (-((i as f64) / 100.0).powi(2)).exp()) as u64 + 1;
        }
        h[BINS - 1] = 1;
        let t = entropy_threshold(&h);
        assert!(t < 0.5, "threshold {t}");
        assert!(t > 0.05, "threshold {t}");
    }
}
