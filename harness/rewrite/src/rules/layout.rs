//! Shapes and layout: static shapes pinned from the feed, Gemm's B pre-transposed, Flatten/Squeeze as Reshape,
//! Slice as Split, MatMul brought to 2-D, `auto_pad=VALID` as explicit pads.

use crate::build::*;
use crate::{Blocked, Ctx, Edit, Patch, Rule};
use edgebench_graph::{AttrValue, Attribute, Model, Node, Tensor, ValueInfo};

/// **static-shapes**: pins every dim from the feed and writes `value_info` with the inferred type and shape of every
/// main-graph value (narrow backends such as wonnx compile each node with concrete shapes).
pub struct StaticShapes;

impl Rule for StaticShapes {
    fn name(&self) -> &'static str {
        "static-shapes"
    }
    fn whole(&self, model: &Model, blocked: &Blocked, ctx: &Ctx) -> Option<Patch> {
        if !blocked.kinds.contains("dynamic-shape") {
            return None;
        }
        let facts = ctx.facts()?;
        let fact = |v: &ValueInfo| -> Option<ValueInfo> {
            let (dt, shape) = facts.get(&v.name)?;
            Some(tensor_vi(&v.name, *dt, shape))
        };
        let init: std::collections::HashSet<&str> =
            model.graph.initializers.iter().map(|t| t.name()).collect();
        let inputs: Vec<ValueInfo> = model
            .graph
            .inputs
            .iter()
            .map(|v| fact(v).unwrap_or_else(|| v.clone()))
            .collect();
        let outputs: Vec<ValueInfo> = model
            .graph
            .outputs
            .iter()
            .map(|v| fact(v).unwrap_or_else(|| v.clone()))
            .collect();
        // Optional outputs nobody reads (Dropout's mask, BatchNormalization's training statistics) get no value_info:
        // a type the inference guesses for them is one more thing a backend can refuse. Split's unused parts do.
        let used: std::collections::HashSet<&str> = model
            .graph
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter().map(String::as_str))
            .collect();
        let mut value_info = vec![];
        for n in &model.graph.nodes {
            for o in n.outputs.iter().filter(|o| !o.is_empty()) {
                let optional = n.op_type != "Split" && n.outputs.first() != Some(o);
                if is_output(model, o)
                    || init.contains(o.as_str())
                    || (!used.contains(o.as_str()) && optional)
                {
                    continue;
                }
                if let Some((dt, shape)) = facts.get(o) {
                    value_info.push(tensor_vi(o, *dt, shape));
                }
            }
        }
        let same = inputs == model.graph.inputs
            && outputs == model.graph.outputs
            && value_info == model.graph.value_info;
        if same {
            return None;
        }
        Some(Patch {
            nodes: vec![format!("{} values", value_info.len() + outputs.len())],
            edits: vec![Edit::SetValueInfos {
                inputs,
                outputs,
                value_info,
            }],
        })
    }
}

/// **gemm-pretranspose-b**: `Gemm` with `transB=1` and a constant B gets B transposed once, as a new initializer,
/// and `transB=0` (wonnx compiles only `transB=0`).
pub struct GemmPretransposeB;

impl Rule for GemmPretransposeB {
    fn name(&self) -> &'static str {
        "gemm-pretranspose-b"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Gemm"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let n = &model.graph.nodes[index];
        if n.attr_int("transB").unwrap_or(0) == 0 {
            return None;
        }
        let b = float_initializer(model, n.inputs.get(1)?)?;
        let [r, c] = b.dims() else { return None };
        let (r, c) = (usize::try_from(*r).ok()?, usize::try_from(*c).ok()?);
        let v = b.as_f32().filter(|v| Some(v.len()) == r.checked_mul(c))?;
        let mut t = vec![0f32; v.len()];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = v[i * c + j];
            }
        }
        let name = format!("{}_transposed", b.name());
        let mut g = n.clone();
        g.inputs[1] = name.clone();
        set_int_attr(&mut g, "transB", 0);
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::AddInitializer(Tensor::from_f32(&name, &[c as i64, r as i64], &t)),
                Edit::Replace {
                    index,
                    with: vec![g],
                },
            ],
        })
    }
}

/// **flatten-to-reshape**: `Flatten` of a value of known shape becomes `Reshape` to `[prod(d[..axis]),
/// prod(d[axis..])]` with a constant shape.
pub struct FlattenToReshape;

impl Rule for FlattenToReshape {
    fn name(&self) -> &'static str {
        "flatten-to-reshape"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Flatten"]
    }
    fn node(&self, model: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        if !ctx.supports("Reshape") {
            return None;
        }
        let n = &model.graph.nodes[index];
        let (_, shape) = ctx.facts()?.get(n.inputs.first()?)?;
        let rank = shape.len() as i64;
        let mut axis = n.attr_int("axis").unwrap_or(1);
        if axis < 0 {
            axis += rank;
        }
        if !(0..=rank).contains(&axis) {
            return None;
        }
        let (a, b) = shape.split_at(axis as usize);
        let dims = [
            i64::try_from(a.iter().try_fold(1u64, |p, x| p.checked_mul(*x))?).ok()?,
            i64::try_from(b.iter().try_fold(1u64, |p, x| p.checked_mul(*x))?).ok()?,
        ];
        let name = format!("{}_shape", n.name);
        let reshape = Node {
            name: n.name.clone(),
            op_type: "Reshape".into(),
            inputs: vec![n.inputs[0].clone(), name.clone()],
            outputs: n.outputs.clone(),
            ..Default::default()
        };
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::AddInitializer(Tensor::from_i64(&name, &[2], &dims)),
                Edit::Replace {
                    index,
                    with: vec![reshape],
                },
            ],
        })
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
        Some(Patch::replace(
            n,
            index,
            vec![r],
            vec![Tensor::from_i64(&name, &[dims.len() as i64], &dims)],
        ))
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
                .and_then(|s| int64_values(m, s))
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
        Some(Patch::replace(n, index, vec![split], inits))
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
        let rows = i64::try_from(
            ashape[..ashape.len() - 1]
                .iter()
                .try_fold(1u64, |p, x| p.checked_mul(*x))?,
        )
        .ok()?;
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
        Some(Patch::replace(n, index, nodes, inits))
    }
}

/// **explicit-pads**: `auto_pad=VALID` (no padding) on `Conv`, `MaxPool` or `AveragePool` written as `pads` of zeros,
/// which means the same (wonnx implements `NOTSET` and `SAME_*` only).
pub struct ExplicitPads;

impl Rule for ExplicitPads {
    fn name(&self) -> &'static str {
        "explicit-pads"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Conv", "MaxPool", "AveragePool"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        match n.attr("auto_pad") {
            Some(AttrValue::String(s)) if s.as_ref() == b"VALID" => {}
            _ => return None,
        }
        // Spatial rank: the kernel's, else the weight's dims after (M, C), else the input's after (N, C).
        let rank = match n.attr_ints("kernel_shape") {
            Some(k) => k.len(),
            None => match n.inputs.get(1).and_then(|w| m.graph.initializer(w)) {
                Some(w) => w.dims().len().checked_sub(2)?,
                None => fact(ctx, n.inputs.first()?)?.1.len().checked_sub(2)?,
            },
        };
        if rank == 0 {
            return None;
        }
        let mut g = n.clone();
        g.attributes
            .retain(|a| a.name != "auto_pad" && a.name != "pads");
        g.attributes.push(Attribute {
            name: "pads".into(),
            value: AttrValue::Ints(vec![0; 2 * rank]),
            doc_string: String::new(),
        });
        Some(Patch::replace(n, index, vec![g], vec![]))
    }
}
