//! int8 variants. Weights: int8, symmetric (zero point 0, scale = max |w| / 127 — the min-max symmetric case),
//! per output channel where the op allows it. Activations: uint8 asymmetric (scale = (max - min) / 255 over a range
//! that includes 0), or int8 symmetric with `symmetric_activations`. Biases of quantized Conv/Gemm: int32 with scale
//! = input scale x weight scale, zero point 0.

use super::{
    Method, Names, Observe, VariantError, calibrate, dtype_of, f32_values, int_attr, node, typed,
};
use crate::Facts;
use edgebench_graph::{DataType, Model, Node, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// How to quantize.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct QuantOptions {
    /// Weights per output channel (Conv axis 0, MatMul/Gemm the output column); per tensor otherwise.
    pub per_channel: bool,
    /// Activations int8 with zero point 0 instead of uint8 with a zero point.
    pub symmetric_activations: bool,
    pub method: Method,
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            per_channel: true,
            symmetric_activations: false,
            method: Method::Percentile { percentile: 99.99 },
        }
    }
}

/// Ops whose float inputs and outputs get Q/DQ pairs in the static variant (what onnxruntime fuses into integer
/// kernels, plus the shape ops between them so that the int8 data flows through).
pub const QDQ_OPS: &[&str] = &[
    "Conv",
    "MatMul",
    "Gemm",
    "Add",
    "Mul",
    "Concat",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Resize",
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
];

/// Symmetric int8 quantization of `w` (shape `dims`) along `axis` (None: one scale).
fn quantize_weight(w: &[f32], dims: &[i64], axis: Option<usize>) -> (Vec<i8>, Vec<f32>) {
    let channels = axis.map(|a| dims[a] as usize).unwrap_or(1).max(1);
    let inner: usize = axis
        .map(|a| dims[a + 1..].iter().product::<i64>() as usize)
        .unwrap_or(w.len());
    let channel_of = |i: usize| {
        if axis.is_some() {
            (i / inner.max(1)) % channels
        } else {
            0
        }
    };
    let mut maxabs = vec![0f32; channels];
    for (i, x) in w.iter().enumerate() {
        let c = channel_of(i);
        maxabs[c] = maxabs[c].max(x.abs());
    }
    let scales: Vec<f32> = maxabs
        .iter()
        .map(|m| if *m > 0.0 { m / 127.0 } else { 1.0 })
        .collect();
    let q = w
        .iter()
        .enumerate()
        .map(|(i, x)| (x / scales[channel_of(i)]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scales)
}

/// Scale and zero point of an activation range.
fn activation_params(lo: f32, hi: f32, symmetric: bool) -> (f32, i32) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if symmetric {
        let m = lo.abs().max(hi);
        (if m > 0.0 { m / 127.0 } else { 1.0 }, 0)
    } else {
        let s = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        (s, (-lo / s).round().clamp(0.0, 255.0) as i32)
    }
}

fn i8_tensor(name: &str, dims: &[i64], v: &[i8]) -> Tensor {
    Tensor::from_raw(
        name,
        DataType::Int8,
        dims,
        v.iter().map(|x| *x as u8).collect(),
    )
}

fn weight_axis(op: &str, n: &Node, rank: usize) -> Option<usize> {
    match (op, rank) {
        ("Conv", r) if r >= 3 => Some(0),
        ("MatMul", 2) => Some(1),
        ("Gemm", 2) => Some(if n.attr_int("transB") == Some(1) {
            0
        } else {
            1
        }),
        _ => None,
    }
}

struct Builder<'a> {
    model: &'a Model,
    names: Names,
    inits: Vec<Tensor>,
}

impl Builder<'_> {
    fn init(&mut self, base: &str, make: impl FnOnce(&str) -> Tensor) -> String {
        let n = self.names.fresh(base);
        self.inits.push(make(&n));
        n
    }
    fn initializer(&self, v: &str) -> Option<&Tensor> {
        self.model
            .graph
            .initializers
            .iter()
            .find(|t| t.name() == v && t.dtype() == DataType::Float)
    }
}

