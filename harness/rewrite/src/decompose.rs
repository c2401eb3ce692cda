//! Decompositions and layout rules for narrow backends. Each emits only ops the target's table supports and needs
//! the oracle's facts where shapes matter.

use crate::{Ctx, Edit, Patch, Rule};
use edgebench_graph::{AttrValue, Attribute, DataType, Model, Node, Tensor};

fn mk(
    op: &str,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attrs: Vec<Attribute>,
) -> Node {
    Node {
        name,
        op_type: op.into(),
        inputs,
        outputs,
        attributes: attrs,
        ..Default::default()
    }
}

fn ints(name: &str, v: Vec<i64>) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Ints(v),
        doc_string: String::new(),
    }
}

fn int(name: &str, v: i64) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    }
}

fn float_attr(n: &Node, name: &str, default: f32) -> f32 {
    match n.attr(name) {
        Some(AttrValue::Float(f)) => *f,
        _ => default,
    }
}

fn is_output(m: &Model, v: &str) -> bool {
    m.graph.outputs.iter().any(|o| o.name == v)
}

fn fact<'a>(ctx: &'a Ctx, v: &str) -> Option<&'a (DataType, Vec<u64>)> {
    ctx.facts()?.get(v)
}

fn replace(n: &Node, index: usize, with: Vec<Node>, inits: Vec<Tensor>) -> Patch {
    let mut edits: Vec<Edit> = inits.into_iter().map(Edit::AddInitializer).collect();
    edits.push(Edit::Replace { index, with });
    Patch {
        nodes: vec![n.name.clone()],
        edits,
    }
}

/// A patch that replaces node `index` by a constant: its output becomes this initializer.
fn to_constant(n: &Node, index: usize, t: Tensor) -> Patch {
    Patch {
        nodes: vec![n.name.clone()],
        edits: vec![
            Edit::AddInitializer(t),
            Edit::Replace {
                index,
                with: vec![],
            },
        ],
    }
}

/// A patch that removes node `index`, its output `y` read as its input `x` from now on.
fn bypass(n: &Node, index: usize, y: &str, x: &str) -> Patch {
    Patch {
        nodes: vec![n.name.clone()],
        edits: vec![
            Edit::RenameUses {
                from: y.to_string(),
                to: x.to_string(),
            },
            Edit::Replace {
                index,
                with: vec![],
            },
        ],
    }
}

/// The values of a constant int8/uint8/int32 tensor as f32.
fn ints_as_f32(t: &Tensor) -> Option<Vec<f32>> {
    let b = t.data_bytes().ok()?;
    let v: Vec<f32> = match t.dtype() {
        DataType::Int8 => b.iter().map(|x| *x as i8 as f32).collect(),
        DataType::Uint8 => b.iter().map(|x| *x as f32).collect(),
        DataType::Int32 => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        _ => return None,
    };
    (v.len() as u64 == t.numel()).then_some(v)
}

/// `Clip(y, 0, 1)` in the model's opset form (inputs from 11, attributes before).
fn clip01(m: &Model, base: &str, y: String, out: String, inits: &mut Vec<Tensor>) -> Node {
    if m.opset("").unwrap_or(1) >= 11 {
        let (lo, hi) = (format!("{base}_zero"), format!("{base}_one"));
        inits.push(Tensor::from_f32(&lo, &[], &[0.0]));
        inits.push(Tensor::from_f32(&hi, &[], &[1.0]));
        mk(
            "Clip",
            format!("{base}_clip"),
            vec![y, lo, hi],
            vec![out],
            vec![],
        )
    } else {
        let f = |name: &str, v: f32| Attribute {
            name: name.into(),
            value: AttrValue::Float(v),
            doc_string: String::new(),
        };
        mk(
            "Clip",
            format!("{base}_clip"),
            vec![y],
            vec![out],
            vec![f("min", 0.0), f("max", 1.0)],
        )
    }
}

