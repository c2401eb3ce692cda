//! The rules. Each is small, keyed by op type, and returns a patch only for a node the target cannot run.

use crate::{Blocked, Ctx, Edit, Patch, Rule};
use edgebench_graph::{
    AttrValue, Attribute, DataType, Dim, Model, Node, Tensor, ValueInfo, ValueType,
};

/// Every rule, in the order the driver tries them: shapes first (they unblock most), then eliminations, layout,
/// decompositions.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &StaticShapes,
        &crate::opset::DowngradeOpset,
        &crate::opset::DropUnusedImports,
        &ConstantToInitializer,
        &crate::fold::FoldShapeChains,
        &FoldConstantOfShape,
        &FoldUnsqueeze,
        &EliminateIdentity,
        &EliminateDropout,
        &FoldBatchNorm,
        &GemmPretransposeB,
        &FlattenToReshape,
        &DecomposeHardSwish,
        &crate::decompose::DecomposeHardSwishClip,
        &crate::decompose::DecomposeHardSigmoid,
        &crate::decompose::EliminateNoopCast,
        &crate::decompose::SqueezeToReshape,
        &crate::decompose::GlobalMaxPoolToReduceMax,
        &crate::decompose::SliceToSplit,
        &crate::decompose::ExpandToAdd,
        &crate::decompose::DecomposeMaxMin,
        &crate::decompose::MatMulTo2d,
        &crate::decompose::DequantizeWeights,
        &crate::decompose::FoldCastWeights,
        &crate::decompose::FoldMulConstants,
        &crate::decompose::GemmToMatMulAdd,
        &crate::decompose::DecomposeLayerNorm,
        &crate::decompose::PowSquareToMul,
        &crate::decompose::DecomposeSoftplusMish,
        &crate::decompose::ClipBounds,
        &crate::decompose::EliminateNoopReshape,
        &crate::decompose::OneHotToGather,
        &crate::decompose::FoldGatherMatMul,
        &SumToAdd,
    ]
}

/// Finds a rule by name.
pub fn by_name(name: &str) -> Option<&'static dyn Rule> {
    all().into_iter().find(|r| r.name() == name)
}

fn is_graph_output(m: &Model, v: &str) -> bool {
    m.graph.outputs.iter().any(|o| o.name == v)
}

fn tensor_vi(name: &str, dtype: DataType, shape: &[u64]) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        ty: Some(ValueType::Tensor {
            dtype,
            shape: Some(shape.iter().map(|d| Dim::Value(*d as i64)).collect()),
        }),
        doc_string: String::new(),
        metadata: vec![],
    }
}

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
                if is_graph_output(model, o)
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

/// Removes a node whose output is its input (`Identity`, inference `Dropout`): its uses read the input instead.
fn bypass(model: &Model, index: usize) -> Option<Patch> {
    let n = &model.graph.nodes[index];
    let (x, y) = (n.inputs.first()?, n.outputs.first()?);
    // A graph output keeps its name (users and comparisons index outputs by name); extra outputs must be unused.
    let extra_used = n.outputs.iter().skip(1).filter(|o| !o.is_empty()).any(|o| {
        is_graph_output(model, o) || model.graph.nodes.iter().any(|m| m.inputs.contains(o))
    });
    if x.is_empty() || is_graph_output(model, y) || extra_used {
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

/// **eliminate-identity**: `Identity` removed, its uses read its input.
pub struct EliminateIdentity;

impl Rule for EliminateIdentity {
    fn name(&self) -> &'static str {
        "eliminate-identity"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Identity"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        bypass(model, index)
    }
}

/// **eliminate-dropout**: `Dropout` is the identity at inference (its mask output unused).
pub struct EliminateDropout;

impl Rule for EliminateDropout {
    fn name(&self) -> &'static str {
        "eliminate-dropout"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Dropout"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        bypass(model, index)
    }
}

fn float_initializer<'a>(model: &'a Model, name: &str) -> Option<&'a Tensor> {
    model
        .graph
        .initializers
        .iter()
        .find(|t| t.name() == name && t.dtype() == DataType::Float)
}

pub(crate) fn f32_values(t: &Tensor) -> Option<Vec<f32>> {
    let b = t.data_bytes().ok()?;
    if b.len() != t.numel() as usize * 4 {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn set_int_attr(n: &mut Node, name: &str, v: i64) {
    n.attributes.retain(|a| a.name != name);
    n.attributes.push(Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    });
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
        let (r, c) = (*r as usize, *c as usize);
        let v = f32_values(b)?;
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
            a.iter().product::<u64>() as i64,
            b.iter().product::<u64>() as i64,
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
        if is_graph_output(model, out) {
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
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::AddInitializer(t),
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        })
    }
}

/// Elements a folded constant may have (a larger one stays a node: folding must not blow up the file).
const MAX_FOLD_ELEMENTS: u64 = 1 << 26;

pub(crate) fn int64_values(model: &Model, name: &str) -> Option<Vec<i64>> {
    int64_initializer(model, name)
}

fn int64_initializer(model: &Model, name: &str) -> Option<Vec<i64>> {
    let t = model
        .graph
        .initializers
        .iter()
        .find(|t| t.name() == name && t.dtype() == DataType::Int64)?;
    let b = t.data_bytes().ok()?;
    if b.len() != t.numel() as usize * 8 {
        return None;
    }
    Some(
        b.chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    )
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
        if is_graph_output(model, out) {
            return None;
        }
        let dims = int64_initializer(model, n.inputs.first()?)?;
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
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::AddInitializer(Tensor::from_raw(out, dtype, &dims, raw)),
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        })
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
        if is_graph_output(model, out) {
            return None;
        }
        let t = model
            .graph
            .initializers
            .iter()
            .find(|t| Some(t.name()) == n.inputs.first().map(String::as_str))?;
        if t.external.is_some() {
            return None;
        }
        let axes: Vec<i64> = match n.attr_ints("axes") {
            Some(a) => a.to_vec(),
            None => int64_initializer(model, n.inputs.get(1)?)?,
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
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::AddInitializer(Tensor::from_raw(out, t.dtype(), &dims, raw)),
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        })
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
        if conv.op_type != "Conv"
            || !conv.domain.is_empty()
            || readers != 1
            || is_graph_output(model, y)
        {
            return None;
        }
        let w_t = float_initializer(model, conv.inputs.get(1)?)?;
        let w = f32_values(w_t)?;
        let p: Vec<Vec<f32>> = bn.inputs[1..]
            .iter()
            .map(|v| f32_values(float_initializer(model, v)?))
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
            Some(b) => f32_values(float_initializer(model, b)?)?,
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
