//! The integer evaluator behind **fold-shape-chains**: once shapes are static (the oracle's facts), `Shape` is a
//! constant, and so is every small integer computation on it — `Gather`, `Slice`, `Concat`, `Unsqueeze`,
//! `Squeeze`, `Cast`, `Add`/`Sub`/`Mul`/`Div`, `Range`, `Equal`/`Where` are evaluated here (on int64/int32 tensors of
//! at most [`MAX_ELEMENTS`] elements) and replaced by initializers; nodes left without readers are dropped. What
//! onnx-simplifier does with onnxruntime, done in Rust on the few integer ops that shape code uses.

use crate::{Edit, Facts, Patch};
use edgebench_graph::{DataType, Model, Node, Tensor};
use std::collections::{HashMap, HashSet};

/// Largest integer tensor evaluated.
pub const MAX_ELEMENTS: usize = 4096;

/// An integer constant: dims and values.
#[derive(Clone, Debug, PartialEq)]
struct C {
    dims: Vec<i64>,
    v: Vec<i64>,
    dtype: DataType,
}

fn read_int(t: &Tensor) -> Option<C> {
    let dtype = t.dtype();
    let b = t.data_bytes().ok()?;
    let n = t.numel() as usize;
    if n > MAX_ELEMENTS {
        return None;
    }
    let v: Vec<i64> = match dtype {
        DataType::Int64 if b.len() == 8 * n => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        DataType::Int32 if b.len() == 4 * n => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64)
            .collect(),
        _ => return None,
    };
    Some(C {
        dims: t.dims().to_vec(),
        v,
        dtype,
    })
}

fn to_tensor(name: &str, c: &C) -> Tensor {
    let raw: Vec<u8> = match c.dtype {
        DataType::Int32 => c.v.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect(),
        DataType::Bool => c.v.iter().map(|x| (*x != 0) as u8).collect(),
        _ => c.v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    };
    Tensor::from_raw(name, c.dtype, &c.dims, raw)
}

fn ints_attr(n: &Node, name: &str) -> Option<Vec<i64>> {
    n.attr_ints(name).map(|v| v.to_vec())
}

fn norm(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    (0..rank as i64).contains(&a).then_some(a as usize)
}

/// Broadcasts two constants of rank <= 1 (scalar with vector, or equal lengths).
fn zip(a: &C, b: &C, f: impl Fn(i64, i64) -> Option<i64>) -> Option<C> {
    let (la, lb) = (a.v.len(), b.v.len());
    let n = la.max(lb);
    if !(la == lb || la == 1 || lb == 1) || a.dims.len() > 1 || b.dims.len() > 1 {
        return None;
    }
    let v = (0..n)
        .map(|i| {
            f(
                a.v[if la == 1 { 0 } else { i }],
                b.v[if lb == 1 { 0 } else { i }],
            )
        })
        .collect::<Option<Vec<_>>>()?;
    let dims = if a.dims.len() >= b.dims.len() {
        a.dims.clone()
    } else {
        b.dims.clone()
    };
    Some(C {
        dims: if dims.is_empty() {
            vec![]
        } else {
            vec![n as i64]
        },
        v,
        dtype: a.dtype,
    })
}

