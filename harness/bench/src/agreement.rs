//! Agreement of a row of cells (one model, several backends) with the reference backend's outputs on the same
//! feed: ONNX Runtime where it ran the model, else tract; for a TFLite model, LiteRT (on this machine), else
//! tract-tflite.

use edgebench_backend_api::{HostTensor, Tolerance, compare, load_tensors};
use edgebench_report::Agreement;
use std::path::PathBuf;

/// Outputs agree with the reference when they are within [`Tolerance::AGREEMENT`] (per output, max abs error <=
/// 1e-4 or max rel error <= 1e-3).
pub const TOLERANCE: Tolerance = Tolerance::AGREEMENT;
/// Reference backends in order of preference.
pub const REFERENCES: &[&str] = &["ort", "tract", "litert", "tract-tflite"];

/// For each `(backend, may serve as reference, saved outputs)` of a row, its agreement with the reference: the
/// first eligible cell of the first backend in [`REFERENCES`] that saved outputs. `None` for the reference itself,
/// for cells that saved nothing, and for every cell when no reference ran.
pub fn row(cells: &[(String, bool, Option<PathBuf>)]) -> Vec<Option<Agreement>> {
    let reference = REFERENCES.iter().find_map(|r| {
        let (i, (b, _, p)) = cells
            .iter()
            .enumerate()
            .find(|(_, (b, eligible, p))| b == r && *eligible && p.is_some())?;
        Some((i, b.clone(), load_tensors(p.as_deref()?).ok()?))
    });
    cells
        .iter()
        .enumerate()
        .map(|(i, (_, _, saved))| {
            let (ri, name, refs) = reference.as_ref()?;
            if i == *ri {
                return None;
            }
            let p = saved.as_ref()?;
            Some(match load_tensors(p) {
                Ok(outs) => against(name, &outs, refs),
                Err(e) => Agreement {
                    reference: name.clone(),
                    max_abs_error: f64::INFINITY,
                    max_rel_error: f64::INFINITY,
                    min_cosine: f64::NAN,
                    agree: false,
                    error: Some(e),
                },
            })
        })
        .collect()
}

/// Agreement of `outs` with `refs`, output by output.
pub fn against(
    reference: &str,
    outs: &[(String, HostTensor)],
    refs: &[(String, HostTensor)],
) -> Agreement {
    let mut a = Agreement {
        reference: reference.into(),
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        min_cosine: 1.0,
        agree: true,
        error: None,
    };
    for (name, r) in refs {
        match outs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| compare(t, r))
        {
            Some(Ok(x)) => {
                a.agree &= TOLERANCE.holds(&x);
                a.max_abs_error = a.max_abs_error.max(x.max_abs_error);
                a.max_rel_error = a.max_rel_error.max(x.max_rel_error);
                a.min_cosine = a.min_cosine.min(x.cosine_similarity);
            }
            Some(Err(e)) => {
                a.agree = false;
                a.error = Some(format!("output `{name}`: {e}"));
            }
            None => {
                a.agree = false;
                a.error = Some(format!("no output `{name}`"));
            }
        }
    }
    a
}

/// The agreement of one output with another backend's, or why it cannot be compared.
#[derive(serde::Serialize, Clone, Debug)]
pub struct OutputAgreement {
    pub name: String,
    #[serde(flatten)]
    pub agreement: Option<edgebench_backend_api::Agreement>,
    pub error: Option<String>,
}

/// Per output of `outs`, its agreement with the same-named output of `theirs` (from backend `other`).
pub fn per_output(
    other: &str,
    outs: &[(String, HostTensor)],
    theirs: &[(String, HostTensor)],
) -> Vec<OutputAgreement> {
    outs.iter()
        .map(|(n, t)| {
            let (agreement, error) = match theirs.iter().find(|(tn, _)| tn == n) {
                None => (None, Some(format!("{other} produced no output `{n}`"))),
                Some((_, r)) => match compare(t, r) {
                    Ok(ag) => (Some(ag), None),
                    Err(e) => (None, Some(e)),
                },
            };
            OutputAgreement {
                name: n.clone(),
                agreement,
                error,
            }
        })
        .collect()
}
