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
    ctx.facts?.get(v)
}

fn replace(n: &Node, index: usize, with: Vec<Node>, inits: Vec<Tensor>) -> Patch {
    let mut edits: Vec<Edit> = inits.into_iter().map(Edit::AddInitializer).collect();
    edits.push(Edit::Replace { index, with });
    Patch {
        nodes: vec![n.name.clone()],
        edits,
    }
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

/// **decompose-max-min**: `Max(a, b) = (a + b + |a − b|) / 2`, `Min(a, b) = (a + b − |a − b|) / 2` (float).
pub struct DecomposeMaxMin;

impl Rule for DecomposeMaxMin {
    fn name(&self) -> &'static str {
        "decompose-max-min"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Max", "Min"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !["Add", "Sub", "Abs", "Mul"].iter().all(|o| ctx.supports(o)) {
            return None;
        }
        let n = &m.graph.nodes[index];
        if n.inputs.len() != 2 || fact(ctx, &n.inputs[0])?.0 != DataType::Float {
            return None;
        }
        let b = &n.name;
        let (s, d, ad, t, half) = (
            format!("{b}_sum"),
            format!("{b}_diff"),
            format!("{b}_absdiff"),
            format!("{b}_t"),
            format!("{b}_half"),
        );
        let (a0, a1) = (n.inputs[0].clone(), n.inputs[1].clone());
        let last = if n.op_type == "Max" { "Add" } else { "Sub" };
        let nodes = vec![
            mk(
                "Add",
                format!("{b}_add"),
                vec![a0.clone(), a1.clone()],
                vec![s.clone()],
                vec![],
            ),
            mk(
                "Sub",
                format!("{b}_sub"),
                vec![a0, a1],
                vec![d.clone()],
                vec![],
            ),
            mk("Abs", format!("{b}_abs"), vec![d], vec![ad.clone()], vec![]),
            mk(
                last,
                format!("{b}_combine"),
                vec![s, ad],
                vec![t.clone()],
                vec![],
            ),
            mk(
                "Mul",
                b.clone(),
                vec![t, half.clone()],
                n.outputs.clone(),
                vec![],
            ),
        ];
        Some(replace(
            n,
            index,
            nodes,
            vec![Tensor::from_f32(&half, &[], &[0.5])],
        ))
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
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::RenameUses {
                    from: y.clone(),
                    to: x.clone(),
                },
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        })
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