/// `HardSigmoid(x) = Clip(alpha * x + beta, 0, 1)` as Mul, Add, Clip; returns the nodes and initializers.
fn hard_sigmoid(
    m: &Model,
    base: &str,
    x: &str,
    alpha: f32,
    beta: f32,
    out: String,
) -> (Vec<Node>, Vec<Tensor>) {
    let (a, b) = (format!("{base}_alpha"), format!("{base}_beta"));
    let mut inits = vec![
        Tensor::from_f32(&a, &[], &[alpha]),
        Tensor::from_f32(&b, &[], &[beta]),
    ];
    let (ax, axb) = (format!("{base}_ax"), format!("{base}_axb"));
    let nodes = vec![
        mk(
            "Mul",
            format!("{base}_mul"),
            vec![x.to_string(), a],
            vec![ax.clone()],
            vec![],
        ),
        mk(
            "Add",
            format!("{base}_add"),
            vec![ax, b],
            vec![axb.clone()],
            vec![],
        ),
    ];
    let clip = clip01(m, base, axb, out, &mut inits);
    (nodes.into_iter().chain([clip]).collect(), inits)
}

/// **decompose-hardsigmoid**: `HardSigmoid(x) = Clip(alpha·x + beta, 0, 1)` (Mul, Add, Clip).
pub struct DecomposeHardSigmoid;

impl Rule for DecomposeHardSigmoid {
    fn name(&self) -> &'static str {
        "decompose-hardsigmoid"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["HardSigmoid"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !["Mul", "Add", "Clip"].iter().all(|o| ctx.supports(o)) {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (nodes, inits) = hard_sigmoid(
            m,
            &n.name,
            n.inputs.first()?,
            float_attr(n, "alpha", 0.2),
            float_attr(n, "beta", 0.5),
            n.outputs.first()?.clone(),
        );
        Some(replace(n, index, nodes, inits))
    }
}

/// **decompose-hardswish-clip**: `HardSwish(x) = x · Clip(x/6 + 1/2, 0, 1)` (Mul, Add, Clip, Mul), for targets
/// without HardSigmoid.
pub struct DecomposeHardSwishClip;

impl Rule for DecomposeHardSwishClip {
    fn name(&self) -> &'static str {
        "decompose-hardswish-clip"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["HardSwish"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if ctx.supports("HardSigmoid") || !["Mul", "Add", "Clip"].iter().all(|o| ctx.supports(o)) {
            return None;
        }
        let n = &m.graph.nodes[index];
        let x = n.inputs.first()?.clone();
        let gate = format!("{}_gate", n.name);
        let (mut nodes, inits) = hard_sigmoid(m, &n.name, &x, 1.0 / 6.0, 0.5, gate.clone());
        nodes.push(mk(
            "Mul",
            n.name.clone(),
            vec![x, gate],
            n.outputs.clone(),
            vec![],
        ));
        Some(replace(n, index, nodes, inits))
    }
}

/// **squeeze-unsqueeze-to-reshape**: with static shapes, `Squeeze`/`Unsqueeze` are `Reshape`s to a constant shape.
pub struct SqueezeToReshape;

impl Rule for SqueezeToReshape {
    fn name(&self) -> &'static str {
        "squeeze-unsqueeze-to-reshape"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Squeeze", "Unsqueeze"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Reshape") {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (_, out) = fact(ctx, n.outputs.first()?)?;
        let name = format!("{}_shape", n.name);
        let dims: Vec<i64> = out.iter().map(|d| *d as i64).collect();
        let r = mk(
            "Reshape",
            n.name.clone(),
            vec![n.inputs.first()?.clone(), name.clone()],
            n.outputs.clone(),
            vec![],
        );
        Some(replace(
            n,
            index,
            vec![r],
            vec![Tensor::from_i64(&name, &[dims.len() as i64], &dims)],
        ))
    }
}

/// **globalmaxpool-to-reducemax**: `GlobalMaxPool(x) = ReduceMax(x, axes = 2.., keepdims = 1)`.
pub struct GlobalMaxPoolToReduceMax;