/// Dynamic quantization: MatMul and Gemm with constant 2-D weights become DynamicQuantizeLinear + MatMulInteger (int8
/// weights, per output column) + rescale; Conv with constant weights becomes DynamicQuantizeLinear + ConvInteger
/// (uint8 weights around zero point 128, per output channel scale) + rescale (+ bias).
pub fn to_int8_dynamic(
    model: &Model,
    opts: &QuantOptions,
    facts: &Facts,
) -> Result<Model, VariantError> {
    if super::default_opset(model) < 11 {
        return Err(VariantError::Unsupported(format!(
            "int8-dynamic needs opset >= 11 (DynamicQuantizeLinear); the model declares {}",
            super::default_opset(model)
        )));
    }
    let mut b = Builder {
        model,
        names: Names::of(model),
        inits: vec![],
    };
    let mut nodes = vec![];
    let mut touched = 0;
    for n in &model.graph.nodes {
        match dynamic_candidate(&b, n, facts) {
            Some((w, values, axis)) => {
                touched += 1;
                let mut q = DynamicSite::new(&mut b, n);
                q.quantize_input();
                if n.op_type == "Conv" {
                    q.conv_integer(&w, &values, opts)?;
                } else {
                    q.matmul_integer(&w, &values, axis, opts);
                }
                nodes.extend(q.nodes);
            }
            None => nodes.push(n.clone()),
        }
    }
    if touched == 0 {
        return Err(VariantError::Unsupported(
            "no MatMul, Gemm or Conv with constant float weights to quantize".into(),
        ));
    }
    let mut out = model.clone();
    out.graph.nodes = nodes;
    out.graph.initializers.extend(b.inits);
    crate::patch::drop_unused_initializers(&mut out.graph);
    Ok(out)
}

/// A node dynamic quantization takes: a default-domain MatMul, plain Gemm (no transA, alpha = beta = 1) or Conv
/// with a float input and constant float weights; its weight, their values and the weights' output axis.
fn dynamic_candidate(b: &Builder, n: &Node, facts: &Facts) -> Option<(Tensor, Vec<f32>, usize)> {
    let op = n.op_type.as_str();
    let x = n.inputs.first().cloned().unwrap_or_default();
    let plain_gemm = op != "Gemm"
        || (n.attr_int("transA").unwrap_or(0) == 0
            && n.attributes.iter().all(|a| match a.name.as_str() {
                "alpha" | "beta" => {
                    matches!(a.value, edgebench_graph::AttrValue::Float(f) if f == 1.0)
                }
                _ => true,
            }));
    if !(n.domain.is_empty()
        && matches!(op, "MatMul" | "Gemm" | "Conv")
        && dtype_of(b.model, facts, &x) == Some(DataType::Float)
        && plain_gemm)
    {
        return None;
    }
    let w = n.inputs.get(1).and_then(|w| b.initializer(w)).cloned()?;
    let values = f32_values(&w)?;
    let axis = weight_axis(op, n, w.dims().len())?;
    Some((w, values, axis))
}

/// One node being quantized dynamically: its input quantized by DynamicQuantizeLinear, an integer op, a cast back
/// to float and the rescale (+ bias) to the node's own output.
struct DynamicSite<'b, 'm> {
    b: &'b mut Builder<'m>,
    n: &'b Node,
    base: String,
    nodes: Vec<Node>,
    /// The quantized input, its scale and zero point.
    x: [String; 3],
}

impl<'b, 'm> DynamicSite<'b, 'm> {
    fn new(b: &'b mut Builder<'m>, n: &'b Node) -> Self {
        let base = if n.name.is_empty() {
            n.op_type.clone()
        } else {
            n.name.clone()
        };
        DynamicSite {
            b,
            n,
            base,
            nodes: vec![],
            x: Default::default(),
        }
    }

    fn fresh(&mut self, s: &str) -> String {
        self.b.names.fresh(&format!("{}__{s}", self.base))
    }

    fn push(&mut self, op: &str, name: &str, ins: &[&str], outs: &[&str]) {
        let name = self.fresh(name);
        self.nodes.push(node(op, name, ins, outs, vec![]));
    }

    fn quantize_input(&mut self) {
        let x = self.n.inputs.first().cloned().unwrap_or_default();
        self.x = [self.fresh("x_q"), self.fresh("x_scale"), self.fresh("x_zp")];
        let [q, s, z] = self.x.clone();
        self.push("DynamicQuantizeLinear", "dql", &[&x], &[&q, &s, &z]);
    }

