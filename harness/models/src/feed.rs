//! Input feeds: `NAME=DTYPE[SHAPE][:fill]` specs and seeded random tensors.

use edgebench_backend_api::{Data, HostTensor};
use edgebench_graph::DataType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a fed tensor is filled.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    /// float: uniform in [-1, 1); integers: uniform in [0, 10); bool: fair coin.
    Random,
    /// Every element this value.
    Const(f64),
    /// Integers uniform in [lo, hi).
    Range(i64, i64),
    /// Float `[N, C, H, W]` image-like data in [-1, 1]: per image and channel a few low-frequency waves plus
    /// flat-coloured rectangles (edges), the spatial structure a vision model sees; white noise (`Random`) puts
    /// classifiers near ties, where any rounding flips the top-1 class.
    Image,
}

/// One input of a feed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedSpec {
    pub name: String,
    pub dtype: DataType,
    pub shape: Vec<usize>,
    pub fill: Fill,
}

/// A feed spec that does not parse, or a feed that does not fit a model.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FeedError(pub String);

impl FeedSpec {
    /// Parses `NAME=DTYPE[D0,D1,...]`, optionally followed by `:V` or `:LO..HI`. `[]` is a scalar.
    pub fn parse(s: &str) -> Result<FeedSpec, FeedError> {
        let bad = |why: &str| {
            FeedError(format!(
                "feed `{s}`: {why} (expected NAME=DTYPE[SHAPE], e.g. x=float32[1,3,224,224])"
            ))
        };
        let (name, rest) = s.rsplit_once('=').ok_or_else(|| bad("no `=`"))?;
        // Input names may contain `=`? No: but they may contain `:` (e.g. `onnx::Flatten_0`), so split at the last `=`.
        if name.is_empty() {
            return Err(bad("empty input name"));
        }
        let open = rest.find('[').ok_or_else(|| bad("no `[`"))?;
        let close = rest.find(']').ok_or_else(|| bad("no `]`"))?;
        if close < open {
            return Err(bad("`]` before `[`"));
        }
        let dtype_s = &rest[..open];
        let dtype =
            DataType::parse(dtype_s).ok_or_else(|| bad(&format!("unknown dtype `{dtype_s}`")))?;
        let dims = rest[open + 1..close].trim();
        let shape = if dims.is_empty() {
            vec![]
        } else {
            dims.split(',')
                .map(|d| {
                    d.trim().parse::<usize>().map_err(|_| {
                        bad(&format!(
                            "dimension `{}` is not a non-negative integer",
                            d.trim()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let tail = &rest[close + 1..];
        let fill = if tail.is_empty() {
            Fill::Random
        } else if let Some(f) = tail.strip_prefix(':') {
            if f == "image" {
                if shape.len() != 4
                    || !matches!(
                        dtype,
                        DataType::Float | DataType::Float16 | DataType::Double
                    )
                {
                    return Err(bad("`:image` needs a float [N, C, H, W] input"));
                }
                Fill::Image
            } else if let Some((lo, hi)) = f.split_once("..") {
                let lo: i64 = lo
                    .parse()
                    .map_err(|_| bad(&format!("range start `{lo}` is not an integer")))?;
                let hi: i64 = hi
                    .parse()
                    .map_err(|_| bad(&format!("range end `{hi}` is not an integer")))?;
                if hi <= lo {
                    return Err(bad("empty range"));
                }
                Fill::Range(lo, hi)
            } else {
                Fill::Const(
                    f.parse()
                        .map_err(|_| bad(&format!("fill value `{f}` is not a number")))?,
                )
            }
        } else {
            return Err(bad(&format!("unexpected `{tail}` after the shape")));
        };
        Ok(FeedSpec {
            name: name.to_string(),
            dtype,
            shape,
            fill,
        })
    }
}

impl std::fmt::Display for FeedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}={}[{}]", self.name, self.dtype, dims.join(","))?;
        match self.fill {
            Fill::Random => Ok(()),
            Fill::Const(v) => write!(f, ":{v}"),
            Fill::Range(a, b) => write!(f, ":{a}..{b}"),
            Fill::Image => f.write_str(":image"),
        }
    }
}

fn name_seed(seed: u64, name: &str) -> u64 {
    // FNV-1a: stable across platforms and Rust versions (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed
}

/// Makes the tensor for one spec. The same (seed, name, spec) gives the same values on every platform.
pub fn make_feed(spec: &FeedSpec, seed: u64) -> Result<HostTensor, FeedError> {
    let n: usize = spec
        .shape
        .iter()
        .try_fold(1usize, |a, d| a.checked_mul(*d))
        .ok_or_else(|| {
            FeedError(format!(
                "feed `{}`: {:?} has more elements than memory can hold",
                spec.name, spec.shape
            ))
        })?;
    let mut rng = ChaCha8Rng::seed_from_u64(name_seed(seed, &spec.name));
    let ints = |rng: &mut ChaCha8Rng| -> i64 {
        match spec.fill {
            Fill::Const(v) => v as i64,
            Fill::Range(lo, hi) => rng.random_range(lo..hi),
            Fill::Random | Fill::Image => rng.random_range(0..10),
        }
    };
    let floats = |rng: &mut ChaCha8Rng| -> f64 {
        match spec.fill {
            Fill::Const(v) => v,
            Fill::Range(lo, hi) => rng.random_range(lo..hi) as f64,
            Fill::Random | Fill::Image => rng.random_range(-1.0..1.0),
        }
    };
    if spec.fill == Fill::Image {
        let v = image(&spec.shape, &mut rng);
        let data = match spec.dtype {
            DataType::Float => Data::F32(v),
            DataType::Double => Data::F64(v.iter().map(|x| *x as f64).collect()),
            _ => Data::F16(v.iter().map(|x| half::f16::from_f32(*x)).collect()),
        };
        return Ok(HostTensor {
            shape: spec.shape.clone(),
            data,
        });
    }
    let data = match spec.dtype {
        DataType::Float => Data::F32((0..n).map(|_| floats(&mut rng) as f32).collect()),
        DataType::Double => Data::F64((0..n).map(|_| floats(&mut rng)).collect()),
        DataType::Float16 => Data::F16(
            (0..n)
                .map(|_| half::f16::from_f64(floats(&mut rng)))
                .collect(),
        ),
        DataType::Int64 => Data::I64((0..n).map(|_| ints(&mut rng)).collect()),
        DataType::Int32 => Data::I32((0..n).map(|_| ints(&mut rng) as i32).collect()),
        DataType::Int16 => Data::I16((0..n).map(|_| ints(&mut rng) as i16).collect()),
        DataType::Int8 => Data::I8((0..n).map(|_| ints(&mut rng) as i8).collect()),
        DataType::Uint8 => Data::U8((0..n).map(|_| ints(&mut rng) as u8).collect()),
        DataType::Bool => Data::Bool(
            (0..n)
                .map(|_| match spec.fill {
                    Fill::Const(v) => v != 0.0,
                    _ => rng.random_bool(0.5),
                })
                .collect(),
        ),
        other => {
            return Err(FeedError(format!(
                "input `{}`: cannot generate {other} data",
                spec.name
            )));
        }
    };
    Ok(HostTensor {
        shape: spec.shape.clone(),
        data,
    })
}

/// Image-like `[N, C, H, W]` data (see [`Fill::Image`]).
fn image(shape: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let mut out = vec![0f32; n * c * h * w];
    for img in 0..n {
        // Shared geometry across channels (like a real scene), per-channel colours.
        let waves: Vec<(f32, f32, f32)> = (0..4)
            .map(|_| {
                (
                    rng.random_range(0.0..3.0f32),
                    rng.random_range(0.0..3.0f32),
                    rng.random_range(0.0..std::f32::consts::TAU),
                )
            })
            .collect();
        let rects: Vec<[usize; 4]> = (0..6)
            .map(|_| {
                let (y0, x0) = (rng.random_range(0..h.max(1)), rng.random_range(0..w.max(1)));
                let (y1, x1) = (
                    (y0 + rng.random_range(1..=h.max(2) / 2)).min(h),
                    (x0 + rng.random_range(1..=w.max(2) / 2)).min(w),
                );
                [y0, x0, y1, x1]
            })
            .collect();
        for ch in 0..c {
            let amp: Vec<f32> = (0..4).map(|_| rng.random_range(-0.4..0.4f32)).collect();
            let fill: Vec<f32> = (0..6).map(|_| rng.random_range(-1.0..1.0f32)).collect();
            let base = (img * c + ch) * h * w;
            for y in 0..h {
                for x in 0..w {
                    let (fy, fx) = (y as f32 / h as f32, x as f32 / w as f32);
                    let mut v: f32 = waves
                        .iter()
                        .zip(&amp)
                        .map(|((ky, kx, ph), a)| {
                            a * (std::f32::consts::TAU * (ky * fy + kx * fx) + ph).cos()
                        })
                        .sum();
                    for (r, f) in rects.iter().zip(&fill) {
                        if (r[0]..r[2]).contains(&y) && (r[1]..r[3]).contains(&x) {
                            v = 0.5 * v + 0.5 * f;
                        }
                    }
                    out[base + y * w + x] = v.clamp(-1.0, 1.0);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_with_fills_and_colons_in_names() {
        let s = FeedSpec::parse("onnx::Flatten_0=float32[1,25,96]").unwrap();
        assert_eq!(s.name, "onnx::Flatten_0");
        assert_eq!(s.shape, vec![1, 25, 96]);
        assert_eq!(
            FeedSpec::parse("sr=int64[]:16000").unwrap().fill,
            Fill::Const(16000.0)
        );
        assert_eq!(
            FeedSpec::parse("b=int32[1,4]:0..257").unwrap().fill,
            Fill::Range(0, 257)
        );
        for bad in [
            "x",
            "x=float32",
            "x=nope[1]",
            "x=float32[a]",
            "x=float32[1]:5..2",
            "=float32[1]",
            "x=float32[1]junk",
        ] {
            assert!(FeedSpec::parse(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(s.to_string(), "onnx::Flatten_0=float32[1,25,96]");
    }

    #[test]
    fn feeds_are_seeded_and_respect_fills() {
        let s = FeedSpec::parse("ids=int64[2,8]:0..5").unwrap();
        let a = make_feed(&s, 7).unwrap();
        assert_eq!(a, make_feed(&s, 7).unwrap());
        assert_ne!(a, make_feed(&s, 8).unwrap());
        assert!(a.to_f64().iter().all(|v| (0.0..5.0).contains(v)));
        let c = make_feed(&FeedSpec::parse("sr=int64[]:16000").unwrap(), 1).unwrap();
        assert_eq!(c.data, Data::I64(vec![16000]));
    }
}
