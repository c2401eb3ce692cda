//! Host-side tensors exchanged with backends, and output agreement metrics.

use edgebench_graph::DataType;
use serde::Serialize;

/// Element storage of a [`HostTensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    F16(Vec<half::f16>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I16(Vec<i16>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

/// A dense tensor in host memory, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl HostTensor {
    pub fn dtype(&self) -> DataType {
        match &self.data {
            Data::F32(_) => DataType::Float,
            Data::F64(_) => DataType::Double,
            Data::F16(_) => DataType::Float16,
            Data::I64(_) => DataType::Int64,
            Data::I32(_) => DataType::Int32,
            Data::I16(_) => DataType::Int16,
            Data::I8(_) => DataType::Int8,
            Data::U8(_) => DataType::Uint8,
            Data::Bool(_) => DataType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::F16(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every element widened to f64 (for statistics and comparison).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|x| *x as f64).collect(),
            Data::F64(v) => v.clone(),
            Data::F16(v) => v.iter().map(|x| x.to_f64()).collect(),
            Data::I64(v) => v.iter().map(|x| *x as f64).collect(),
            Data::I32(v) => v.iter().map(|x| *x as f64).collect(),
            Data::I16(v) => v.iter().map(|x| *x as f64).collect(),
            Data::I8(v) => v.iter().map(|x| *x as f64).collect(),
            Data::U8(v) => v.iter().map(|x| *x as f64).collect(),
            Data::Bool(v) => v.iter().map(|x| *x as u8 as f64).collect(),
        }
    }

    /// Min, max, mean and count of non-finite values.
    pub fn summary(&self) -> Summary {
        let v = self.to_f64();
        let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let (min, max) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        let mean = if finite.is_empty() {
            f64::NAN
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        };
        let std = if finite.is_empty() {
            f64::NAN
        } else {
            (finite.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / finite.len() as f64).sqrt()
        };
        let argmax = v
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_finite())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        Summary {
            count: v.len(),
            min,
            max,
            mean,
            std,
            non_finite: v.len() - finite.len(),
            argmax,
        }
    }
}

/// Summary statistics of one tensor.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    pub non_finite: usize,
    pub argmax: Option<usize>,
}

/// How closely a candidate output matches a reference output.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Agreement {
    pub max_abs_error: f64,
    /// max |a-b| / max(|b|, 1e-6), over elements.
    pub max_rel_error: f64,
    pub cosine_similarity: f64,
    /// Whether the argmax (top-1 class) is the same.
    pub same_argmax: bool,
}

/// When two outputs count as the same: per output, max abs error <= `abs` or max rel error <= `rel`, and (with a
/// bound) cosine >= `min_cosine`. The one predicate of cell agreement, rewrite verification and split execution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
    pub min_cosine: Option<f64>,
}

impl Tolerance {
    /// A cell's outputs against the reference backend's (bench's agreement column).
    pub const AGREEMENT: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-3,
        min_cosine: None,
    };
    /// A rewritten model, or a split's partitions, against the original: the same bounds and a cosine.
    pub const VERIFIED: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-3,
        min_cosine: Some(0.9999),
    };

    /// Whether `a` is within this tolerance (a NaN cosine fails only a cosine bound).
    pub fn holds(&self, a: &Agreement) -> bool {
        (a.max_abs_error <= self.abs || a.max_rel_error <= self.rel)
            && self.min_cosine.is_none_or(|c| !(a.cosine_similarity < c))
    }
}

