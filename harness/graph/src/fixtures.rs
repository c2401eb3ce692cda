//! Small models edgebench generates itself: the embedded default workload and test fixtures.
//!
//! Weights are deterministic (seeded), and every intermediate value has its shape in `value_info`, so backends that
//! need inferred shapes (wonnx) can run them.

use crate::dtype::DataType;
use crate::ir::*;
use std::collections::BTreeMap;

/// The names of the built-in fixtures.
pub const NAMES: &[&str] = &["tiny_mlp", "small_cnn", "attention_block"];

/// Builds a fixture by name.
pub fn build(name: &str) -> Option<Model> {
    Some(match name {
        "tiny_mlp" => tiny_mlp(),
        "small_cnn" => small_cnn(),
        "attention_block" => attention_block(),
        _ => return None,
    })
}

/// Builds graphs with shapes declared as they go.
#[derive(Debug)]
pub struct Builder {
    graph: Graph,
    rng: u64,
}

impl Builder {
    pub fn new(name: &str, seed: u64) -> Self {
        Builder {
            graph: Graph {
                name: name.into(),
                ..Default::default()
            },
            rng: seed,
        }
    }

    // splitmix64: a few lines, deterministic across platforms; pulling `rand` into the IR crate for this is not
    // worth it.
    fn next_f32(&mut self) -> f32 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    fn vi(name: &str, dtype: DataType, shape: &[i64]) -> ValueInfo {
        ValueInfo {
            name: name.into(),
            ty: Some(ValueType::Tensor {
                dtype,
                shape: Some(shape.iter().map(|d| Dim::Value(*d)).collect()),
            }),
            doc_string: String::new(),
            metadata: vec![],
        }
    }

    pub fn input(&mut self, name: &str, shape: &[i64]) -> String {
        self.graph
            .inputs
            .push(Self::vi(name, DataType::Float, shape));
        name.into()
    }

    pub fn output(&mut self, name: &str, shape: &[i64]) {
        self.graph
            .outputs
            .push(Self::vi(name, DataType::Float, shape));
    }

    /// A float32 weight, uniform in +-scale.
    pub fn weight(&mut self, name: &str, dims: &[i64], scale: f32) -> String {
        let n: i64 = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.next_f32() * scale).collect();
        self.graph
            .initializers
            .push(Tensor::from_f32(name, dims, &v));
        name.into()
    }

    pub fn const_i64(&mut self, name: &str, dims: &[i64], v: &[i64]) -> String {
        self.graph
            .initializers
            .push(Tensor::from_i64(name, dims, v));
        name.into()
    }

    /// Adds a node whose single output has the given shape (recorded in value_info unless it is a graph output).
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        shape: &[i64],
        attrs: Vec<Attribute>,
    ) -> String {
        self.graph.nodes.push(Node {
            name: format!("{op}_{}", self.graph.nodes.len()),
            op_type: op.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![out.into()],
            attributes: attrs,
            ..Default::default()
        });
        if !self.graph.outputs.iter().any(|o| o.name == out) {
            self.graph
                .value_info
                .push(Self::vi(out, DataType::Float, shape));
        }
        out.into()
    }

    /// Adds an initializer as it is (any type).
    pub fn initializer(&mut self, t: Tensor) -> String {
        let name = t.name().to_string();
        self.graph.initializers.push(t);
        name
    }

    /// Adds a node without recording its output's type (integer shape code, for instance).
    pub fn graph_node(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<Attribute>,
    ) -> String {
        self.graph.nodes.push(Node {
            name: format!("{op}_{}", self.graph.nodes.len()),
            op_type: op.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![out.into()],
            attributes: attrs,
            ..Default::default()
        });
        out.into()
    }

    pub fn finish(self, opset: i64) -> Model {
        Model {
            format: Format::Onnx,
            ir_version: 8,
            producer_name: "edgebench".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            domain: String::new(),
            model_version: 1,
            doc_string: String::new(),
            opset_imports: BTreeMap::from([(String::new(), opset)]),
            duplicate_imports: vec![],
            metadata: vec![],
            graph: self.graph,
            functions: vec![],
            training_info: vec![],
            configuration: vec![],
        }
    }
}

pub fn ints(name: &str, v: &[i64]) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Ints(v.to_vec()),
        doc_string: String::new(),
    }
}

pub fn int(name: &str, v: i64) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
        doc_string: String::new(),
    }
}

/// x[1,64] -> MatMul+Add -> Relu -> MatMul+Add -> Softmax: 10 classes.
pub fn tiny_mlp() -> Model {
    let mut b = Builder::new("tiny_mlp", 1);
    let x = b.input("x", &[1, 64]);
    b.output("probs", &[1, 10]);
    let w1 = b.weight("w1", &[64, 128], 0.125);
    let b1 = b.weight("b1", &[128], 0.1);
    let w2 = b.weight("w2", &[128, 10], 0.09);
    let b2 = b.weight("b2", &[10], 0.1);
    let h = b.node("MatMul", &[&x, &w1], "h0", &[1, 128], vec![]);
    let h = b.node("Add", &[&h, &b1], "h1", &[1, 128], vec![]);
    let h = b.node("Relu", &[&h], "h2", &[1, 128], vec![]);
    let h = b.node("MatMul", &[&h, &w2], "logits0", &[1, 10], vec![]);
    let h = b.node("Add", &[&h, &b2], "logits", &[1, 10], vec![]);
    b.node("Softmax", &[&h], "probs", &[1, 10], vec![int("axis", 1)]);
    b.finish(13)
}

