//! Small builders and readers the rules share: nodes and attributes, the facts of a value, constant initializers
//! read as numbers.

use crate::Ctx;
use edgebench_graph::{
    AttrValue, Attribute, DataType, Dim, Model, Node, Tensor, ValueInfo, ValueType,
};

pub(crate) fn mk(
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

pub(crate) fn ints(name: &str, v: Vec<i64>) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Ints(v),
        doc_string: String::new(),
    }
}

pub(crate) fn int(name: &str, v: i64) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    }
}

pub(crate) fn float_attr(n: &Node, name: &str, default: f32) -> f32 {
    match n.attr(name) {
        Some(AttrValue::Float(f)) => *f,
        _ => default,
    }
}

pub(crate) fn is_output(m: &Model, v: &str) -> bool {
    m.graph.outputs.iter().any(|o| o.name == v)
}

pub(crate) fn fact<'a>(ctx: &'a Ctx, v: &str) -> Option<&'a (DataType, Vec<u64>)> {
    ctx.facts()?.get(v)
}

pub(crate) fn set_int_attr(n: &mut Node, name: &str, v: i64) {
    n.attributes.retain(|a| a.name != name);
    n.attributes.push(Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    });
}

pub(crate) fn tensor_vi(name: &str, dtype: DataType, shape: &[u64]) -> ValueInfo {
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

pub(crate) fn float_initializer<'a>(model: &'a Model, name: &str) -> Option<&'a Tensor> {
    model
        .graph
        .initializers
        .iter()
        .find(|t| t.name() == name && t.dtype() == DataType::Float)
}

pub(crate) fn f32_init(m: &Model, v: &str) -> Option<Vec<f32>> {
    m.graph.initializer(v)?.as_f32()
}

/// The values of an int64 initializer.
pub(crate) fn int64_values(model: &Model, name: &str) -> Option<Vec<i64>> {
    model.graph.initializer(name)?.as_i64()
}

/// The values of an int32 initializer, widened.
pub(crate) fn int32_values(m: &Model, v: &str) -> Option<Vec<i64>> {
    Some(
        m.graph
            .initializer(v)?
            .as_i32()?
            .into_iter()
            .map(i64::from)
            .collect(),
    )
}

/// The values of a constant int8/uint8/int32 tensor as f32.
pub(crate) fn ints_as_f32(t: &Tensor) -> Option<Vec<f32>> {
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

/// The value of a constant float scalar (or one-element tensor).
pub(crate) fn scalar_f32(m: &Model, v: &str) -> Option<f32> {
    f32_init(m, v).filter(|x| x.len() == 1).map(|x| x[0])
}