/// Compares `candidate` with `reference`; `Err` when shapes or element counts differ.
pub fn compare(candidate: &HostTensor, reference: &HostTensor) -> Result<Agreement, String> {
    if candidate.shape != reference.shape {
        return Err(format!(
            "shape {:?} differs from reference {:?}",
            candidate.shape, reference.shape
        ));
    }
    let a = candidate.to_f64();
    let b = reference.to_f64();
    let mut max_abs: f64 = 0.0;
    let mut max_rel: f64 = 0.0;
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        let d = (x - y).abs();
        if x.is_nan() != y.is_nan() {
            max_abs = f64::INFINITY;
            max_rel = f64::INFINITY;
            continue;
        }
        if d.is_finite() {
            max_abs = max_abs.max(d);
            max_rel = max_rel.max(d / y.abs().max(1e-6));
        }
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let cosine = if na == 0.0 && nb == 0.0 {
        1.0
    } else {
        dot / (na.sqrt() * nb.sqrt()).max(f64::MIN_POSITIVE)
    };
    Ok(Agreement {
        max_abs_error: max_abs,
        max_rel_error: max_rel,
        cosine_similarity: cosine,
        same_argmax: candidate.summary().argmax == reference.summary().argmax,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_errors_and_cosine() {
        let r = HostTensor {
            shape: vec![3],
            data: Data::F32(vec![1.0, 2.0, 4.0]),
        };
        let c = HostTensor {
            shape: vec![3],
            data: Data::F32(vec![1.0, 2.5, 4.0]),
        };
        let a = compare(&c, &r).unwrap();
        assert!((a.max_abs_error - 0.5).abs() < 1e-9);
        assert!((a.max_rel_error - 0.25).abs() < 1e-9);
        assert!(a.cosine_similarity < 1.0 && a.cosine_similarity > 0.99);
        assert!(a.same_argmax);
        let bad = HostTensor {
            shape: vec![1, 3],
            data: Data::F32(vec![1.0, 2.0, 4.0]),
        };
        assert!(compare(&bad, &r).is_err());
    }
}

impl HostTensor {
    /// Reads an ONNX tensor (initializer, test-data `.pb`, saved output). Types a host tensor cannot hold (bfloat16,
    /// float8, int4, strings, complex) are an error naming the type.
    pub fn from_onnx(t: &edgebench_graph::Tensor) -> Result<HostTensor, String> {
        use edgebench_graph::DataType as D;
        let shape: Vec<usize> = t.dims().iter().map(|d| (*d).max(0) as usize).collect();
        let n: usize = shape
            .iter()
            .try_fold(1usize, |a, d| a.checked_mul(*d))
            .ok_or_else(|| format!("tensor `{}`: dims {:?} overflow", t.name(), t.dims()))?;
        let raw = t.data_bytes().map_err(|e| e.to_string())?;
        let want = t.dtype().bytes_for(n as u64) as usize;
        if raw.len() != want {
            return Err(format!(
                "tensor `{}`: {} bytes of data for {} x {}",
                t.name(),
                raw.len(),
                n,
                t.dtype()
            ));
        }
        fn le<const W: usize, T>(raw: &[u8], f: impl Fn([u8; W]) -> T) -> Vec<T> {
            raw.chunks_exact(W)
                .map(|c| f(c.try_into().unwrap_or([0; W])))
                .collect()
        }
        let data = match t.dtype() {
            D::Float => Data::F32(le(&raw, f32::from_le_bytes)),
            D::Double => Data::F64(le(&raw, f64::from_le_bytes)),
            D::Float16 => Data::F16(le(&raw, |b| half::f16::from_bits(u16::from_le_bytes(b)))),
            D::Int64 => Data::I64(le(&raw, i64::from_le_bytes)),
            D::Int32 => Data::I32(le(&raw, i32::from_le_bytes)),
            D::Int16 => Data::I16(le(&raw, i16::from_le_bytes)),
            D::Int8 => Data::I8(raw.iter().map(|b| *b as i8).collect()),
            D::Uint8 => Data::U8(raw.to_vec()),
            D::Bool => Data::Bool(raw.iter().map(|b| *b != 0).collect()),
            other => {
                return Err(format!(
                    "tensor `{}`: {other} is not supported on the host",
                    t.name()
                ));
            }
        };
        Ok(HostTensor { shape, data })
    }

    /// Writes this tensor as an ONNX tensor with raw little-endian data.
    pub fn to_onnx(&self, name: &str) -> edgebench_graph::Tensor {
        fn bytes<T, const W: usize>(v: &[T], f: impl Fn(&T) -> [u8; W]) -> Vec<u8> {
            v.iter().flat_map(f).collect()
        }
        let raw = match &self.data {
            Data::F32(v) => bytes(v, |x| x.to_le_bytes()),
            Data::F64(v) => bytes(v, |x| x.to_le_bytes()),
            Data::F16(v) => bytes(v, |x| x.to_bits().to_le_bytes()),
            Data::I64(v) => bytes(v, |x| x.to_le_bytes()),
            Data::I32(v) => bytes(v, |x| x.to_le_bytes()),
            Data::I16(v) => bytes(v, |x| x.to_le_bytes()),
            Data::I8(v) => bytes(v, |x| x.to_le_bytes()),
            Data::U8(v) => v.clone(),
            Data::Bool(v) => v.iter().map(|b| *b as u8).collect(),
        };
        let dims: Vec<i64> = self.shape.iter().map(|d| *d as i64).collect();
        edgebench_graph::Tensor::from_raw(name, self.dtype(), &dims, raw)
    }
}

#[cfg(test)]
mod onnx_tests {
    use super::*;

    #[test]
    fn onnx_round_trip_keeps_dtype_shape_and_values() {
        for t in [
            HostTensor {
                shape: vec![2, 2],
                data: Data::F32(vec![1.0, -2.5, 3.25, 0.0]),
            },
            HostTensor {
                shape: vec![3],
                data: Data::I64(vec![-1, 0, 1 << 40]),
            },
            HostTensor {
                shape: vec![],
                data: Data::Bool(vec![true]),
            },
            HostTensor {
                shape: vec![2],
                data: Data::F16(vec![half::f16::from_f32(0.5), half::f16::from_f32(-1.0)]),
            },
        ] {
            assert_eq!(HostTensor::from_onnx(&t.to_onnx("x")).unwrap(), t);
        }
    }
}
