//! What `inspect` reports: node and op counts (subgraphs included), parameters, and a FLOP estimate.

use crate::ir::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Concrete shapes of named values, from any source (model annotations, a feed, a backend's inference).
#[derive(Clone, Debug, Default)]
pub struct ShapeMap(pub HashMap<String, Vec<u64>>);

impl ShapeMap {
    /// Every fully static shape the model itself states: graph inputs (after `overrides`), outputs, value_info and
    /// initializers, in all graphs.
    pub fn from_model(model: &Model, overrides: &HashMap<String, Vec<u64>>) -> Self {
        let mut m = HashMap::new();
        model.graph.walk_graphs(&mut |_, g| {
            for v in g.inputs.iter().chain(&g.outputs).chain(&g.value_info) {
                if let Some((_, Some(dims))) = v.ty.as_ref().and_then(ValueType::as_tensor) {
                    if let Some(s) = dims.iter().map(Dim::value).collect::<Option<Vec<u64>>>() {
                        m.insert(v.name.clone(), s);
                    }
                }
            }
            for t in &g.initializers {
                m.insert(
                    t.name().to_string(),
                    t.dims().iter().map(|d| (*d).max(0) as u64).collect(),
                );
            }
            for n in &g.nodes {
                if n.op_type == "Constant" && n.domain.is_empty() {
                    if let (Some(AttrValue::Tensor(t)), Some(out)) =
                        (n.attr("value"), n.outputs.first())
                    {
                        m.insert(
                            out.clone(),
                            t.dims().iter().map(|d| (*d).max(0) as u64).collect(),
                        );
                    }
                }
            }
        });
        for (k, v) in overrides {
            m.insert(k.clone(), v.clone());
        }
        ShapeMap(m)
    }

    /// Adds shapes not already known.
    pub fn extend_missing(&mut self, other: HashMap<String, Vec<u64>>) {
        for (k, v) in other {
            self.0.entry(k).or_insert(v);
        }
    }

    pub fn get(&self, name: &str) -> Option<&[u64]> {
        self.0.get(name).map(Vec::as_slice)
    }
}

/// Parameter count and bytes of one dtype.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ParamStats {
    pub tensors: u64,
    pub elements: u64,
    pub bytes: u64,
}

/// Multiply-accumulates of the ops we can estimate, and what we could not.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FlopEstimate {
    /// MACs per op type (Conv, ConvTranspose, Gemm, MatMul).
    pub macs_by_op: BTreeMap<String, u64>,
    pub total_macs: u64,
    /// 2 x MACs.
    pub total_flops: u64,
    /// Nodes of those op types whose shapes were not known, by name.
    pub unknown_shape_nodes: Vec<String>,
    /// Counted nodes that sit inside If/Loop/Scan bodies (a Loop body runs per iteration, an If branch maybe never;
    /// each is counted once).
    pub nodes_in_subgraphs: usize,
}

/// The facts `inspect` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub ir_version: i64,
    pub producer: String,
    pub opset_imports: BTreeMap<String, i64>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    /// Nodes in the main graph only.
    pub main_graph_nodes: usize,
    /// Nodes at every depth.
    pub total_nodes: usize,
    pub subgraphs: usize,
    /// `op` for the default domain, `domain::op` otherwise; counts every depth.
    pub op_histogram: BTreeMap<String, usize>,
    /// Initializers and Constant-node values, at every depth, by dtype name.
    pub params_by_dtype: BTreeMap<String, ParamStats>,
    pub total_params: u64,
    pub total_param_bytes: u64,
    pub external_data_tensors: usize,
    pub flops: FlopEstimate,
}

/// The op key used in histograms.
pub fn op_key(n: &Node) -> String {
    if n.domain.is_empty() {
        n.op_type.clone()
    } else {
        format!("{}::{}", n.domain, n.op_type)
    }
}

