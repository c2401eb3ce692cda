//! Variants of a float32 model: fp16 (weights and compute), fp16 weights only, int8 with dynamic activation
//! quantization, int8 QDQ with calibrated activations. Pure graph transforms; running models (calibration) is the
//! caller's business through [`Observe`]. The quantization scheme is documented in `docs/variants.md`.

mod calibrate;
mod fp16;
mod int8;

pub use calibrate::{Method, Ranges, calibrate, entropy_threshold};
pub use fp16::{KEEP_FP32, to_fp16, to_fp16_weights};
pub use int8::{QuantOptions, to_int8_dynamic, to_int8_static};

use crate::Facts;
use edgebench_graph::{
    AttrValue, Attribute, DataType, Dim, Model, Node, Tensor, ValueInfo, ValueType,
};
use serde::Serialize;

/// A variant kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Weights and compute in fp16, fp32 inputs and outputs (Casts at the edges), [`KEEP_FP32`] ops kept in fp32.
    Fp16,
    /// Weights stored in fp16, cast to fp32 when the model loads; compute stays fp32.
    Fp16Weights,
    /// MatMul/Gemm/Conv weights int8 (per channel where the op allows), activations quantized at run time.
    Int8Dynamic,
    /// QDQ: weights int8 per channel, activations uint8 (or int8 when symmetric) with calibrated ranges.
    Int8Static,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Fp16,
        Kind::Fp16Weights,
        Kind::Int8Dynamic,
        Kind::Int8Static,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Fp16 => "fp16",
            Kind::Fp16Weights => "fp16-weights",
            Kind::Int8Dynamic => "int8-dynamic",
            Kind::Int8Static => "int8-static",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether making it needs calibration runs.
    pub fn needs_calibration(self) -> bool {
        self == Kind::Int8Static
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a variant could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("{0}")]
    Unsupported(String),
    #[error("calibration: {0}")]
    Calibration(String),
}

/// Runs a model on the calibration feeds and hands over every value of the named float outputs, feed after feed;
/// a named graph input is reported from the feed itself.
pub trait Observe {
    fn observe(
        &self,
        model: &Model,
        outputs: &[String],
        each: &mut dyn FnMut(&str, &[f32]),
    ) -> Result<(), String>;
}

/// Makes `kind` of `model`. `facts` (types and shapes of every value for the feed) decide which values are float;
/// `observe` runs the calibration (int8-static only).
pub fn make(
    model: &Model,
    kind: Kind,
    opts: &QuantOptions,
    facts: &Facts,
    observe: Option<&dyn Observe>,
) -> Result<Model, VariantError> {
    if let Some(why) = crate::invalid(model) {
        return Err(VariantError::Unsupported(format!(
            "the model is not valid ONNX: {why}"
        )));
    }
    let (prepared, _) = prepare(model);
    let model = &prepared;
    let mut m = match kind {
        Kind::Fp16 => to_fp16(model, facts)?,
        Kind::Fp16Weights => to_fp16_weights(model),
        Kind::Int8Dynamic => to_int8_dynamic(model, opts, facts)?,
        Kind::Int8Static => {
            let o = observe.ok_or_else(|| {
                VariantError::Calibration("int8-static needs calibration runs".into())
            })?;
            to_int8_static(model, opts, facts, o)?
        }
    };
    m.producer_name = "edgebench".into();
    m.producer_version = env!("CARGO_PKG_VERSION").into();
    m.doc_string = format!("{} variant of {}", kind, model.graph.name);
    Ok(m)
}

// ---- small graph helpers shared by the transforms ----

pub(crate) fn dtype_of(model: &Model, facts: &Facts, v: &str) -> Option<DataType> {
    if let Some(t) = model.graph.initializers.iter().find(|t| t.name() == v) {
        return Some(t.dtype());
    }
    if let Some((dt, _)) = facts.get(v) {
        return Some(*dt);
    }
    model
        .graph
        .inputs
        .iter()
        .chain(&model.graph.value_info)
        .find(|i| i.name == v)
        .and_then(|i| i.ty.as_ref()?.as_tensor().map(|(d, _)| d))
}

pub(crate) fn f32_values(t: &Tensor) -> Option<Vec<f32>> {
    t.as_f32()
}

pub(crate) fn node(
    op: &str,
    name: String,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<Attribute>,
) -> Node {
    Node {
        name,
        op_type: op.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        attributes: attrs,
        ..Default::default()
    }
}

pub(crate) fn int_attr(name: &str, v: i64) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    }
}

pub(crate) fn cast(name: String, from: &str, to: &str, dtype: DataType) -> Node {
    node(
        "Cast",
        name,
        &[from],
        &[to],
        vec![int_attr("to", dtype.code() as i64)],
    )
}

pub(crate) fn typed(name: &str, dtype: DataType, shape: Option<&Vec<u64>>) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        ty: Some(ValueType::Tensor {
            dtype,
            shape: shape.map(|s| s.iter().map(|d| Dim::Value(*d as i64)).collect()),
        }),
        doc_string: String::new(),
        metadata: vec![],
    }
}

/// A fresh value name derived from `base` that the graph does not use yet.
pub(crate) struct Names(std::collections::HashSet<String>);

impl Names {
    pub(crate) fn of(model: &Model) -> Names {
        let mut s = std::collections::HashSet::new();
        let g = &model.graph;
        s.extend(g.inputs.iter().map(|v| v.name.clone()));
        s.extend(g.outputs.iter().map(|v| v.name.clone()));
        s.extend(g.initializers.iter().map(|t| t.name().to_string()));
        for n in &g.nodes {
            s.extend(n.outputs.iter().cloned());
            s.insert(n.name.clone());
        }
        Names(s)
    }
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let mut n = base.to_string();
        let mut k = 1;
        while self.0.contains(&n) {
            n = format!("{base}_{k}");
            k += 1;
        }
        self.0.insert(n.clone());
        n
    }
}

/// Sets the default-domain opset to at least `v`'s requirement check: returns the model's default opset.
pub(crate) fn default_opset(model: &Model) -> i64 {
    model.opset("").unwrap_or(1)
}

/// Inference clean-up before a variant is made, applied to every node (not only blocked ones): Constant nodes
/// become initializers (so their weights are converted/quantized), Identity and Dropout go, BatchNormalization is
/// folded into the preceding Conv (so a Conv's output feeds its quantizer). Returns the model and the rules applied.
pub fn prepare(model: &Model) -> (Model, Vec<&'static str>) {
    use crate::rules::{ConstantToInitializer, EliminateDropout, EliminateIdentity, FoldBatchNorm};
    let Some(Ok(table)) = edgebench_compat::embedded("tract") else {
        return (model.clone(), vec![]);
    };
    let ctx = crate::Ctx::new(&table, None);
    let rules: [&dyn crate::Rule; 4] = [
        &ConstantToInitializer,
        &EliminateIdentity,
        &EliminateDropout,
        &FoldBatchNorm,
    ];
    let mut m = model.clone();
    crate::name_nodes(&mut m);
    let mut applied = vec![];
    // One patch at a time: chained Identities rename each other's values.
    'outer: loop {
        for r in rules {
            for i in 0..m.graph.nodes.len() {
                let n = &m.graph.nodes[i];
                if !n.domain.is_empty() || !r.ops().contains(&n.op_type.as_str()) {
                    continue;
                }
                if let Some(p) = r.node(&m, i, &ctx) {
                    p.apply(&mut m);
                    if !applied.contains(&r.name()) {
                        applied.push(r.name());
                    }
                    continue 'outer;
                }
            }
        }
        break;
    }
    (m, applied)
}
