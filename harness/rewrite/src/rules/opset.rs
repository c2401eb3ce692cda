//! **downgrade-opset**: a model whose default-domain opset is above what the target accepts (wonnx: Softmax only up
//! to opset 15; the table's `max_opset`) is translated down, node by node, between the attribute and input forms
//! ONNX moved ops between — Squeeze/Unsqueeze/ReduceSum (13), the other Reduce* (18), Split (13, `num_outputs` 18),
//! Clip and Pad (11) — and Softmax/LogSoftmax/Hardmax's opset-13 axis semantics (kept when the axis is the last one,
//! where old and new agree). A node whose op changed in a way not translated here, or did not exist yet at the
//! target opset, stops the rule (no partial translation is ever returned).

use crate::{Blocked, Ctx, Edit, Patch, Rule};
use edgebench_graph::{AttrValue, Attribute, Model, Node};

/// Ops whose definition changed between opsets 11 and 25 only by new element types (relabelling keeps them valid).
const TYPES_ONLY: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Cos",
    "DepthToSpace",
    "DequantizeLinear",
    "Div",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "HardSigmoid",
    "Identity",
    "InstanceNormalization",
    "IsNaN",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LRN",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pow",
    "PRelu",
    "QuantizeLinear",
    "Range",
    "Reciprocal",
    "Relu",
    "Reshape",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Sin",
    "Size",
    "Slice",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Sqrt",
    "Sub",
    "Sum",
    "Tanh",
    "Tile",
    "Transpose",
    "Where",
    "Xor",
    "Dropout",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
];

/// Ops introduced after opset 11, with the opset that introduced them.
const INTRODUCED: &[(&str, i64)] = &[
    ("HardSwish", 14),
    ("Trilu", 14),
    ("CastLike", 15),
    ("LayerNormalization", 17),
    ("GroupNormalization", 18),
    ("Mish", 18),
    ("Gelu", 20),
];

fn attr(name: &str, value: AttrValue) -> Attribute {
    Attribute {
        name: name.into(),
        value,
        doc_string: String::new(),
    }
}

/// Input `i` (a constant int64 tensor) becomes attribute `name`; `None` when it is not a constant.
fn input_to_ints(m: &Model, n: &mut Node, i: usize, name: &str) -> Option<()> {
    if let Some(v) = n.inputs.get(i).filter(|s| !s.is_empty()).cloned() {
        let vals = crate::build::int64_values(m, &v)?;
        n.attributes.push(attr(name, AttrValue::Ints(vals)));
    }
    n.inputs.truncate(i);
    Some(())
}

/// Translates one node from opset `from` down to `to`; `None` when it cannot be.
fn translate(
    m: &Model,
    n: &Node,
    from: i64,
    to: i64,
    rank_of: &dyn Fn(&str) -> Option<usize>,
) -> Option<Node> {
    let mut x = n.clone();
    let crosses = |v: i64| from >= v && to < v;
    let op = n.op_type.as_str();
    if let Some((_, v)) = INTRODUCED.iter().find(|(o, _)| *o == op) {
        return (*v <= to).then_some(x);
    }
    match op {
        "Squeeze" | "Unsqueeze" | "ReduceSum" if crosses(13) => {
            input_to_ints(m, &mut x, 1, "axes")?
        }
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1" | "ReduceL2"
        | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare"
            if crosses(18) =>
        {
            if n.attr_int("noop_with_empty_axes") == Some(1) {
                return None;
            }
            x.attributes.retain(|a| a.name != "noop_with_empty_axes");
            input_to_ints(m, &mut x, 1, "axes")?
        }
        "Split" => {
            if crosses(18) && n.attr_int("num_outputs").is_some() {
                return None; // sizes would need the input shape: not translated
            }
            if crosses(13) {
                input_to_ints(m, &mut x, 1, "split")?
            }
        }
        "Clip" if crosses(11) => {
            for (i, name) in [(1, "min"), (2, "max")] {
                if let Some(v) = n.inputs.get(i).filter(|s| !s.is_empty()) {
                    let f = crate::build::scalar_f32(m, v)?;
                    x.attributes.push(attr(name, AttrValue::Float(f)));
                }
            }
            x.inputs.truncate(1);
        }
        "Pad" => {
            if crosses(18) && n.inputs.get(3).is_some_and(|s| !s.is_empty()) {
                return None;
            }
            if crosses(11) {
                if let Some(v) = n.inputs.get(2).filter(|s| !s.is_empty()) {
                    let f = crate::build::scalar_f32(m, v)?;
                    x.attributes.push(attr("value", AttrValue::Float(f)));
                }
                input_to_ints(m, &mut x, 1, "pads")?;
            }
        }
        "Softmax" | "LogSoftmax" | "Hardmax" if crosses(13) => {
            // Before 13 the input is flattened to 2-D at `axis`: the same as 13's single axis only for the last one.
            let r = rank_of(n.inputs.first()?)? as i64;
            let a = n.attr_int("axis").unwrap_or(-1);
            let a = if a < 0 { a + r } else { a };
            if a != r - 1 {
                return None;
            }
            x.attributes.retain(|at| at.name != "axis");
            x.attributes.push(attr("axis", AttrValue::Int(a)));
        }
        "Reshape" if crosses(14) && n.attr_int("allowzero") == Some(1) => return None,
        "Shape" if crosses(15) && (n.attr("start").is_some() || n.attr("end").is_some()) => {
            return None;
        }
        "Squeeze" | "Unsqueeze" | "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin"
        | "ReduceProd" | "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp"
        | "ReduceSumSquare" | "Clip" | "Softmax" | "LogSoftmax" | "Hardmax" | "Reshape"
        | "Shape" => {}
        _ if TYPES_ONLY.contains(&op) => {}
        _ => return None,
    }
    Some(x)
}