/// Evaluates node `n` when all its inputs are known constants; `shape_of` gives static shapes for `Shape`.
fn eval(
    n: &Node,
    k: &HashMap<String, C>,
    shape_of: &dyn Fn(&str) -> Option<Vec<u64>>,
    opset: i64,
) -> Option<C> {
    let arg = |i: usize| {
        n.inputs
            .get(i)
            .filter(|s| !s.is_empty())
            .and_then(|s| k.get(s))
    };
    let int = |v: Vec<i64>, dims: Vec<i64>| C {
        dims,
        v,
        dtype: DataType::Int64,
    };
    match n.op_type.as_str() {
        "Shape" => {
            let s = shape_of(n.inputs.first()?)?;
            let r = s.len() as i64;
            let clamp = |x: i64| if x < 0 { (x + r).max(0) } else { x.min(r) };
            let start = clamp(n.attr_int("start").unwrap_or(0));
            let end = clamp(n.attr_int("end").unwrap_or(r));
            let v: Vec<i64> = s[start as usize..end.max(start) as usize]
                .iter()
                .map(|d| *d as i64)
                .collect();
            let len = v.len() as i64;
            Some(int(v, vec![len]))
        }
        "Size" => {
            let s = shape_of(n.inputs.first()?)?;
            Some(int(
                vec![i64::try_from(s.iter().try_fold(1u64, |a, x| a.checked_mul(*x))?).ok()?],
                vec![],
            ))
        }
        "Gather" => {
            let (d, idx) = (arg(0)?, arg(1)?);
            if d.dims.len() != 1 || norm(n.attr_int("axis").unwrap_or(0), 1) != Some(0) {
                return None;
            }
            let len = d.v.len() as i64;
            let v = idx
                .v
                .iter()
                .map(|i| {
                    let j = if *i < 0 { i + len } else { *i };
                    d.v.get(usize::try_from(j).ok()?).copied()
                })
                .collect::<Option<Vec<_>>>()?;
            Some(C {
                dims: idx.dims.clone(),
                v,
                dtype: d.dtype,
            })
        }
        "Slice" if opset >= 10 => {
            let d = arg(0)?;
            if d.dims.len() != 1 {
                return None;
            }
            let (starts, ends) = (arg(1)?, arg(2)?);
            let steps = arg(4).map(|s| s.v.clone()).unwrap_or(vec![1]);
            if starts.v.len() != 1 || ends.v.len() != 1 || steps.len() != 1 || steps[0] == 0 {
                return None;
            }
            if let Some(axes) = arg(3) {
                if axes.v.len() != 1 || norm(axes.v[0], 1) != Some(0) {
                    return None;
                }
            }
            let len = d.v.len() as i64;
            let step = steps[0];
            let fix = |x: i64, lo: i64, hi: i64| {
                let x = if x < 0 { x + len } else { x };
                x.clamp(lo, hi)
            };
            let mut v = vec![];
            if step > 0 {
                let (mut i, e) = (fix(starts.v[0], 0, len), fix(ends.v[0], 0, len));
                while i < e {
                    v.push(d.v[i as usize]);
                    i += step;
                }
            } else {
                let (mut i, e) = (fix(starts.v[0], -1, len - 1), fix(ends.v[0], -1, len - 1));
                while i > e {
                    v.push(d.v[i as usize]);
                    i += step;
                }
            }
            let l = v.len() as i64;
            Some(C {
                dims: vec![l],
                v,
                dtype: d.dtype,
            })
        }
        "Concat" => {
            let parts: Vec<&C> = n.inputs.iter().map(|s| k.get(s)).collect::<Option<_>>()?;
            if parts.iter().any(|p| p.dims.len() != 1) || norm(n.attr_int("axis")?, 1) != Some(0) {
                return None;
            }
            let v: Vec<i64> = parts.iter().flat_map(|p| p.v.iter().copied()).collect();
            let l = v.len() as i64;
            Some(C {
                dims: vec![l],
                v,
                dtype: parts[0].dtype,
            })
        }
        "Unsqueeze" | "Squeeze" => {
            let d = arg(0)?;
            let axes = if opset >= 13 {
                arg(1).map(|a| a.v.clone())
            } else {
                ints_attr(n, "axes")
            };
            let mut dims = d.dims.clone();
            if n.op_type == "Unsqueeze" {
                let axes = axes?;
                let r = dims.len() + axes.len();
                let mut ax: Vec<usize> = axes.iter().map(|a| norm(*a, r)).collect::<Option<_>>()?;
                ax.sort();
                // A repeated axis is invalid ONNX; unique sorted axes below the new rank insert in range.
                if ax.windows(2).any(|w| w[0] == w[1]) {
                    return None;
                }
                for a in ax {
                    dims.insert(a, 1);
                }
            } else {
                match axes {
                    Some(axes) => {
                        let r = dims.len();
                        let mut ax: Vec<usize> =
                            axes.iter().map(|a| norm(*a, r)).collect::<Option<_>>()?;
                        ax.sort();
                        if ax.windows(2).any(|w| w[0] == w[1]) {
                            return None;
                        }
                        for a in ax.into_iter().rev() {
                            if dims[a] != 1 {
                                return None;
                            }
                            dims.remove(a);
                        }
                    }
                    None => dims.retain(|d| *d != 1),
                }
            }
            Some(C {
                dims,
                v: d.v.clone(),
                dtype: d.dtype,
            })
        }
        "Cast" => {
            let d = arg(0)?;
            let to = DataType::from_code(n.attr_int("to")? as i32);
            matches!(to, DataType::Int64 | DataType::Int32).then(|| C {
                dtype: to,
                ..d.clone()
            })
        }
        "Add" => zip(arg(0)?, arg(1)?, |a, b| a.checked_add(b)),
        "Sub" => zip(arg(0)?, arg(1)?, |a, b| a.checked_sub(b)),
        "Mul" => zip(arg(0)?, arg(1)?, |a, b| a.checked_mul(b)),
        // Integer Div truncates toward zero (onnxruntime, C++), as Rust's does.
        "Div" => zip(arg(0)?, arg(1)?, |a, b| a.checked_div(b)),
        "Identity" => arg(0).cloned(),
        "Range" => {
            let (s, l, d) = (arg(0)?, arg(1)?, arg(2)?);
            let (s, l, d) = (*s.v.first()?, *l.v.first()?, *d.v.first()?);
            if d == 0 {
                return None;
            }
            let count = ((l.checked_sub(s)? as f64) / d as f64).ceil().max(0.0) as usize;
            if count > MAX_ELEMENTS {
                return None;
            }
            let v: Vec<i64> = (0..count as i64)
                .map(|i| i.checked_mul(d).and_then(|x| x.checked_add(s)))
                .collect::<Option<_>>()?;
            Some(int(v, vec![count as i64]))
        }
        _ => None,
    }
}