impl Rule for GlobalMaxPoolToReduceMax {
    fn name(&self) -> &'static str {
        "globalmaxpool-to-reducemax"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["GlobalMaxPool"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("ReduceMax") {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (_, shape) = fact(ctx, n.inputs.first()?)?;
        let axes: Vec<i64> = (2..shape.len() as i64).collect();
        if m.opset("").unwrap_or(1) >= 18 {
            let name = format!("{}_axes", n.name);
            let r = mk(
                "ReduceMax",
                n.name.clone(),
                vec![n.inputs[0].clone(), name.clone()],
                n.outputs.clone(),
                vec![int("keepdims", 1)],
            );
            Some(replace(
                n,
                index,
                vec![r],
                vec![Tensor::from_i64(&name, &[axes.len() as i64], &axes)],
            ))
        } else {
            let r = mk(
                "ReduceMax",
                n.name.clone(),
                vec![n.inputs[0].clone()],
                n.outputs.clone(),
                vec![ints("axes", axes), int("keepdims", 1)],
            );
            Some(replace(n, index, vec![r], vec![]))
        }
    }
}

/// **slice-to-split**: a `Slice` of constant bounds along one axis with step 1 is one output of a `Split` of that axis.
pub struct SliceToSplit;

impl Rule for SliceToSplit {
    fn name(&self) -> &'static str {
        "slice-to-split"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Slice"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Split") || m.opset("").unwrap_or(1) < 10 {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (_, shape) = fact(ctx, n.inputs.first()?)?;
        let c = |i: usize| {
            n.inputs
                .get(i)
                .filter(|s| !s.is_empty())
                .and_then(|s| crate::rules::int64_values(m, s))
        };
        let (starts, ends) = (c(1)?, c(2)?);
        let axes = c(3).unwrap_or(vec![0]);
        if starts.len() != 1 || ends.len() != 1 || axes.len() != 1 || c(4).is_some_and(|s| s != [1])
        {
            return None;
        }
        let rank = shape.len() as i64;
        let axis = if axes[0] < 0 { axes[0] + rank } else { axes[0] };
        let dim = *shape.get(usize::try_from(axis).ok()?)? as i64;
        let fix = |x: i64| (if x < 0 { x + dim } else { x }).clamp(0, dim);
        let (s, e) = (fix(starts[0]), fix(ends[0]));
        if e <= s {
            return None;
        }
        let mut sizes = vec![];
        let mut outs = vec![];
        let mut k = 0;
        for (len, mine) in [(s, false), (e - s, true), (dim - e, false)] {
            if len > 0 {
                sizes.push(len);
                outs.push(if mine {
                    n.outputs[0].clone()
                } else {
                    format!("{}_rest{k}", n.name)
                });
                k += 1;
            }
        }
        let mut inits = vec![];
        let split = if m.opset("").unwrap_or(1) >= 13 {
            let name = format!("{}_split", n.name);
            inits.push(Tensor::from_i64(&name, &[sizes.len() as i64], &sizes));
            mk(
                "Split",
                n.name.clone(),
                vec![n.inputs[0].clone(), name],
                outs,
                vec![int("axis", axis)],
            )
        } else {
            mk(
                "Split",
                n.name.clone(),
                vec![n.inputs[0].clone()],
                outs,
                vec![int("axis", axis), ints("split", sizes)],
            )
        };
        Some(replace(n, index, vec![split], inits))
    }
}

/// **expand-to-add**: `Expand(x, shape)` to a static output shape is `x + zeros(shape)` (broadcasting Add).
pub struct ExpandToAdd;

impl Rule for ExpandToAdd {
    fn name(&self) -> &'static str {
        "expand-to-add"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Expand"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Add") {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (dt, out) = fact(ctx, n.outputs.first()?)?;
        let count: u64 = out.iter().product();
        if *dt != DataType::Float || count > 1 << 20 {
            return None;
        }
        let name = format!("{}_zeros", n.name);
        let dims: Vec<i64> = out.iter().map(|d| *d as i64).collect();
        let add = mk(
            "Add",
            n.name.clone(),
            vec![n.inputs.first()?.clone(), name.clone()],
            n.outputs.clone(),
            vec![],
        );
        Some(replace(
            n,
            index,
            vec![add],
            vec![Tensor::from_f32(&name, &dims, &vec![0.0; count as usize])],
        ))
    }
}

/// **decompose-max-min**: `Max(a, b) = a + Relu(b − a)`, `Min(a, b) = a − Relu(a − b)` (float; no overflow where
/// `(a + b ± |a − b|) / 2` would overflow with a large constant, as LayerNorm's `max(var, eps)` guards have).
pub struct DecomposeMaxMin;