    /// Conv → ConvInteger: uint8 weights, symmetric around zero point 128, per output channel scales.
    fn conv_integer(
        &mut self,
        w: &Tensor,
        values: &[f32],
        opts: &QuantOptions,
    ) -> Result<(), VariantError> {
        let dims = w.dims().to_vec();
        let (q, scales) = quantize_weight(values, &dims, opts.per_channel.then_some(0));
        let wq = self.b.init(&format!("{}__u8", w.name()), |nm| {
            Tensor::from_raw(
                nm,
                DataType::Uint8,
                &dims,
                q.iter().map(|v| (*v as i16 + 128) as u8).collect(),
            )
        });
        let wz = self.b.init(&format!("{}__zp", w.name()), |nm| {
            Tensor::from_raw(nm, DataType::Uint8, &[], vec![128])
        });
        let mut sdims = vec![1i64; dims.len()];
        sdims[1] = scales.len() as i64;
        let ws = self.b.init(&format!("{}__scale", w.name()), |nm| {
            Tensor::from_f32(nm, &sdims, &scales)
        });
        let yi = self.fresh("y_int32");
        let [xq, _, xz] = self.x.clone();
        let mut conv = self.n.clone();
        conv.name = self.fresh("conv_integer");
        conv.op_type = "ConvInteger".into();
        conv.inputs = vec![xq, wq, xz, wz];
        conv.outputs = vec![yi.clone()];
        self.nodes.push(conv);
        let bias = match self.n.inputs.get(2).filter(|s| !s.is_empty()) {
            Some(bias) => {
                let bias_t = self.b.initializer(bias).cloned().ok_or_else(|| {
                    VariantError::Unsupported(format!(
                        "Conv `{}`: bias `{bias}` is not a constant",
                        self.n.name
                    ))
                })?;
                let bv = f32_values(&bias_t).unwrap_or_default();
                let mut bdims = vec![1i64; dims.len()];
                bdims[1] = bv.len() as i64;
                Some(self.b.init(&format!("{bias}__nchw"), |nm| {
                    Tensor::from_f32(nm, &bdims, &bv)
                }))
            }
            None => None,
        };
        self.rescale(&yi, &ws, bias.as_deref());
        Ok(())
    }

    /// MatMul / Gemm → MatMulInteger: weights as [K, N] (Gemm's transB pre-applied), int8 per output column.
    fn matmul_integer(&mut self, w: &Tensor, values: &[f32], axis: usize, opts: &QuantOptions) {
        let dims = w.dims().to_vec();
        let (k, ncols) = (dims[0] as usize, dims[1] as usize);
        let (kn, kn_dims): (Vec<f32>, Vec<i64>) = if axis == 0 {
            let t = (0..ncols * k)
                .map(|i| values[(i % ncols) * k + i / ncols])
                .collect();
            (t, vec![dims[1], dims[0]])
        } else {
            (values.to_vec(), dims.clone())
        };
        let (q, scales) = quantize_weight(&kn, &kn_dims, opts.per_channel.then_some(1));
        let wq = self.b.init(&format!("{}__i8", w.name()), |nm| {
            i8_tensor(nm, &kn_dims, &q)
        });
        let zp = vec![0i8; scales.len()];
        let zdims: Vec<i64> = if scales.len() > 1 {
            vec![scales.len() as i64]
        } else {
            vec![]
        };
        let wz = self.b.init(&format!("{}__zp", w.name()), |nm| {
            i8_tensor(nm, &zdims, &zp)
        });
        let ws = self.b.init(&format!("{}__scale", w.name()), |nm| {
            Tensor::from_f32(nm, &zdims, &scales)
        });
        let yi = self.fresh("y_int32");
        let [xq, _, xz] = self.x.clone();
        self.push(
            "MatMulInteger",
            "matmul_integer",
            &[&xq, &wq, &xz, &wz],
            &[&yi],
        );
        let bias = (self.n.op_type == "Gemm")
            .then(|| self.n.inputs.get(2).filter(|s| !s.is_empty()).cloned())
            .flatten();
        self.rescale(&yi, &ws, bias.as_deref());
    }