/// The product of dims, `None` on overflow (declared dims can be anything).
fn product(dims: &[i64]) -> Option<i64> {
    dims.iter().try_fold(1i64, |a, d| a.checked_mul(*d))
}

/// `Reshape`/`Unsqueeze`/`Squeeze`/`Flatten` of an initializer with constant target: the initializer re-dimensioned.
fn reshaped_constant(
    n: &Node,
    tensors: &HashMap<String, Tensor>,
    k: &HashMap<String, C>,
    opset: i64,
) -> Option<Tensor> {
    let t = tensors.get(n.inputs.first()?)?;
    if t.external.is_some() {
        return None;
    }
    let dims = t.dims().to_vec();
    let numel = product(&dims)?;
    let new: Vec<i64> = match n.op_type.as_str() {
        "Reshape" => {
            let shape = &k.get(n.inputs.get(1)?)?.v;
            let mut out: Vec<i64> = shape
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if *d == 0 && n.attr_int("allowzero") != Some(1) {
                        dims.get(i).copied().unwrap_or(0)
                    } else {
                        *d
                    }
                })
                .collect();
            if let Some(p) = out.iter().position(|d| *d == -1) {
                let rest: Vec<i64> = out.iter().copied().filter(|d| *d != -1).collect();
                let rest = product(&rest)?;
                if rest == 0 || numel % rest != 0 {
                    return None;
                }
                out[p] = numel / rest;
            }
            out
        }
        "Flatten" => {
            let r = dims.len() as i64;
            let a = n.attr_int("axis").unwrap_or(1);
            let a = if a < 0 { a + r } else { a };
            if !(0..=r).contains(&a) {
                return None;
            }
            let (x, y) = dims.split_at(a as usize);
            vec![product(x)?, product(y)?]
        }
        "Unsqueeze" | "Squeeze" => {
            let c = C {
                dims: dims.clone(),
                v: vec![0; numel.max(0) as usize],
                dtype: DataType::Int64,
            };
            let mut m = HashMap::new();
            m.insert(n.inputs[0].clone(), c);
            if let Some(a) = n.inputs.get(1).and_then(|a| k.get(a)) {
                m.insert(n.inputs[1].clone(), a.clone());
            }
            if numel > MAX_ELEMENTS as i64 * 1024 {
                return None;
            }
            eval(n, &m, &|_| None, opset)?.dims
        }
        _ => return None,
    };
    if product(&new)? != numel || new.iter().any(|d| *d < 0) {
        return None;
    }
    let mut out = t.clone();
    out.proto.name = Some(n.outputs[0].clone());
    out.proto.dims = new;
    Some(out)
}