impl Rule for DecomposeMaxMin {
    fn name(&self) -> &'static str {
        "decompose-max-min"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Max", "Min"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !["Add", "Sub", "Relu"].iter().all(|o| ctx.supports(o)) {
            return None;
        }
        let n = &m.graph.nodes[index];
        let float = |v: &str| {
            fact(ctx, v)
                .map(|f| f.0 == DataType::Float)
                .unwrap_or(false)
                || m.graph
                    .initializers
                    .iter()
                    .any(|t| t.name() == v && t.dtype() == DataType::Float)
        };
        if n.inputs.len() != 2 || !float(&n.inputs[0]) || !float(&n.inputs[1]) {
            return None;
        }
        let b = &n.name;
        let (d, r) = (format!("{b}_diff"), format!("{b}_relu"));
        // Commutative: the constant (possibly ±inf, a mask) goes second, where Relu absorbs it.
        let is_const = |v: &str| m.graph.initializers.iter().any(|t| t.name() == v);
        let (a0, a1) = if is_const(&n.inputs[0]) {
            (n.inputs[1].clone(), n.inputs[0].clone())
        } else {
            (n.inputs[0].clone(), n.inputs[1].clone())
        };
        let (diff, last) = if n.op_type == "Max" {
            (vec![a1, a0.clone()], "Add")
        } else {
            (vec![a0.clone(), a1], "Sub")
        };
        let nodes = vec![
            mk("Sub", format!("{b}_sub"), diff, vec![d.clone()], vec![]),
            mk(
                "Relu",
                format!("{b}_relu_node"),
                vec![d],
                vec![r.clone()],
                vec![],
            ),
            mk(last, b.clone(), vec![a0, r], n.outputs.clone(), vec![]),
        ];
        Some(replace(n, index, nodes, vec![]))
    }
}

/// **eliminate-noop-cast**: a `Cast` to the type its input already has.
pub struct EliminateNoopCast;

impl Rule for EliminateNoopCast {
    fn name(&self) -> &'static str {
        "eliminate-noop-cast"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Cast"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let (x, y) = (n.inputs.first()?, n.outputs.first()?);
        let (dt, _) = fact(ctx, x)?;
        if n.attr_int("to")? != dt.code() as i64 || is_output(m, y) {
            return None;
        }
        Some(bypass(n, index, y, x))
    }
}

/// **matmul-batch-to-2d**: `MatMul(A[..., K], W[K, N])` with constant 2-D weights as Reshape to `[M, K]`, a rank-2
/// MatMul and Reshape back (backends that multiply rank-2 matrices only).
pub struct MatMulTo2d;

impl Rule for MatMulTo2d {
    fn name(&self) -> &'static str {
        "matmul-batch-to-2d"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["MatMul"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Reshape") {
            return None;
        }
        let n = &m.graph.nodes[index];
        let (a, w) = (n.inputs.first()?, n.inputs.get(1)?);
        let wt = m.graph.initializers.iter().find(|t| t.name() == w)?;
        let (_, ashape) = fact(ctx, a)?;
        let (_, yshape) = fact(ctx, n.outputs.first()?)?;
        if wt.dims().len() != 2 || ashape.len() < 3 {
            return None;
        }
        let k = *ashape.last()? as i64;
        let rows: i64 = ashape[..ashape.len() - 1].iter().product::<u64>() as i64;
        let b = &n.name;
        let (s2, a2, y2, sy) = (
            format!("{b}_2d_shape"),
            format!("{b}_a2d"),
            format!("{b}_y2d"),
            format!("{b}_out_shape"),
        );
        let ydims: Vec<i64> = yshape.iter().map(|d| *d as i64).collect();
        let nodes = vec![
            mk(
                "Reshape",
                format!("{b}_to2d"),
                vec![a.clone(), s2.clone()],
                vec![a2.clone()],
                vec![],
            ),
            mk(
                "MatMul",
                b.clone(),
                vec![a2, w.clone()],
                vec![y2.clone()],
                vec![],
            ),
            mk(
                "Reshape",
                format!("{b}_back"),
                vec![y2, sy.clone()],
                n.outputs.clone(),
                vec![],
            ),
        ];
        let inits = vec![
            Tensor::from_i64(&s2, &[2], &[rows, k]),
            Tensor::from_i64(&sy, &[ydims.len() as i64], &ydims),
        ];
        Some(replace(n, index, nodes, inits))
    }
}