    /// The integer result `yi` cast to float, times the input's and the weights' scales (`ws`), plus the bias: the
    /// node's own output.
    fn rescale(&mut self, yi: &str, ws: &str, bias: Option<&str>) {
        let y = self.n.outputs[0].clone();
        let yf = self.fresh("y_f32");
        let scale = self.fresh("y_scale");
        let cast = self.fresh("cast");
        self.nodes.push(super::cast(cast, yi, &yf, DataType::Float));
        let xs = self.x[1].clone();
        self.push("Mul", "scale_mul", &[&xs, ws], &[&scale]);
        match bias {
            Some(c) => {
                let scaled = self.fresh("y_scaled");
                self.push("Mul", "rescale", &[&yf, &scale], &[&scaled]);
                self.push("Add", "bias", &[&scaled, c], &[&y]);
            }
            None => self.push("Mul", "rescale", &[&yf, &scale], &[&y]),
        }
    }
}

/// Static quantization in QDQ form: every float activation read or written by a [`QDQ_OPS`] node (graph outputs
/// excepted) gets QuantizeLinear → DequantizeLinear right after its producer with the calibrated range; Conv, MatMul
/// and Gemm weights are stored int8 behind a DequantizeLinear, their biases int32.
pub fn to_int8_static(
    model: &Model,
    opts: &QuantOptions,
    facts: &Facts,
    observe: &dyn Observe,
) -> Result<Model, VariantError> {
    let opset = super::default_opset(model);
    if opset < 10 {
        return Err(VariantError::Unsupported(format!(
            "int8-static needs opset >= 10 (QuantizeLinear); the model declares {opset}"
        )));
    }
    // Per-axis QuantizeLinear/DequantizeLinear came with opset 13.
    let per_channel = opts.per_channel && opset >= 13;
    let g = &model.graph;
    let acts = static_activations(model, facts);
    if acts.is_empty() {
        return Err(VariantError::Unsupported(
            "no float activation of a quantizable op (Conv, MatMul, Gemm, Add, ...) to quantize"
                .into(),
        ));
    }
    let ranges = calibrate(model, &acts, facts, observe, opts.method)?;
    let mut b = Builder {
        model,
        names: Names::of(model),
        inits: vec![],
    };
    let act_dtype = if opts.symmetric_activations {
        DataType::Int8
    } else {
        DataType::Uint8
    };
    // activation -> (dequantized name, scale)
    let mut dq: HashMap<String, (String, f32)> = HashMap::new();
    let mut qdq_nodes: HashMap<String, Vec<Node>> = HashMap::new();
    for v in &acts {
        let (lo, hi) = ranges[v];
        let (scale, zp) = activation_params(lo, hi, opts.symmetric_activations);
        let s = b.init(&format!("{v}__scale"), |nm| {
            Tensor::from_f32(nm, &[], &[scale])
        });
        let z = b.init(&format!("{v}__zp"), |nm| {
            Tensor::from_raw(nm, act_dtype, &[], vec![zp as i8 as u8])
        });
        let q = b.names.fresh(&format!("{v}__q"));
        let d = b.names.fresh(&format!("{v}__dq"));
        let nodes = vec![
            node(
                "QuantizeLinear",
                b.names.fresh(&format!("{v}__quantize")),
                &[v, &s, &z],
                &[&q],
                vec![],
            ),
            node(
                "DequantizeLinear",
                b.names.fresh(&format!("{v}__dequantize")),
                &[&q, &s, &z],
                &[&d],
                vec![],
            ),
        ];
        qdq_nodes.insert(v.clone(), nodes);
        dq.insert(v.clone(), (d, scale));
    }
    // Weights (shared initializers quantized once) and biases.
    let mut weights: HashMap<String, (String, Vec<f32>)> = HashMap::new();
    let mut nodes: Vec<Node> = vec![];
    for v in g.inputs.iter().filter_map(|i| qdq_nodes.remove(&i.name)) {
        nodes.extend(v);
    }
    for n in &g.nodes {
        let mut n2 = n.clone();
        for inp in n2.inputs.iter_mut() {
            if let Some((d, _)) = dq.get(inp.as_str()) {
                *inp = d.clone();
            }
        }
        let op = n.op_type.as_str();
        let weight = n
            .inputs
            .get(1)
            .filter(|_| n.domain.is_empty() && matches!(op, "Conv" | "MatMul" | "Gemm"))
            .and_then(|w| b.initializer(w))
            .cloned();
        let x_scale = n.inputs.first().and_then(|x| dq.get(x)).map(|(_, s)| *s);
        if let (Some(w), Some(x_scale)) = (weight, x_scale) {
            let dims = w.dims().to_vec();
            if let (Some(axis), Some(values)) = (weight_axis(op, n, dims.len()), f32_values(&w)) {
                let axis_used = per_channel.then_some(axis);
                let (wd, scales) = match weights.get(w.name()) {
                    Some(x) => x.clone(),
                    None => {
                        let x = dequantized_weight(&mut b, &w, &values, axis_used, &mut nodes);
                        weights.insert(w.name().to_string(), x.clone());
                        x
                    }
                };
                n2.inputs[1] = wd;
                // Bias: int32 at input scale x weight scale, when it is a constant of one value per channel.
                let bias = n
                    .inputs
                    .get(2)
                    .filter(|s| !s.is_empty())
                    .and_then(|c| b.initializer(c))
                    .cloned();
                if let Some(bias) = bias
                    && let Some(bd) =
                        int32_bias(&mut b, n, &bias, x_scale, &scales, per_channel, &mut nodes)
                {
                    n2.inputs[2] = bd;
                }
            }
        }
        let outs: Vec<String> = n.outputs.clone();
        nodes.push(n2);
        for o in outs {
            if let Some(x) = qdq_nodes.remove(&o) {
                nodes.extend(x);
            }
        }
    }
    let mut out = model.clone();
    out.graph.nodes = nodes;
    out.graph.initializers.extend(b.inits);
    // The new values' types, for backends that want every value declared.
    for (v, (d, _)) in &dq {
        let shape = facts.get(v).map(|(_, s)| s);
        out.graph.value_info.push(typed(d, DataType::Float, shape));
        out.graph
            .value_info
            .push(typed(&format!("{v}__q"), act_dtype, shape));
    }
    crate::patch::drop_unused_initializers(&mut out.graph);
    Ok(out)
}

