//! fp16 variants: compute in fp16 with Casts at the fp32 edges, or weights stored in fp16 only.

use super::{Names, VariantError, cast, dtype_of, f32_values, typed};
use crate::Facts;
use edgebench_graph::{AttrValue, DataType, Model, Node, Tensor, ValueType};
use std::collections::{HashMap, HashSet};

/// Ops kept in fp32 in the fp16 variant: reductions and normalisations whose sums overflow fp16's 65504, Softmax,
/// exponentials and powers, ops whose ONNX definition has no fp16 form (Range, random generators), and ops whose
/// float attributes are tensors (ConstantOfShape). Every node outside the default domain and every node holding a
/// subgraph stays fp32 too.
pub const KEEP_FP32: &[&str] = &[
    "ReduceSum",
    "ReduceMean",
    "ReduceSumSquare",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceProd",
    "Softmax",
    "LogSoftmax",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "Exp",
    "Pow",
    "CumSum",
    "Range",
    "ConstantOfShape",
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "EyeLike",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "TopK",
    "NonMaxSuppression",
    "RoiAlign",
];

/// Inputs that stay fp32 even when their node runs in fp16 (their type is fixed by the op's definition).
fn keeps_fp32_input(op: &str, index: usize) -> bool {
    matches!((op, index), ("Resize", 1 | 2) | ("Upsample", 1))
}

fn to_half_tensor(t: &Tensor, name: &str) -> Option<Tensor> {
    let v = f32_values(t)?;
    let raw = v
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect();
    Some(Tensor::from_raw(name, DataType::Float16, t.dims(), raw))
}