fn f32_init(m: &Model, v: &str) -> Option<Vec<f32>> {
    crate::rules::f32_values(m.graph.initializers.iter().find(|t| t.name() == v)?)
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
        let q = m
            .graph
            .initializers
            .iter()
            .find(|t| Some(t.name()) == n.inputs.first().map(|s| s.as_str()))?;
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
            let inner: usize = dims.get(a + 1..)?.iter().product::<i64>() as usize;
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
        Some(to_constant(n, index, Tensor::from_f32(out, &dims, &f)))
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
        let q = m
            .graph
            .initializers
            .iter()
            .find(|t| Some(t.name()) == n.inputs.first().map(|s| s.as_str()))?;
        if q.dtype() == DataType::Int32 {
            return None; // int32 constants are indices or sizes more often than weights
        }
        let v = ints_as_f32(q)?;
        Some(to_constant(n, index, Tensor::from_f32(out, q.dims(), &v)))
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
        let (av, bv) = (crate::rules::f32_values(a)?, crate::rules::f32_values(b)?);
        // One side a scalar or both the same shape (per-tensor or elementwise scale).
        let (big, dims, small) = if bv.len() == 1 {
            (av, a.dims().to_vec(), bv)
        } else if av.len() == 1 {
            (bv, b.dims().to_vec(), av)
        } else if a.dims() == b.dims() {
            let p: Vec<f32> = av.iter().zip(&bv).map(|(x, y)| x * y).collect();
            return Some(to_constant(n, index, Tensor::from_f32(out, a.dims(), &p)));
        } else {
            return None;
        };
        let p: Vec<f32> = big.iter().map(|x| x * small[0]).collect();
        Some(to_constant(n, index, Tensor::from_f32(out, &dims, &p)))
    }
}

/// **gemm-to-matmul-add**: `Gemm(A, B, C)` with alpha = beta = 1 and no transA as `MatMul(A, B')` (+ `Add(C)`), B'
/// pre-transposed when transB, for targets without Gemm.
pub struct GemmToMatMulAdd;

impl Rule for GemmToMatMulAdd {
    fn name(&self) -> &'static str {
        "gemm-to-matmul-add"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Gemm"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if ctx.supports("Gemm") || !ctx.supports("MatMul") {
            return None;
        }
        let n = &m.graph.nodes[index];
        if n.attr_int("transA").unwrap_or(0) != 0
            || float_attr(n, "alpha", 1.0) != 1.0
            || float_attr(n, "beta", 1.0) != 1.0
        {
            return None;
        }
        let mut inits = vec![];
        let mut b = n.inputs.get(1)?.clone();
        if n.attr_int("transB") == Some(1) {
            let t = m.graph.initializers.iter().find(|t| t.name() == b)?;
            let v = crate::rules::f32_values(t)?;
            let (r, c) = (*t.dims().first()? as usize, *t.dims().get(1)? as usize);
            let tv: Vec<f32> = (0..r * c).map(|i| v[(i % r) * c + i / r]).collect();
            b = format!("{}_t", n.name);
            inits.push(Tensor::from_f32(&b, &[c as i64, r as i64], &tv));
        }
        let c = n.inputs.get(2).filter(|s| !s.is_empty());
        let mm_out = if c.is_some() {
            format!("{}_mm", n.name)
        } else {
            n.outputs[0].clone()
        };
        let mut nodes = vec![mk(
            "MatMul",
            format!("{}_matmul", n.name),
            vec![n.inputs[0].clone(), b],
            vec![mm_out.clone()],
            vec![],
        )];
        if let Some(c) = c {
            if !ctx.supports("Add") {
                return None;
            }
            nodes.push(mk(
                "Add",
                n.name.clone(),
                vec![mm_out, c.clone()],
                n.outputs.clone(),
                vec![],
            ));
        }
        Some(replace(n, index, nodes, inits))
    }
}

/// **decompose-layernorm**: `LayerNormalization(x, scale, bias; axis = -1, epsilon)` as ReduceMean, Sub, Mul,
/// ReduceMean, Add, Sqrt, Div, Mul, Add over the last axis.
pub struct DecomposeLayerNorm;