/// Summarises a model; `shapes` feeds the FLOP estimate.
pub fn summarize(model: &Model, shapes: &ShapeMap) -> Summary {
    let mut op_histogram = BTreeMap::new();
    let mut total_nodes = 0;
    model.graph.walk(&mut |_, n| {
        total_nodes += 1;
        *op_histogram.entry(op_key(n)).or_insert(0) += 1;
    });
    let mut subgraphs = 0usize;
    let mut params: BTreeMap<String, ParamStats> = BTreeMap::new();
    let mut external = 0;
    let mut add = |t: &Tensor| {
        let p = params.entry(t.dtype().name()).or_default();
        p.tensors += 1;
        p.elements = p.elements.saturating_add(t.numel());
        p.bytes = p.bytes.saturating_add(t.nbytes());
    };
    model.graph.walk_graphs(&mut |scope, g| {
        if !scope.is_main() {
            subgraphs += 1;
        }
        for t in &g.initializers {
            if t.external.is_some() {
                external += 1;
            }
            add(t);
        }
        for n in &g.nodes {
            if n.op_type == "Constant" && n.domain.is_empty() {
                if let Some(AttrValue::Tensor(t)) = n.attr("value") {
                    add(t);
                }
            }
        }
    });
    let total_params = params
        .values()
        .fold(0u64, |a, p| a.saturating_add(p.elements));
    let total_param_bytes = params.values().fold(0u64, |a, p| a.saturating_add(p.bytes));
    Summary {
        ir_version: model.ir_version,
        producer: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        opset_imports: model
            .opset_imports
            .iter()
            .map(|(d, v)| {
                (
                    if d.is_empty() {
                        "ai.onnx".into()
                    } else {
                        d.clone()
                    },
                    *v,
                )
            })
            .collect(),
        inputs: model.graph.runtime_inputs().into_iter().cloned().collect(),
        outputs: model.graph.outputs.clone(),
        main_graph_nodes: model.graph.nodes.len(),
        total_nodes,
        subgraphs,
        op_histogram,
        params_by_dtype: params,
        total_params,
        total_param_bytes,
        external_data_tensors: external,
        flops: estimate_flops(model, shapes),
    }
}

/// MACs of Conv, ConvTranspose, Gemm and MatMul nodes (and TFLite's CONV_2D, DEPTHWISE_CONV_2D,
/// FULLY_CONNECTED, BATCH_MATMUL, TRANSPOSE_CONV) whose shapes are known.
pub fn estimate_flops(model: &Model, shapes: &ShapeMap) -> FlopEstimate {
    let mut est = FlopEstimate::default();
    model.graph.walk(&mut |scope, n| {
        let Some(macs) = mac_op(n, shapes) else {
            return;
        };
        if !scope.is_main() {
            est.nodes_in_subgraphs += 1;
        }
        match macs {
            Some(m) => {
                let e = est.macs_by_op.entry(n.op_type.clone()).or_insert(0);
                *e = e.saturating_add(m);
                est.total_macs = est.total_macs.saturating_add(m);
            }
            None => est.unknown_shape_nodes.push(n.name.clone()),
        }
    });
    est.total_flops = est.total_macs.saturating_mul(2);
    est
}

/// FLOPs of one node from its shapes: 2 x MACs for Conv, ConvTranspose, Gemm and MatMul; one per output element for
/// element-wise ops and activations; `None` for other ops or unknown shapes (never a guess).
pub fn node_flops(n: &Node, shapes: &ShapeMap) -> Option<u64> {
    if let Some(macs) = mac_op(n, shapes) {
        return macs?.checked_mul(2);
    }
    let elementwise = if is_tflite(n) {
        TFLITE_ELEMENTWISE
    } else if n.domain.is_empty() {
        ELEMENTWISE
    } else {
        return None;
    };
    elementwise
        .contains(&n.op_type.as_str())
        .then(|| prod(output(n, shapes)?))
        .flatten()
}

fn is_tflite(n: &Node) -> bool {
    n.domain == crate::tflite::DOMAIN || n.domain == crate::tflite::CUSTOM_DOMAIN
}

/// `Some(MACs)` for the multiply-accumulate ops (ONNX Conv, ConvTranspose, Gemm, MatMul; their TFLite
/// counterparts), the inner `None` when their shapes are not known; `None` for every other op.
fn mac_op(n: &Node, s: &ShapeMap) -> Option<Option<u64>> {
    if is_tflite(n) {
        return tflite_macs(n, s);
    }
    if !n.domain.is_empty() {
        return None;
    }
    Some(match n.op_type.as_str() {
        "Conv" => conv_macs(n, s),
        "ConvTranspose" => conv_transpose_macs(n, s),
        "Gemm" => gemm_macs(n, s),
        "MatMul" | "MatMulInteger" => matmul_macs(n, s),
        _ => return None,
    })
}