/// Compute in fp16. A node runs in fp16 when it is in the default domain, not in [`KEEP_FP32`], holds no
/// subgraph, and the types of all its values are known; fp32 values crossing into it are cast (initializers are
/// converted once), fp16 values leaving it for an fp32 node or a graph output are cast back.
pub fn to_fp16(model: &Model, facts: &Facts) -> Result<Model, VariantError> {
    let g = &model.graph;
    let is_float = |v: &str| dtype_of(model, facts, v) == Some(DataType::Float);
    let known = |v: &str| v.is_empty() || dtype_of(model, facts, v).is_some();
    let half_node: Vec<bool> = g
        .nodes
        .iter()
        .map(|n| {
            n.domain.is_empty()
                && !KEEP_FP32.contains(&n.op_type.as_str())
                && n.subgraphs().next().is_none()
                && n.inputs.iter().chain(&n.outputs).all(|v| known(v))
                && n.inputs.iter().chain(&n.outputs).any(|v| is_float(v))
                && !(n.op_type == "Constant" && n.attributes.iter().any(|a| a.name != "value"))
        })
        .collect();
    if !half_node.iter().any(|h| *h) {
        return Err(VariantError::Unsupported(
            "no node can run in fp16 (no float tensors with known types outside the fp32 block list)".into(),
        ));
    }
    let inits: HashMap<&str, &Tensor> = g.initializers.iter().map(|t| (t.name(), t)).collect();
    let graph_outputs: HashSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
    let mut names = Names::of(model);
    let mut out = model.clone();
    let mut nodes: Vec<Node> = vec![];
    // value (fp32 name) -> its fp16 name, for values produced in fp16 or converted to fp16.
    let mut as_half: HashMap<String, String> = HashMap::new();
    // value (fp16 name) -> the fp32 copy made by a Cast.
    let mut as_float: HashMap<String, String> = HashMap::new();
    let mut produced_half: HashSet<String> = HashSet::new();
    let mut new_inits: Vec<Tensor> = vec![];
    for (i, n0) in g.nodes.iter().enumerate() {
        let mut n = n0.clone();
        let half = half_node[i];
        for (k, inp) in n.inputs.iter_mut().enumerate() {
            if inp.is_empty() || !(is_float(inp) || produced_half.contains(inp.as_str())) {
                continue;
            }
            let want_half = half && !keeps_fp32_input(&n0.op_type, k);
            let is_half = produced_half.contains(inp.as_str());
            if want_half && !is_half {
                if let Some(h) = as_half.get(inp.as_str()) {
                    *inp = h.clone();
                } else if let Some(t) = inits.get(inp.as_str()) {
                    let h = names.fresh(&format!("{inp}__fp16"));
                    let tensor = to_half_tensor(t, &h).ok_or_else(|| {
                        VariantError::Unsupported(format!(
                            "initializer `{inp}`: cannot read its values"
                        ))
                    })?;
                    new_inits.push(tensor);
                    as_half.insert(inp.clone(), h.clone());
                    *inp = h;
                } else {
                    let h = names.fresh(&format!("{inp}__fp16"));
                    nodes.push(cast(
                        names.fresh(&format!("{inp}__to_fp16")),
                        inp,
                        &h,
                        DataType::Float16,
                    ));
                    as_half.insert(inp.clone(), h.clone());
                    *inp = h;
                }
            } else if !want_half && is_half {
                let f = match as_float.get(inp.as_str()) {
                    Some(f) => f.clone(),
                    None => {
                        let f = names.fresh(&format!("{inp}__fp32"));
                        nodes.push(cast(
                            names.fresh(&format!("{inp}__to_fp32")),
                            inp,
                            &f,
                            DataType::Float,
                        ));
                        as_float.insert(inp.clone(), f.clone());
                        f
                    }
                };
                *inp = f;
            }
        }
        let mut tail: Vec<Node> = vec![];
        if half {
            if n.op_type == "Cast" && n.attr_int("to") == Some(DataType::Float.code() as i64) {
                n.attributes.retain(|a| a.name != "to");
                n.attributes
                    .push(super::int_attr("to", DataType::Float16.code() as i64));
            }
            if n.op_type == "Constant" {
                for a in &mut n.attributes {
                    if let AttrValue::Tensor(t) = &mut a.value {
                        if t.dtype() == DataType::Float {
                            let name = t.name().to_string();
                            **t = to_half_tensor(t, &name).ok_or_else(|| {
                                VariantError::Unsupported(format!(
                                    "Constant `{}`: cannot read its value",
                                    n0.name
                                ))
                            })?;
                        }
                    }
                }
            }
            for o in n.outputs.iter_mut() {
                if o.is_empty() || !is_float(o) {
                    continue;
                }
                if graph_outputs.contains(o.as_str()) {
                    // The graph output keeps its name and fp32 type: the node writes an fp16 twin, cast back.
                    let h = names.fresh(&format!("{o}__fp16"));
                    tail.push(cast(
                        names.fresh(&format!("{o}__to_fp32")),
                        &h,
                        o,
                        DataType::Float,
                    ));
                    produced_half.insert(h.clone());
                    *o = h;
                } else {
                    produced_half.insert(o.clone());
                }
            }
        }
        nodes.push(n);
        nodes.extend(tail);
    }
    out.graph.nodes = nodes;
    out.graph.initializers.extend(new_inits);
    let shape_of = |v: &str| facts.get(v).map(|(_, s)| s);
    // value_info: fp16 values with their shapes; fp32 values as before; the new Cast outputs typed too.
    let mut vi = vec![];
    for v in &model.graph.value_info {
        let mut v = v.clone();
        if produced_half.contains(&v.name) {
            if let Some(ValueType::Tensor { dtype, .. }) = &mut v.ty {
                *dtype = DataType::Float16;
            }
        }
        vi.push(v);
    }
    let declared: HashSet<String> = vi.iter().map(|v| v.name.clone()).collect();
    for (f, h) in &as_half {
        if !declared.contains(h) && !inits.contains_key(f.as_str()) {
            vi.push(typed(h, DataType::Float16, shape_of(f)));
        }
    }
    for (h, f) in &as_float {
        vi.push(typed(f, DataType::Float, shape_of(h)));
    }
    for h in &produced_half {
        if let Some(orig) = h
            .strip_suffix("__fp16")
            .filter(|o| graph_outputs.contains(o))
        {
            vi.push(typed(h, DataType::Float16, shape_of(orig)));
        }
    }
    out.graph.value_info = vi;
    crate::patch::drop_unused_initializers(&mut out.graph);
    Ok(out)
}

/// Weights stored in fp16 and cast to fp32 by one Cast each at the start of the graph: half the bytes on disk and
/// in the file cache, fp32 compute.
pub fn to_fp16_weights(model: &Model) -> Model {
    let mut out = model.clone();
    let mut names = Names::of(model);
    let mut casts = vec![];
    let mut inits = vec![];
    for t in &model.graph.initializers {
        let converted = (t.dtype() == DataType::Float && t.numel() > 1)
            .then(|| {
                let h = names.fresh(&format!("{}__fp16", t.name()));
                to_half_tensor(t, &h).map(|x| (h, x))
            })
            .flatten();
        match converted {
            Some((h, x)) => {
                casts.push(cast(
                    names.fresh(&format!("{}__to_fp32", t.name())),
                    &h,
                    t.name(),
                    DataType::Float,
                ));
                inits.push(x);
            }
            None => inits.push(t.clone()),
        }
    }
    let cast_names: HashSet<&str> = casts.iter().map(|c| c.outputs[0].as_str()).collect();
    out.graph
        .inputs
        .retain(|i| !cast_names.contains(i.name.as_str()));
    out.graph.initializers = inits;
    casts.extend(out.graph.nodes);
    out.graph.nodes = casts;
    out
}