impl Rule for DecomposeLayerNorm {
    fn name(&self) -> &'static str {
        "decompose-layernorm"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["LayerNormalization"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !["ReduceMean", "Sub", "Mul", "Add", "Sqrt", "Div"]
            .iter()
            .all(|o| ctx.supports(o))
        {
            return None;
        }
        let n = &m.graph.nodes[index];
        if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
            return None;
        }
        let (_, shape) = fact(ctx, n.inputs.first()?)?;
        let r = shape.len() as i64;
        let axis = n.attr_int("axis").unwrap_or(-1);
        if axis != -1 && axis != r - 1 {
            return None;
        }
        let b = &n.name;
        let x = n.inputs[0].clone();
        let opset = m.opset("").unwrap_or(1);
        let mut inits = vec![Tensor::from_f32(
            &format!("{b}_eps"),
            &[],
            &[float_attr(n, "epsilon", 1e-5)],
        )];
        let mean = |name: String, inp: String, out: String, inits: &mut Vec<Tensor>| {
            if opset >= 18 {
                let a = format!("{name}_axes");
                inits.push(Tensor::from_i64(&a, &[1], &[-1]));
                mk(
                    "ReduceMean",
                    name,
                    vec![inp, a],
                    vec![out],
                    vec![int("keepdims", 1)],
                )
            } else {
                mk(
                    "ReduceMean",
                    name,
                    vec![inp],
                    vec![out],
                    vec![ints("axes", vec![-1]), int("keepdims", 1)],
                )
            }
        };
        let v = |s: &str| format!("{b}_{s}");
        let mut nodes = vec![
            mean(v("mean"), x.clone(), v("mu"), &mut inits),
            mk("Sub", v("sub"), vec![x, v("mu")], vec![v("d")], vec![]),
            mk("Mul", v("sq"), vec![v("d"), v("d")], vec![v("d2")], vec![]),
        ];
        nodes.push(mean(v("var"), v("d2"), v("s2"), &mut inits));
        nodes.extend([
            mk(
                "Add",
                v("addeps"),
                vec![v("s2"), v("eps")],
                vec![v("s2e")],
                vec![],
            ),
            mk("Sqrt", v("sqrt"), vec![v("s2e")], vec![v("sd")], vec![]),
            mk(
                "Div",
                v("div"),
                vec![v("d"), v("sd")],
                vec![v("norm")],
                vec![],
            ),
        ]);
        let scaled = if n.inputs.get(2).is_some_and(|s| !s.is_empty()) {
            v("scaled")
        } else {
            n.outputs[0].clone()
        };
        nodes.push(mk(
            "Mul",
            v("scale"),
            vec![v("norm"), n.inputs.get(1)?.clone()],
            vec![scaled.clone()],
            vec![],
        ));
        if let Some(bias) = n.inputs.get(2).filter(|s| !s.is_empty()) {
            nodes.push(mk(
                "Add",
                b.clone(),
                vec![scaled, bias.clone()],
                n.outputs[..1].to_vec(),
                vec![],
            ));
        }
        Some(replace(n, index, nodes, inits))
    }
}

/// **decompose-softplus-mish**: `Softplus(x) = log(1 + exp(x))`, `Mish(x) = x · tanh(softplus(x))`.
pub struct DecomposeSoftplusMish;