/// The float activations static quantization wraps in QuantizeLinear → DequantizeLinear: the data inputs and the
/// first output of every [`QDQ_OPS`] node, except initializers and graph outputs, each once, in graph order.
fn static_activations(model: &Model, facts: &Facts) -> Vec<String> {
    let g = &model.graph;
    let inits: HashSet<&str> = g.initializers.iter().map(|t| t.name()).collect();
    let graph_outputs: HashSet<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
    let is_float = |v: &str| dtype_of(model, facts, v) == Some(DataType::Float);
    let mut acts: Vec<String> = vec![];
    let mut seen = HashSet::new();
    for n in g
        .nodes
        .iter()
        .filter(|n| n.domain.is_empty() && QDQ_OPS.contains(&n.op_type.as_str()))
    {
        let data_inputs: Vec<&String> = match n.op_type.as_str() {
            "Conv" | "Gemm" => n.inputs.iter().take(1).collect(),
            "MatMul" | "Add" | "Mul" | "Concat" => n.inputs.iter().collect(),
            _ => n.inputs.iter().take(1).collect(),
        };
        for v in data_inputs.into_iter().chain(n.outputs.iter().take(1)) {
            if !v.is_empty()
                && !inits.contains(v.as_str())
                && !graph_outputs.contains(v.as_str())
                && is_float(v)
                && seen.insert(v.clone())
            {
                acts.push(v.clone());
            }
        }
    }
    acts
}

