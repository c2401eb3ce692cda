//! Constant folding: what can be computed once from constants (shape chains, ConstantOfShape, BatchNorm into Conv,
//! dequantized or cast weights, products of constants) becomes an initializer; and `simplify`, the folding
//! rules to a fixpoint without verification.

use crate::Facts;
use crate::build::*;
use crate::consteval::fold;
use crate::{Blocked, Ctx, Edit, Patch, Rule};
use edgebench_graph::{AttrValue, DataType, Model, Tensor};

/// Elements a folded constant may have (a larger one stays a node: folding must not blow up the file).
const MAX_FOLD_ELEMENTS: u64 = 1 << 26;

/// **constant-to-initializer**: a `Constant` node becomes an initializer of the same name (wonnx cannot find the
/// outputs of Constant nodes; onnx-simplifier does the same).
pub struct ConstantToInitializer;

impl Rule for ConstantToInitializer {
    fn name(&self) -> &'static str {
        "constant-to-initializer"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Constant"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &model.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(model, out) {
            return None;
        }
        let a = n.attributes.first()?;
        let t = match (&a.name[..], &a.value) {
            ("value", AttrValue::Tensor(t)) => {
                let mut t = (**t).clone();
                t.proto.name = Some(out.clone());
                t
            }
            ("value_float", AttrValue::Float(v)) => Tensor::from_f32(out, &[], &[*v]),
            ("value_floats", AttrValue::Floats(v)) => Tensor::from_f32(out, &[v.len() as i64], v),
            ("value_int", AttrValue::Int(v)) => Tensor::from_i64(out, &[], &[*v]),
            ("value_ints", AttrValue::Ints(v)) => Tensor::from_i64(out, &[v.len() as i64], v),
            _ => return None,
        };
        // External data of a Constant's tensor would be resolved against another folder once written: leave it.
        if t.external.is_some() {
            return None;
        }
        Some(Patch::to_constant(n, index, t))
    }
}

/// **fold-constant-of-shape**: `ConstantOfShape` of a constant shape becomes an initializer filled with its value
/// (the light architectures build every weight this way).
pub struct FoldConstantOfShape;

impl Rule for FoldConstantOfShape {
    fn name(&self) -> &'static str {
        "fold-constant-of-shape"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["ConstantOfShape"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &model.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(model, out) {
            return None;
        }
        let dims = int64_values(model, n.inputs.first()?)?;
        if dims.iter().any(|d| *d < 0) {
            return None;
        }
        let count = dims
            .iter()
            .try_fold(1u64, |a, d| a.checked_mul(*d as u64))
            .filter(|c| *c <= MAX_FOLD_ELEMENTS)?;
        let (dtype, one) = match n.attr("value") {
            None => (DataType::Float, 0f32.to_le_bytes().to_vec()),
            Some(AttrValue::Tensor(t)) => (t.dtype(), t.data_bytes().ok()?.to_vec()),
            Some(_) => return None,
        };
        if one.is_empty() || one.len() != dtype.bytes_for(1) as usize {
            return None;
        }
        let raw: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * count as usize)
            .collect();
        Some(Patch::to_constant(
            n,
            index,
            Tensor::from_raw(out, dtype, &dims, raw),
        ))
    }
}

/// **fold-unsqueeze**: `Unsqueeze` of an initializer becomes an initializer with the new dims (axes from the
/// attribute before opset 13, from a constant input after).
pub struct FoldUnsqueeze;