impl Rule for DecomposeSoftplusMish {
    fn name(&self) -> &'static str {
        "decompose-softplus-mish"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Softplus", "Mish"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let mish = n.op_type == "Mish";
        let softplus_native = ctx.supports("Softplus");
        let needs: &[&str] = if mish { &["Tanh", "Mul"] } else { &[] };
        if !needs.iter().all(|o| ctx.supports(o))
            || (!softplus_native && !["Exp", "Add", "Log"].iter().all(|o| ctx.supports(o)))
        {
            return None;
        }
        if !mish && softplus_native {
            return None;
        }
        let b = &n.name;
        let x = n.inputs.first()?.clone();
        let sp = if mish {
            format!("{b}_softplus")
        } else {
            n.outputs[0].clone()
        };
        let mut nodes = vec![];
        let mut inits = vec![];
        if softplus_native {
            nodes.push(mk(
                "Softplus",
                format!("{b}_sp"),
                vec![x.clone()],
                vec![sp.clone()],
                vec![],
            ));
        } else {
            let one = format!("{b}_one");
            inits.push(Tensor::from_f32(&one, &[], &[1.0]));
            nodes.extend([
                mk(
                    "Exp",
                    format!("{b}_exp"),
                    vec![x.clone()],
                    vec![format!("{b}_e")],
                    vec![],
                ),
                mk(
                    "Add",
                    format!("{b}_add1"),
                    vec![format!("{b}_e"), one],
                    vec![format!("{b}_e1")],
                    vec![],
                ),
                mk(
                    "Log",
                    format!("{b}_log"),
                    vec![format!("{b}_e1")],
                    vec![sp.clone()],
                    vec![],
                ),
            ]);
        }
        if mish {
            nodes.push(mk(
                "Tanh",
                format!("{b}_tanh"),
                vec![sp],
                vec![format!("{b}_t")],
                vec![],
            ));
            nodes.push(mk(
                "Mul",
                b.clone(),
                vec![x, format!("{b}_t")],
                n.outputs.clone(),
                vec![],
            ));
        }
        Some(replace(n, index, nodes, inits))
    }
}

/// **clip-bounds**: `Clip` with a missing bound: min 0 and no max is `Relu`; no bounds at all is the identity.
pub struct ClipBounds;

impl Rule for ClipBounds {
    fn name(&self) -> &'static str {
        "clip-bounds"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Clip"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let given = |i: usize, attr: &str| -> Option<Option<f32>> {
            if m.opset("").unwrap_or(1) >= 11 {
                match n.inputs.get(i).filter(|s| !s.is_empty()) {
                    None => Some(None),
                    Some(v) => f32_init(m, v).filter(|x| x.len() == 1).map(|x| Some(x[0])),
                }
            } else {
                Some(match n.attr(attr) {
                    Some(AttrValue::Float(f)) => Some(*f),
                    _ => None,
                })
            }
        };
        let (lo, hi) = (given(1, "min")?, given(2, "max")?);
        match (lo, hi) {
            (Some(z), None) if z == 0.0 && ctx.supports("Relu") => {
                let r = mk(
                    "Relu",
                    n.name.clone(),
                    vec![n.inputs.first()?.clone()],
                    n.outputs.clone(),
                    vec![],
                );
                Some(replace(n, index, vec![r], vec![]))
            }
            (None, None) if !is_output(m, n.outputs.first()?) => {
                Some(bypass(n, index, &n.outputs[0], n.inputs.first()?))
            }
            _ => None,
        }
    }
}

/// **eliminate-noop-reshape-transpose**: a `Reshape`, `Expand` or step-1 `Slice` whose output has its input's shape,
/// or a `Transpose` with the identity permutation.
pub struct EliminateNoopReshape;

impl Rule for EliminateNoopReshape {
    fn name(&self) -> &'static str {
        "eliminate-noop-reshape-transpose"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Reshape", "Transpose", "Slice", "Expand"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let (x, y) = (n.inputs.first()?, n.outputs.first()?);
        let noop = if n.op_type == "Transpose" {
            n.attr_ints("perm")
                .is_some_and(|p| p.iter().enumerate().all(|(i, a)| *a == i as i64))
        } else {
            fact(ctx, x)?.1 == fact(ctx, y)?.1
        };
        if !noop || is_output(m, y) {
            return None;
        }
        Some(bypass(n, index, y, x))
    }
}

/// The value of a constant float scalar (or one-element tensor).
pub(crate) fn scalar_f32(m: &Model, v: &str) -> Option<f32> {
    f32_init(m, v).filter(|x| x.len() == 1).map(|x| x[0])
}

/// **one-hot-to-gather**: `Cast<float>(Equal(idx, arange(C)))` with `idx` of shape `[..., 1]` is one-hot encoding;
/// it is `Gather(eye(C), idx)` reshaped to `[..., C]` (exporters from TF/JAX write one_hot as Equal + Cast). An index
/// outside `0..C` gives an all-zero row in the original and is out of range for Gather: the feed must be valid.
pub struct OneHotToGather;