/// Weight `w` stored int8 (per `axis`, or per tensor) behind a DequantizeLinear appended to `nodes`: the
/// dequantized value's name and the scales.
fn dequantized_weight(
    b: &mut Builder,
    w: &Tensor,
    values: &[f32],
    axis_used: Option<usize>,
    nodes: &mut Vec<Node>,
) -> (String, Vec<f32>) {
    let dims = w.dims().to_vec();
    let (q, scales) = quantize_weight(values, &dims, axis_used);
    let wq = b.init(&format!("{}__i8", w.name()), |nm| i8_tensor(nm, &dims, &q));
    let sd: Vec<i64> = if axis_used.is_some() {
        vec![scales.len() as i64]
    } else {
        vec![]
    };
    let ws = b.init(&format!("{}__scale", w.name()), |nm| {
        Tensor::from_f32(nm, &sd, &scales)
    });
    let wz = b.init(&format!("{}__zp", w.name()), |nm| {
        i8_tensor(nm, &sd, &vec![0; scales.len()])
    });
    let wd = b.names.fresh(&format!("{}__dq", w.name()));
    let attrs = axis_used
        .map(|a| vec![int_attr("axis", a as i64)])
        .unwrap_or_default();
    nodes.push(node(
        "DequantizeLinear",
        b.names.fresh(&format!("{}__dequantize", w.name())),
        &[&wq, &ws, &wz],
        &[&wd],
        attrs,
    ));
    (wd, scales)
}

/// Bias `bias` of node `n` stored int32 at input scale x weight scale behind a DequantizeLinear appended to `nodes`,
/// when it is a constant of one value per channel: the dequantized value's name.
#[allow(clippy::too_many_arguments)]
fn int32_bias(
    b: &mut Builder,
    n: &Node,
    bias: &Tensor,
    x_scale: f32,
    scales: &[f32],
    per_channel: bool,
    nodes: &mut Vec<Node>,
) -> Option<String> {
    let bv = f32_values(bias).unwrap_or_default();
    let fits = bias.dims().len() == 1 && (scales.len() == 1 || scales.len() == bv.len());
    if fits && !bv.is_empty() {
        let bs: Vec<f32> = (0..bv.len())
            .map(|i| x_scale * scales[if scales.len() == 1 { 0 } else { i }])
            .collect();
        let bq: Vec<u8> = bv
            .iter()
            .zip(&bs)
            .flat_map(|(v, s)| {
                ((v / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).to_le_bytes()
            })
            .collect();
        let bdims = bias.dims().to_vec();
        let base = format!("{}__{}", bias.name(), n.name);
        let bqn = b.init(&format!("{base}__i32"), |nm| {
            Tensor::from_raw(nm, DataType::Int32, &bdims, bq)
        });
        let sd: Vec<i64> = if per_channel {
            vec![bs.len() as i64]
        } else {
            vec![]
        };
        let sv: Vec<f32> = if per_channel { bs.clone() } else { vec![bs[0]] };
        let bsn = b.init(&format!("{base}__scale"), |nm| {
            Tensor::from_f32(nm, &sd, &sv)
        });
        let zero = vec![0u8; 4 * sv.len()];
        let bzn = b.init(&format!("{base}__zp"), |nm| {
            Tensor::from_raw(nm, DataType::Int32, &sd, zero)
        });
        let bd = b.names.fresh(&format!("{base}__dq"));
        let attrs = per_channel
            .then(|| vec![int_attr("axis", 0)])
            .unwrap_or_default();
        nodes.push(node(
            "DequantizeLinear",
            b.names.fresh(&format!("{base}__dequantize")),
            &[&bqn, &bsn, &bzn],
            &[&bd],
            attrs,
        ));
        Some(bd)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_weights_map_max_abs_to_127() {
        let (q, s) = quantize_weight(&[0.5, -1.0, 0.25, 2.0], &[2, 2], Some(0));
        assert_eq!(s, vec![1.0 / 127.0, 2.0 / 127.0]);
        assert_eq!(q, vec![64, -127, 16, 127]);
        let (q, s) = quantize_weight(&[0.5, -1.0, 0.25, 2.0], &[2, 2], None);
        assert_eq!(s, vec![2.0 / 127.0]);
        assert_eq!(q[3], 127);
    }

    #[test]
    fn activation_ranges_include_zero() {
        let (s, z) = activation_params(1.0, 3.0, false);
        assert!((s - 3.0 / 255.0).abs() < 1e-9);
        assert_eq!(z, 0);
        let (s, z) = activation_params(-1.0, 1.0, false);
        assert!((s - 2.0 / 255.0).abs() < 1e-9);
        assert!((127..=128).contains(&z), "{z}"); // 127.5 in exact arithmetic
        let (s, z) = activation_params(-2.0, 1.0, true);
        assert!((s - 2.0 / 127.0).abs() < 1e-9);
        assert_eq!(z, 0);
    }
}