/// Folds every foldable node of the main graph; returns the patch (empty when nothing folds).
pub fn fold(model: &Model, facts: Option<&Facts>) -> Patch {
    let g = &model.graph;
    let opset = model.opset("").unwrap_or(1);
    let mut known: HashMap<String, C> = g
        .initializers
        .iter()
        .filter_map(|t| Some((t.name().to_string(), read_int(t)?)))
        .collect();
    let declared: HashMap<&str, Vec<u64>> = g
        .inputs
        .iter()
        .chain(&g.value_info)
        .chain(&g.outputs)
        .filter_map(|v| {
            let (_, dims) = v.ty.as_ref()?.as_tensor()?;
            Some((
                v.name.as_str(),
                dims?
                    .iter()
                    .map(|d| d.value())
                    .collect::<Option<Vec<u64>>>()?,
            ))
        })
        .collect();
    let shape_of = |v: &str| -> Option<Vec<u64>> {
        declared
            .get(v)
            .cloned()
            .or_else(|| facts.and_then(|f| f.get(v)).map(|(_, s)| s.clone()))
    };
    let outputs: HashSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
    let mut patch = Patch::default();
    let mut folded: HashSet<usize> = HashSet::new();
    let mut tensors: HashMap<String, Tensor> = g
        .initializers
        .iter()
        .map(|t| (t.name().to_string(), t.clone()))
        .collect();
    for (i, n) in g.nodes.iter().enumerate() {
        if !n.domain.is_empty() || n.outputs.len() != 1 || outputs.contains(n.outputs[0].as_str()) {
            continue;
        }
        // A reshape of a constant of any type is the same bytes with other dims (bias reshaped to [1, C, 1, 1]).
        if let Some(t) = reshaped_constant(n, &tensors, &known, opset) {
            patch.edits.push(Edit::AddInitializer(t.clone()));
            if let Some(c) = read_int(&t) {
                known.insert(n.outputs[0].clone(), c);
            }
            tensors.insert(n.outputs[0].clone(), t);
            folded.insert(i);
            continue;
        }
        if let Some(c) = eval(n, &known, &shape_of, opset) {
            if c.v.len() > MAX_ELEMENTS {
                continue;
            }
            patch
                .edits
                .push(Edit::AddInitializer(to_tensor(&n.outputs[0], &c)));
            known.insert(n.outputs[0].clone(), c);
            folded.insert(i);
        }
    }
    if folded.is_empty() {
        return patch;
    }
    // Folded nodes go; so do nodes that only fed folded ones (a Shape's input producer stays: it has other readers).
    let mut removed = folded.clone();
    loop {
        let live_reads: HashSet<&str> = g
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !removed.contains(i))
            .flat_map(|(_, n)| n.inputs.iter().map(|s| s.as_str()))
            .chain(outputs.iter().copied())
            .collect();
        let dead: Vec<usize> = g
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                !removed.contains(i)
                    && n.subgraphs().next().is_none()
                    && matches!(n.op_type.as_str(), "Shape" | "Size" | "Constant")
                    && n.outputs
                        .iter()
                        .all(|o| o.is_empty() || !live_reads.contains(o.as_str()))
            })
            .map(|(i, _)| i)
            .collect();
        if dead.is_empty() {
            break;
        }
        removed.extend(dead);
    }
    let mut idx: Vec<usize> = removed.into_iter().collect();
    idx.sort();
    for i in idx {
        patch.nodes.push(g.nodes[i].name.clone());
        patch.edits.push(Edit::Replace {
            index: i,
            with: vec![],
        });
    }
    patch
}