impl Rule for OneHotToGather {
    fn name(&self) -> &'static str {
        "one-hot-to-gather"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Cast"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Gather") || !ctx.supports("Reshape") {
            return None;
        }
        let (ci, cast) = (index, &m.graph.nodes[index]);
        if cast.attr_int("to")? != DataType::Float.code() as i64 {
            return None;
        }
        let ei = m
            .graph
            .nodes
            .iter()
            .position(|n| n.op_type == "Equal" && n.outputs.first() == cast.inputs.first())?;
        let eq = &m.graph.nodes[ei];
        let readers = m
            .graph
            .nodes
            .iter()
            .filter(|n| n.inputs.contains(&eq.outputs[0]))
            .count();
        if readers != 1 || is_output(m, &eq.outputs[0]) {
            return None;
        }
        // Which side is the arange constant?
        let (idx, range) = [(0, 1), (1, 0)].into_iter().find_map(|(i, r)| {
            let v = crate::rules::int64_values(m, eq.inputs.get(r)?)
                .or_else(|| int32_values(m, eq.inputs.get(r)?))?;
            Some((eq.inputs.get(i)?.clone(), v))
        })?;
        let (_, ishape) = fact(ctx, &idx)?;
        let (_, oshape) = fact(ctx, cast.outputs.first()?)?;
        let c = *oshape.last()? as usize;
        // The constant must be 0..C along the last axis (possibly broadcast over the others).
        if ishape.last() != Some(&1) || range.len() % c != 0 || c == 0 {
            return None;
        }
        if !range
            .chunks(c)
            .all(|ch| ch.iter().enumerate().all(|(i, v)| *v == i as i64))
        {
            return None;
        }
        let b = &cast.name;
        let (eye, g, shape) = (
            format!("{b}_eye"),
            format!("{b}_rows"),
            format!("{b}_shape"),
        );
        let mut e = vec![0f32; c * c];
        for i in 0..c {
            e[i * c + i] = 1.0;
        }
        let dims: Vec<i64> = oshape.iter().map(|d| *d as i64).collect();
        let nodes = vec![
            mk(
                "Gather",
                format!("{b}_gather"),
                vec![eye.clone(), idx],
                vec![g.clone()],
                vec![int("axis", 0)],
            ),
            mk(
                "Reshape",
                b.clone(),
                vec![g, shape.clone()],
                cast.outputs.clone(),
                vec![],
            ),
        ];
        let inits = vec![
            Tensor::from_f32(&eye, &[c as i64, c as i64], &e),
            Tensor::from_i64(&shape, &[dims.len() as i64], &dims),
        ];
        let mut edits: Vec<Edit> = inits.into_iter().map(Edit::AddInitializer).collect();
        edits.push(Edit::Replace {
            index: ci,
            with: nodes,
        });
        edits.push(Edit::Replace {
            index: ei,
            with: vec![],
        });
        Some(Patch {
            nodes: vec![eq.name.clone(), cast.name.clone()],
            edits,
        })
    }
}

fn int32_values(m: &Model, v: &str) -> Option<Vec<i64>> {
    let t = m
        .graph
        .initializers
        .iter()
        .find(|t| t.name() == v && t.dtype() == DataType::Int32)?;
    let b = t.data_bytes().ok()?;
    Some(
        b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
            .collect(),
    )
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
        let w = crate::rules::f32_values(wt)?;
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
        let e = crate::rules::f32_values(et)?;
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

/// **pow-square-to-mul**: `Pow(x, 2)` with a constant exponent 2 is `Mul(x, x)`, exact for every x. GPU shading
/// languages define `pow(x, y)` only for x >= 0 (WGSL: `exp2(y * log2(x))`), so a squared difference (the variance
/// of a decomposed LayerNorm) goes NaN there.
pub struct PowSquareToMul;

impl Rule for PowSquareToMul {
    fn name(&self) -> &'static str {
        "pow-square-to-mul"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Pow"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        if !ctx.supports("Mul") || n.inputs.len() != 2 || scalar_f32(m, &n.inputs[1]) != Some(2.0) {
            return None;
        }
        let x = n.inputs[0].clone();
        let y = n.outputs.first()?.clone();
        Some(replace(
            n,
            index,
            vec![mk(
                "Mul",
                n.name.clone(),
                vec![x.clone(), x],
                vec![y],
                vec![],
            )],
            vec![],
        ))
    }
}