impl Rule for FoldUnsqueeze {
    fn name(&self) -> &'static str {
        "fold-unsqueeze"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Unsqueeze"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &model.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(model, out) {
            return None;
        }
        let t = model.graph.initializer(n.inputs.first()?)?;
        if t.external.is_some() {
            return None;
        }
        let axes: Vec<i64> = match n.attr_ints("axes") {
            Some(a) => a.to_vec(),
            None => int64_values(model, n.inputs.get(1)?)?,
        };
        let rank = (t.dims().len() + axes.len()) as i64;
        let mut axes: Vec<i64> = axes
            .iter()
            .map(|a| if *a < 0 { a + rank } else { *a })
            .collect();
        axes.sort();
        axes.dedup();
        if axes.iter().any(|a| !(0..rank).contains(a))
            || axes.len() + t.dims().len() != rank as usize
        {
            return None;
        }
        let mut src = t.dims().iter();
        let dims: Vec<i64> = (0..rank)
            .map(|i| {
                if axes.contains(&i) {
                    1
                } else {
                    *src.next().unwrap_or(&1)
                }
            })
            .collect();
        let raw = t.data_bytes().ok()?.to_vec();
        Some(Patch::to_constant(
            n,
            index,
            Tensor::from_raw(out, t.dtype(), &dims, raw),
        ))
    }
}

/// **fold-batchnorm**: an inference BatchNormalization right after a Conv whose output nothing else reads is folded
/// into the Conv's weights and bias (W' = W·s, b' = (b − mean)·s + B with s = scale/√(var + ε)), as every
/// inference optimiser does (onnxruntime, tract, onnx-simplifier). Also what int8 variants need: a Conv's output
/// feeds its quantizer directly.
pub struct FoldBatchNorm;

impl Rule for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "fold-batchnorm"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["BatchNormalization"]
    }
    fn touches(&self) -> &'static [&'static str] {
        &["BatchNormalization", "Conv"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let g = &model.graph;
        let bn = &g.nodes[index];
        if bn.outputs.iter().skip(1).any(|o| !o.is_empty()) || bn.inputs.len() != 5 {
            return None;
        }
        let y = bn.inputs.first()?;
        let ci = g.nodes.iter().position(|n| n.outputs.first() == Some(y))?;
        let conv = &g.nodes[ci];
        let readers = g.nodes.iter().filter(|n| n.inputs.contains(y)).count();
        if conv.op_type != "Conv" || !conv.domain.is_empty() || readers != 1 || is_output(model, y)
        {
            return None;
        }
        let w_t = float_initializer(model, conv.inputs.get(1)?)?;
        let w = w_t.as_f32()?;
        let p: Vec<Vec<f32>> = bn.inputs[1..]
            .iter()
            .map(|v| float_initializer(model, v)?.as_f32())
            .collect::<Option<_>>()?;
        let (scale, shift, mean, var) = (&p[0], &p[1], &p[2], &p[3]);
        let c = *w_t.dims().first()? as usize;
        if [scale, shift, mean, var].iter().any(|v| v.len() != c) || c == 0 || w.len() % c != 0 {
            return None;
        }
        let eps = match bn.attr("epsilon") {
            Some(AttrValue::Float(e)) => *e,
            _ => 1e-5,
        };
        let s: Vec<f32> = (0..c).map(|o| scale[o] / (var[o] + eps).sqrt()).collect();
        let inner = w.len() / c;
        let w2: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(i, x)| x * s[i / inner])
            .collect();
        let b = match conv.inputs.get(2).filter(|b| !b.is_empty()) {
            Some(b) => float_initializer(model, b)?.as_f32()?,
            None => vec![0.0; c],
        };
        if b.len() != c {
            return None;
        }
        let b2: Vec<f32> = (0..c).map(|o| (b[o] - mean[o]) * s[o] + shift[o]).collect();
        let base = if conv.name.is_empty() {
            "conv".to_string()
        } else {
            conv.name.clone()
        };
        let (wn, bn_name) = (format!("{base}__folded_w"), format!("{base}__folded_b"));
        let mut conv2 = conv.clone();
        conv2.inputs = vec![conv.inputs[0].clone(), wn.clone(), bn_name.clone()];
        conv2.outputs = vec![bn.outputs[0].clone()];
        Some(Patch {
            nodes: vec![conv.name.clone(), bn.name.clone()],
            edits: vec![
                Edit::AddInitializer(Tensor::from_f32(&wn, w_t.dims(), &w2)),
                Edit::AddInitializer(Tensor::from_f32(&bn_name, &[c as i64], &b2)),
                Edit::Replace {
                    index: ci,
                    with: vec![conv2],
                },
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        })
    }
}