/// Ops counted as one FLOP per output element by [`node_flops`].
const ELEMENTWISE: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Neg",
    "Abs",
    "Sqrt",
    "Reciprocal",
    "Exp",
    "Log",
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Erf",
    "Clip",
    "Elu",
    "Selu",
    "Softplus",
    "Gelu",
    "Mish",
    "Swish",
    "Where",
    "Equal",
    "Less",
    "Greater",
    "Not",
    "And",
    "Or",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Sin",
    "Cos",
    "BatchNormalization",
];

/// TFLite layouts: activations NHWC, convolution weights [O, KH, KW, I], depthwise [1, KH, KW, O],
/// fully-connected [O, I].
fn tflite_macs(n: &Node, s: &ShapeMap) -> Option<Option<u64>> {
    let dw = || {
        let w = input(n, s, 1)?;
        if w.len() != 4 {
            return None;
        }
        prod(output(n, s)?)?.checked_mul(w[1].checked_mul(w[2])?)
    };
    // TRANSPOSE_CONV's inputs: output shape, weights, activations; MediaPipe's custom
    // Convolution2DTransposeBias: activations, weights, bias.
    let transpose = |x: usize| prod(input(n, s, x)?)?.checked_mul(prod(input(n, s, 1)?.get(..3)?)?);
    Some(match n.op_type.as_str() {
        "CONV_2D" => conv_macs(n, s),
        "DEPTHWISE_CONV_2D" => dw(),
        "FULLY_CONNECTED" => (|| prod(output(n, s)?)?.checked_mul(*input(n, s, 1)?.last()?))(),
        "BATCH_MATMUL" => matmul_macs(n, s),
        "TRANSPOSE_CONV" => transpose(2),
        "Convolution2DTransposeBias" => transpose(0),
        _ => return None,
    })
}

const TFLITE_ELEMENTWISE: &[&str] = &[
    "ADD",
    "SUB",
    "MUL",
    "DIV",
    "POW",
    "MAXIMUM",
    "MINIMUM",
    "NEG",
    "ABS",
    "SQRT",
    "RSQRT",
    "EXP",
    "LOG",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RELU_0_TO_1",
    "LEAKY_RELU",
    "PRELU",
    "LOGISTIC",
    "HARD_SWISH",
    "TANH",
    "ELU",
    "GELU",
    "SQUARE",
    "SQUARED_DIFFERENCE",
    "FLOOR",
    "CEIL",
    "ROUND",
    "SIN",
    "COS",
];

/// The product of dims, or None when it overflows (a declared size that cannot be real: the MACs are unknown).
fn prod(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d))
}

fn input<'a>(n: &Node, shapes: &'a ShapeMap, i: usize) -> Option<&'a [u64]> {
    n.inputs
        .get(i)
        .filter(|s| !s.is_empty())
        .and_then(|s| shapes.get(s))
}

fn output<'a>(n: &Node, shapes: &'a ShapeMap) -> Option<&'a [u64]> {
    n.outputs.first().and_then(|s| shapes.get(s))
}

fn conv_macs(n: &Node, s: &ShapeMap) -> Option<u64> {
    let w = input(n, s, 1)?; // [M, C/g, k...]
    let y = output(n, s)?; // [N, M, out...]
    if w.len() < 2 || y.len() != w.len() {
        return None;
    }
    prod(y)?.checked_mul(prod(&w[1..])?)
}

fn conv_transpose_macs(n: &Node, s: &ShapeMap) -> Option<u64> {
    let x = input(n, s, 0)?; // [N, C, in...]
    let w = input(n, s, 1)?; // [C, M/g, k...]
    if w.len() < 2 || x.len() != w.len() {
        return None;
    }
    prod(x)?.checked_mul(prod(&w[1..])?)
}

fn gemm_macs(n: &Node, s: &ShapeMap) -> Option<u64> {
    let a = input(n, s, 0)?;
    let b = input(n, s, 1)?;
    if a.len() != 2 || b.len() != 2 {
        return None;
    }
    let (m, k) = if n.attr_int("transA").unwrap_or(0) != 0 {
        (a[1], a[0])
    } else {
        (a[0], a[1])
    };
    let nn = if n.attr_int("transB").unwrap_or(0) != 0 {
        b[0]
    } else {
        b[1]
    };
    m.checked_mul(k)?.checked_mul(nn)
}

fn matmul_macs(n: &Node, s: &ShapeMap) -> Option<u64> {
    let a = input(n, s, 0)?;
    let y = output(n, s)?;
    let k = *a.last()?;
    // Output elements x K covers broadcasting and 1-D operands alike.
    prod(y)?.max(1).checked_mul(k)
}