/// x[1,3,32,32] -> Conv 3x3 -> Relu -> Conv 3x3 s2 -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax.
pub fn small_cnn() -> Model {
    let mut b = Builder::new("small_cnn", 2);
    let x = b.input("x", &[1, 3, 32, 32]);
    b.output("probs", &[1, 10]);
    let w1 = b.weight("conv1.w", &[8, 3, 3, 3], 0.19);
    let b1 = b.weight("conv1.b", &[8], 0.1);
    let w2 = b.weight("conv2.w", &[16, 8, 3, 3], 0.12);
    let b2 = b.weight("conv2.b", &[16], 0.1);
    let wf = b.weight("fc.w", &[16, 10], 0.25);
    let bf = b.weight("fc.b", &[10], 0.1);
    let k = || ints("kernel_shape", &[3, 3]);
    let h = b.node(
        "Conv",
        &[&x, &w1, &b1],
        "c1",
        &[1, 8, 32, 32],
        vec![k(), ints("pads", &[1, 1, 1, 1])],
    );
    let h = b.node("Relu", &[&h], "r1", &[1, 8, 32, 32], vec![]);
    let h = b.node(
        "Conv",
        &[&h, &w2, &b2],
        "c2",
        &[1, 16, 16, 16],
        vec![k(), ints("pads", &[1, 1, 1, 1]), ints("strides", &[2, 2])],
    );
    let h = b.node("Relu", &[&h], "r2", &[1, 16, 16, 16], vec![]);
    let h = b.node("GlobalAveragePool", &[&h], "gap", &[1, 16, 1, 1], vec![]);
    let h = b.node("Flatten", &[&h], "flat", &[1, 16], vec![int("axis", 1)]);
    let h = b.node("Gemm", &[&h, &wf, &bf], "logits", &[1, 10], vec![]);
    b.node("Softmax", &[&h], "probs", &[1, 10], vec![int("axis", 1)]);
    b.finish(13)
}

/// Single-head self-attention with a residual: x[1,16,32] -> q,k,v -> softmax(q k^T / sqrt(d)) v + x.
pub fn attention_block() -> Model {
    let mut b = Builder::new("attention_block", 3);
    let x = b.input("x", &[1, 16, 32]);
    b.output("y", &[1, 16, 32]);
    let wq = b.weight("wq", &[32, 32], 0.17);
    let wk = b.weight("wk", &[32, 32], 0.17);
    let wv = b.weight("wv", &[32, 32], 0.17);
    let scale = 1.0 / (32f32).sqrt();
    b.graph
        .initializers
        .push(Tensor::from_f32("scale", &[], &[scale]));
    let q = b.node("MatMul", &[&x, &wq], "q", &[1, 16, 32], vec![]);
    let k = b.node("MatMul", &[&x, &wk], "k", &[1, 16, 32], vec![]);
    let v = b.node("MatMul", &[&x, &wv], "v", &[1, 16, 32], vec![]);
    let kt = b.node(
        "Transpose",
        &[&k],
        "kt",
        &[1, 32, 16],
        vec![ints("perm", &[0, 2, 1])],
    );
    let s = b.node("MatMul", &[&q, &kt], "scores0", &[1, 16, 16], vec![]);
    let s = b.node("Mul", &[&s, "scale"], "scores", &[1, 16, 16], vec![]);
    let p = b.node(
        "Softmax",
        &[&s],
        "attn",
        &[1, 16, 16],
        vec![int("axis", -1)],
    );
    let o = b.node("MatMul", &[&p, &v], "ctx", &[1, 16, 32], vec![]);
    b.node("Add", &[&o, &x], "y", &[1, 16, 32], vec![]);
    b.finish(13)
}

/// A model with control flow, for tests: `y = If(cond) { Relu(x) } else { Neg(x) }`, then `z = Identity(y)`;
/// the branches read `x` from the enclosing graph. Inputs x[1,4] float32, cond bool scalar.
pub fn if_relu_neg() -> Model {
    let branch = |op: &str| {
        let mut b = Builder::new(op, 0);
        b.output(&format!("{op}_out"), &[1, 4]);
        b.node(op, &["x"], &format!("{op}_out"), &[1, 4], vec![]);
        b.finish(13).graph
    };
    let graph_attr = |name: &str, op: &str| Attribute {
        name: name.into(),
        value: AttrValue::Graph(Box::new(branch(op))),
        doc_string: String::new(),
    };
    let mut b = Builder::new("if_relu_neg", 0);
    b.input("x", &[1, 4]);
    b.output("z", &[1, 4]);
    let mut m = b.finish(13);
    m.graph.inputs.push(ValueInfo {
        name: "cond".into(),
        ty: Some(ValueType::Tensor {
            dtype: DataType::Bool,
            shape: Some(vec![]),
        }),
        doc_string: String::new(),
        metadata: vec![],
    });
    m.graph.nodes.push(Node {
        name: "if".into(),
        op_type: "If".into(),
        inputs: vec!["cond".into()],
        outputs: vec!["y".into()],
        attributes: vec![
            graph_attr("then_branch", "Relu"),
            graph_attr("else_branch", "Neg"),
        ],
        ..Default::default()
    });
    m.graph.nodes.push(Node {
        name: "id".into(),
        op_type: "Identity".into(),
        inputs: vec!["y".into()],
        outputs: vec!["z".into()],
        ..Default::default()
    });
    m
}