/// **dequantize-weights**: `DequantizeLinear` of a constant int8/uint8/int32 tensor (per tensor or per axis) becomes
/// the float32 initializer it computes, for backends without integer kernels.
pub struct DequantizeWeights;

impl Rule for DequantizeWeights {
    fn name(&self) -> &'static str {
        "dequantize-weights"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["DequantizeLinear"]
    }
    fn node(&self, m: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(m, out) {
            return None;
        }
        let q = m.graph.initializer(n.inputs.first()?)?;
        let values = ints_as_f32(q)?;
        let scale = f32_init(m, n.inputs.get(1)?)?;
        let zp: Vec<f32> = match n.inputs.get(2).filter(|s| !s.is_empty()) {
            None => vec![0.0; scale.len()],
            Some(z) => ints_as_f32(m.graph.initializers.iter().find(|t| t.name() == z)?)?,
        };
        let dims = q.dims().to_vec();
        let (channel, channels): (Box<dyn Fn(usize) -> usize>, usize) = if scale.len() == 1 {
            (Box::new(|_| 0), 1)
        } else {
            let r = dims.len() as i64;
            let a = n.attr_int("axis").unwrap_or(1);
            let a = usize::try_from(if a < 0 { a + r } else { a }).ok()?;
            let inner = usize::try_from(
                dims.get(a + 1..)?
                    .iter()
                    .try_fold(1i64, |p, d| p.checked_mul(*d))?,
            )
            .ok()?;
            let c = *dims.get(a)? as usize;
            (Box::new(move |i| (i / inner.max(1)) % c), c)
        };
        if scale.len() != channels || zp.len() != channels {
            return None;
        }
        let f: Vec<f32> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v - zp[channel(i)]) * scale[channel(i)])
            .collect();
        Some(Patch::to_constant(
            n,
            index,
            Tensor::from_f32(out, &dims, &f),
        ))
    }
}

/// **fold-cast-weights**: `Cast` of a constant integer tensor to float (int8 weights stored with a Cast + Mul
/// dequantization, as minilm_l6_v2_int8w does) becomes a float32 initializer; the Mul by a constant scale then folds
/// with `fold-mul-constants`.
pub struct FoldCastWeights;

impl Rule for FoldCastWeights {
    fn name(&self) -> &'static str {
        "fold-cast-weights"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Cast"]
    }
    fn node(&self, m: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(m, out) || n.attr_int("to")? != DataType::Float.code() as i64 {
            return None;
        }
        let q = m.graph.initializer(n.inputs.first()?)?;
        if q.dtype() == DataType::Int32 {
            return None; // int32 constants are indices or sizes more often than weights
        }
        let v = ints_as_f32(q)?;
        Some(Patch::to_constant(
            n,
            index,
            Tensor::from_f32(out, q.dims(), &v),
        ))
    }
}

/// **fold-mul-constants**: `Mul` of two float constants (a scale times dequantized weights) becomes their product.
pub struct FoldMulConstants;