/// The highest default-domain opset the target accepts for this model's ops: the table's `max_opset` and every
/// constraint's `max_opset` on an op the model uses.
fn target_opset(m: &Model, ctx: &Ctx) -> Option<i64> {
    let mut t = ctx.table.header.max_opset?;
    for n in &m.graph.nodes {
        for c in ctx.table.constraints(&n.domain, &n.op_type) {
            if let Some(v) = c.max_opset {
                t = t.min(v);
            }
        }
    }
    Some(t)
}

pub struct DowngradeOpset;

impl Rule for DowngradeOpset {
    fn name(&self) -> &'static str {
        "downgrade-opset"
    }
    /// The ops whose attributes and inputs it translates (the others keep their form, only the opset changes).
    fn touches(&self) -> &'static [&'static str] {
        &[
            "Squeeze",
            "Unsqueeze",
            "ReduceSum",
            "ReduceMean",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceSumSquare",
            "Split",
            "Clip",
            "Pad",
            "Softmax",
            "LogSoftmax",
            "Hardmax",
            "Reshape",
            "Shape",
        ]
    }
    fn whole(&self, m: &Model, blocked: &Blocked, ctx: &Ctx) -> Option<Patch> {
        if !blocked.kinds.contains("opset-out-of-range") {
            return None;
        }
        let from = m.opset("")?;
        let to = target_opset(m, ctx)?.max(11);
        if from <= to || m.graph.nodes.iter().any(|n| n.subgraphs().next().is_some()) {
            return None;
        }
        let rank_of = |v: &str| ctx.facts().and_then(|f| f.get(v)).map(|(_, s)| s.len());
        let mut edits = vec![];
        for (i, n) in m.graph.nodes.iter().enumerate() {
            if !n.domain.is_empty() {
                continue;
            }
            let t = translate(m, n, from, to, &rank_of)?;
            if t != *n {
                edits.push(Edit::Replace {
                    index: i,
                    with: vec![t],
                });
            }
        }
        edits.push(Edit::SetOpset {
            domain: String::new(),
            version: to,
        });
        Some(Patch {
            nodes: vec![format!("opset {from} -> {to}")],
            edits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_graph::fixtures::Builder;

    #[test]
    fn softmax_and_clip_translate_below_13_and_11() {
        let mut b = Builder::new("t", 1);
        let x = b.input("x", &[2, 3, 4]);
        b.output("y", &[2, 3, 4]);
        let lo = b.initializer(edgebench_graph::Tensor::from_f32("lo", &[], &[-1.0]));
        let hi = b.initializer(edgebench_graph::Tensor::from_f32("hi", &[], &[2.0]));
        let c = b.node("Clip", &[&x, &lo, &hi], "c", &[2, 3, 4], vec![]);
        b.node("Softmax", &[&c], "y", &[2, 3, 4], vec![]);
        let m = b.finish(13);
        let rank = |_: &str| Some(3usize);
        let clip = translate(&m, &m.graph.nodes[0], 13, 10, &rank).unwrap();
        assert_eq!(clip.inputs, ["x"]);
        assert!(matches!(clip.attr("min"), Some(AttrValue::Float(v)) if *v == -1.0));
        assert!(matches!(clip.attr("max"), Some(AttrValue::Float(v)) if *v == 2.0));
        // Default axis at 13 is -1, the last: the old form with axis 2 computes the same.
        let sm = translate(&m, &m.graph.nodes[1], 13, 12, &rank).unwrap();
        assert_eq!(sm.attr_int("axis"), Some(2));
        // Axis 1 of a rank-3 input: the old form would flatten [3, 4] together: refused.
        let mut other = m.graph.nodes[1].clone();
        other.attributes.push(attr("axis", AttrValue::Int(1)));
        assert!(translate(&m, &other, 13, 12, &rank).is_none());
        // An op that did not exist at the target opset is refused.
        let mut g = other.clone();
        g.op_type = "Gelu".into();
        assert!(translate(&m, &g, 20, 15, &rank).is_none());
    }
}

/// **drop-unused-imports**: opset imports of domains no node uses (at any depth), which some backends (wonnx) refuse.
pub struct DropUnusedImports;

impl Rule for DropUnusedImports {
    fn name(&self) -> &'static str {
        "drop-unused-imports"
    }
    fn whole(&self, m: &Model, _blocked: &Blocked, _ctx: &Ctx) -> Option<Patch> {
        let mut used = std::collections::HashSet::new();
        m.graph.walk(&mut |_, n| {
            used.insert(if n.domain == "ai.onnx" {
                String::new()
            } else {
                n.domain.clone()
            });
        });
        let unused: Vec<String> = m
            .opset_imports
            .keys()
            .filter(|d| !d.is_empty() && *d != "ai.onnx" && !used.contains(*d))
            .cloned()
            .collect();
        (!unused.is_empty()).then(|| Patch {
            nodes: unused.iter().map(|d| format!("import {d}")).collect(),
            edits: unused.into_iter().map(Edit::RemoveOpset).collect(),
        })
    }
}
