//! Decompositions for narrow backends: an op the target lacks becomes ops it supports (HardSwish, HardSigmoid,
//! LayerNorm, Softplus/Mish, Max/Min, Gemm, Expand, Sum, Pow, OneHot, GlobalMaxPool, Clip bounds). Each emits only
//! ops the target's table supports and needs the oracle's facts where shapes matter.

use crate::build::*;
use crate::{Ctx, Edit, Patch, Rule};
use edgebench_graph::{AttrValue, Attribute, DataType, Model, Node, Tensor};

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

/// **decompose-hardswish**: `HardSwish(x) = x * HardSigmoid(x; alpha = 1/6, beta = 0.5)`, when the target runs
/// both.
pub struct DecomposeHardSwish;

impl Rule for DecomposeHardSwish {
    fn name(&self) -> &'static str {
        "decompose-hardswish"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["HardSwish"]
    }
    fn node(&self, model: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("HardSigmoid") || !ctx.supports("Mul") {
            return None;
        }
        let n = &model.graph.nodes[index];
        let x = n.inputs.first()?.clone();
        let mid = format!("{}_hardsigmoid", n.name);
        let float = |name: &str, v: f32| Attribute {
            name: name.into(),
            value: AttrValue::Float(v),
            doc_string: String::new(),
        };
        let hs = Node {
            name: mid.clone(),
            op_type: "HardSigmoid".into(),
            inputs: vec![x.clone()],
            outputs: vec![mid.clone()],
            attributes: vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)],
            ..Default::default()
        };
        let mul = Node {
            name: n.name.clone(),
            op_type: "Mul".into(),
            inputs: vec![x, mid],
            outputs: n.outputs.clone(),
            ..Default::default()
        };
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![Edit::Replace {
                index,
                with: vec![hs, mul],
            }],
        })
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
        Some(Patch::replace(n, index, nodes, inits))
    }
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
        Some(Patch::replace(n, index, nodes, inits))
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
        Some(Patch::replace(n, index, nodes, vec![]))
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
        Some(Patch::replace(n, index, nodes, inits))
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
        Some(Patch::replace(n, index, nodes, inits))
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
            let v = t.as_f32()?;
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
        Some(Patch::replace(n, index, nodes, inits))
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
        let count: u64 = out.iter().try_fold(1u64, |a, x| a.checked_mul(*x))?;
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
        Some(Patch::replace(
            n,
            index,
            vec![add],
            vec![Tensor::from_f32(&name, &dims, &vec![0.0; count as usize])],
        ))
    }
}

/// **sum-to-add**: `Sum` of n inputs becomes a chain of n-1 `Add`s (same broadcasting), when the target runs Add.
pub struct SumToAdd;

impl Rule for SumToAdd {
    fn name(&self) -> &'static str {
        "sum-to-add"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Sum"]
    }
    fn node(&self, model: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Add") {
            return None;
        }
        let n = &model.graph.nodes[index];
        let ins: Vec<&String> = n.inputs.iter().filter(|i| !i.is_empty()).collect();
        let out = n.outputs.first()?;
        if ins.len() < 2 {
            return None;
        }
        let mut nodes = vec![];
        let mut acc = ins[0].clone();
        for (k, x) in ins.iter().enumerate().skip(1) {
            let last = k == ins.len() - 1;
            let o = if last {
                out.clone()
            } else {
                format!("{}_sum{k}", n.name)
            };
            nodes.push(Node {
                name: if last {
                    n.name.clone()
                } else {
                    format!("{}_add{k}", n.name)
                },
                op_type: "Add".into(),
                inputs: vec![acc.clone(), (*x).clone()],
                outputs: vec![o.clone()],
                ..Default::default()
            });
            acc = o;
        }
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![Edit::Replace { index, with: nodes }],
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
        Some(Patch::replace(
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
    fn touches(&self) -> &'static [&'static str] {
        &["Cast", "Equal"]
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
            let v = int64_values(m, eq.inputs.get(r)?)
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
            Some(Patch::replace(
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
            Some(Patch::replace(n, index, vec![r], vec![]))
        }
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
                Some(Patch::replace(n, index, vec![r], vec![]))
            }
            (None, None) if !is_output(m, n.outputs.first()?) => {
                Some(Patch::bypass(n, index, &n.outputs[0], n.inputs.first()?))
            }
            _ => None,
        }
    }
}