impl Rule for FoldMulConstants {
    fn name(&self) -> &'static str {
        "fold-mul-constants"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Mul"]
    }
    fn node(&self, m: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let out = n.outputs.first()?;
        if is_output(m, out) || n.inputs.len() != 2 {
            return None;
        }
        let t = |v: &str| {
            m.graph
                .initializers
                .iter()
                .find(|t| t.name() == v && t.dtype() == DataType::Float)
        };
        let (a, b) = (t(&n.inputs[0])?, t(&n.inputs[1])?);
        let (av, bv) = (a.as_f32()?, b.as_f32()?);
        // One side a scalar or both the same shape (per-tensor or elementwise scale).
        let (big, dims, small) = if bv.len() == 1 {
            (av, a.dims().to_vec(), bv)
        } else if av.len() == 1 {
            (bv, b.dims().to_vec(), av)
        } else if a.dims() == b.dims() {
            let p: Vec<f32> = av.iter().zip(&bv).map(|(x, y)| x * y).collect();
            return Some(Patch::to_constant(
                n,
                index,
                Tensor::from_f32(out, a.dims(), &p),
            ));
        } else {
            return None;
        };
        let p: Vec<f32> = big.iter().map(|x| x * small[0]).collect();
        Some(Patch::to_constant(
            n,
            index,
            Tensor::from_f32(out, &dims, &p),
        ))
    }
}

/// **fold-gather-matmul**: `MatMul(Reshape*(Gather(E, idx)), W)` with constant `E [C, K]` and `W [K, N]` is
/// `Reshape(Gather(E·W, idx))`: rows picked from a table then multiplied by a constant are rows of the product
/// (an embedding or one-hot lookup followed by a dense layer; `E·W` is computed here once).
pub struct FoldGatherMatMul;

impl Rule for FoldGatherMatMul {
    fn name(&self) -> &'static str {
        "fold-gather-matmul"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["MatMul"]
    }
    fn touches(&self) -> &'static [&'static str] {
        &["MatMul", "Gather", "Reshape"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Gather") || !ctx.supports("Reshape") {
            return None;
        }
        let n = &m.graph.nodes[index];
        let producer = |v: &str| {
            m.graph
                .nodes
                .iter()
                .position(|x| x.outputs.first().map(|o| o.as_str()) == Some(v))
        };
        let wt = m
            .graph
            .initializers
            .iter()
            .find(|t| Some(t.name()) == n.inputs.get(1).map(|s| s.as_str()))?;
        let w = wt.as_f32()?;
        // Walk back through Reshapes that keep the last dimension to the Gather.
        let mut v = n.inputs.first()?.clone();
        let mut through = vec![];
        let gi = loop {
            let p = producer(&v)?;
            let pn = &m.graph.nodes[p];
            match pn.op_type.as_str() {
                "Reshape" => {
                    through.push(p);
                    v = pn.inputs.first()?.clone();
                }
                "Gather" if pn.attr_int("axis").unwrap_or(0) == 0 => break p,
                _ => return None,
            }
        };
        let g = &m.graph.nodes[gi];
        let et = m
            .graph
            .initializers
            .iter()
            .find(|t| Some(t.name()) == g.inputs.first().map(|s| s.as_str()))?;
        let e = et.as_f32()?;
        let (ed, wd) = (et.dims(), wt.dims());
        if ed.len() != 2 || wd.len() != 2 || ed[1] != wd[0] {
            return None;
        }
        // Every value on the way is read only by the next node (they all go away).
        for x in through.iter().chain([&gi]) {
            let o = &m.graph.nodes[*x].outputs[0];
            if is_output(m, o)
                || m.graph
                    .nodes
                    .iter()
                    .filter(|y| y.inputs.contains(o))
                    .count()
                    != 1
            {
                return None;
            }
        }
        let (c, k, nn) = (ed[0] as usize, ed[1] as usize, wd[1] as usize);
        if c * nn > 1 << 24 {
            return None;
        }
        let mut p = vec![0f32; c * nn];
        for r in 0..c {
            for j in 0..k {
                let a = e[r * k + j];
                if a != 0.0 {
                    for col in 0..nn {
                        p[r * nn + col] += a * w[j * nn + col];
                    }
                }
            }
        }
        let (_, yshape) = fact(ctx, n.outputs.first()?)?;
        let b = &n.name;
        let (table, rows, shape) = (
            format!("{b}_table"),
            format!("{b}_rows"),
            format!("{b}_shape"),
        );
        let ydims: Vec<i64> = yshape.iter().map(|d| *d as i64).collect();
        let nodes = vec![
            mk(
                "Gather",
                format!("{b}_gather"),
                vec![table.clone(), g.inputs.get(1)?.clone()],
                vec![rows.clone()],
                vec![int("axis", 0)],
            ),
            mk(
                "Reshape",
                b.clone(),
                vec![rows, shape.clone()],
                n.outputs.clone(),
                vec![],
            ),
        ];
        let mut edits = vec![
            Edit::AddInitializer(Tensor::from_f32(&table, &[c as i64, nn as i64], &p)),
            Edit::AddInitializer(Tensor::from_i64(&shape, &[ydims.len() as i64], &ydims)),
            Edit::Replace { index, with: nodes },
        ];
        let mut gone: Vec<usize> = through.clone();
        gone.push(gi);
        edits.extend(gone.iter().map(|i| Edit::Replace {
            index: *i,
            with: vec![],
        }));
        let mut names: Vec<String> = gone
            .iter()
            .map(|i| m.graph.nodes[*i].name.clone())
            .collect();
        names.push(n.name.clone());
        Some(Patch {
            nodes: names,
            edits,
        })
    }
}

const OPS: &[&str] = &[
    "Flatten",
    "Shape",
    "Size",
    "Gather",
    "Slice",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Cast",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Identity",
    "Range",
    "Reshape",
    "Expand",
    "ConstantOfShape",
];

/// The rule form of [`fold`]: applies when a blocked node is one it can fold (or reads one).
pub struct FoldShapeChains;

impl Rule for FoldShapeChains {
    fn name(&self) -> &'static str {
        "fold-shape-chains"
    }
    /// The ops it evaluates (nodes it leaves without readers are dropped too: [`crate::beyond_rules`] keeps those
    /// apart by following data).
    fn touches(&self) -> &'static [&'static str] {
        OPS
    }
    fn whole(&self, model: &Model, blocked: &Blocked, ctx: &Ctx) -> Option<Patch> {
        let relevant = blocked.nodes.iter().any(|i| {
            model
                .graph
                .nodes
                .get(*i)
                .is_some_and(|n| OPS.contains(&n.op_type.as_str()))
        });
        if !relevant {
            return None;
        }
        // Only `Shape` and `Size` read shapes: without them the oracle (a shape inference) is not asked.
        let reads_shapes = model
            .graph
            .nodes
            .iter()
            .any(|n| matches!(n.op_type.as_str(), "Shape" | "Size"));
        let p = fold(model, if reads_shapes { ctx.facts() } else { None });
        (!p.is_empty()).then_some(p)
    }
}

/// Constant nodes to initializers, ConstantOfShape and Unsqueeze of constants and shape chains folded, on every node,
/// until nothing changes: the static form split execution partitions (a value computed by shape code never crosses
/// backends).
pub fn simplify(model: &Model, facts: Option<&Facts>) -> Model {
    let mut m = model.clone();
    if crate::invalid(&m).is_some() {
        return m;
    }
    crate::name_nodes(&mut m);
    let Some(Ok(table)) = edgebench_compat::embedded("tract") else {
        return m;
    };
    let ctx = Ctx::new(&table, facts);
    for _ in 0..8 {
        let mut changed = false;
        let rules: [&dyn Rule; 3] = [&ConstantToInitializer, &FoldConstantOfShape, &FoldUnsqueeze];
        while let Some(p) = (0..m.graph.nodes.len()).find_map(|i| {
            let op = m.graph.nodes[i].op_type.as_str();
            rules
                .iter()
                .find(|r| r.ops().contains(&op))
                .and_then(|r| r.node(&m, i, &ctx))
        }) {
            p.apply(&mut m);
            changed = true;
        }
        let p = fold(&m, facts);
        if !p.is_empty() {
            p.apply(&mut m);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    m
}
