//! The rewrite rules, `simplify` and the variant transforms on small structured models of the ops they rewrite, with
//! the kinds of values real broken files hold: duplicate and out-of-range axes, negative and huge dims, empty
//! tensors, missing or extra inputs and outputs, odd attributes. Every rule is asked about every node (and the
//! whole model) with and without shape facts, as the driver would ask it, and every patch is applied. Nothing may
//! panic.
#![no_main]
use arbitrary::Arbitrary;
use edgebench_graph::fixtures::Builder;
use edgebench_graph::{AttrValue, Attribute, DataType, Model, Tensor};
use edgebench_rewrite::{Blocked, Ctx, Facts, registry, variants};

/// Ops the rules key on or fold.
const OPS: &[&str] = &[
    "Squeeze", "Unsqueeze", "Gemm", "BatchNormalization", "Conv", "MatMul", "Reshape", "Transpose", "Slice",
    "Expand", "Cast", "Identity", "Dropout", "Constant", "ConstantOfShape", "HardSwish", "HardSigmoid", "Max",
    "Min", "LayerNormalization", "Softplus", "Mish", "Sum", "Pow", "GlobalMaxPool", "Clip", "Flatten", "Gather",
    "Equal", "Mul", "Add", "DequantizeLinear", "Shape", "Size", "Concat", "Range", "Where", "Split", "Softmax",
    "ReduceSum", "ReduceMean", "Pad", "OneHot",
];

#[derive(Arbitrary, Debug)]
struct Init {
    dims: Vec<i8>,
    int64: bool,
    /// Bytes of data kept (the rest of what the dims imply is cut; more is padded).
    bytes: u8,
    values: Vec<i16>,
}

#[derive(Arbitrary, Debug)]
struct N {
    op: u8,
    /// Each input: a graph input, an initializer, an earlier node's output, or empty.
    inputs: Vec<u8>,
    outputs: u8,
    ints: Vec<(u8, Vec<i8>)>,
    int: Vec<(u8, i8)>,
    float: Option<f32>,
}

#[derive(Arbitrary, Debug)]
struct Case {
    opset: u8,
    input_dims: Vec<i8>,
    inits: Vec<Init>,
    nodes: Vec<N>,
    /// Shape facts for every value (each value's dims from this list, cycled), or none.
    facts: Option<Vec<u8>>,
}

const ATTRS: &[&str] = &[
    "axes", "axis", "perm", "transA", "transB", "to", "keepdims", "starts", "ends", "split", "pads", "epsilon",
    "alpha", "beta", "value", "num_outputs", "noop_with_empty_axes", "allowzero",
];

fn init(i: usize, x: &Init) -> Tensor {
    let dims: Vec<i64> = x.dims.iter().take(4).map(|d| *d as i64).collect();
    let numel: i64 = dims.iter().map(|d| (*d).max(0)).product::<i64>().min(4096);
    let width = if x.int64 { 8 } else { 4 };
    let want = (numel as usize * width).min(x.bytes as usize * width);
    let mut raw = Vec::with_capacity(want);
    for k in 0..want / width {
        let v = x.values.get(k % x.values.len().max(1)).copied().unwrap_or(1);
        if x.int64 {
            raw.extend_from_slice(&(v as i64).to_le_bytes());
        } else {
            raw.extend_from_slice(&(v as f32 / 16.0).to_le_bytes());
        }
    }
    let dt = if x.int64 { DataType::Int64 } else { DataType::Float };
    Tensor::from_raw(&format!("w{i}"), dt, &dims, raw)
}

fn model(c: &Case) -> Model {
    let mut b = Builder::new("fuzz", 0);
    let dims: Vec<i64> = c.input_dims.iter().take(4).map(|d| (*d as i64).clamp(-1, 64)).collect();
    b.input("x", &dims);
    let mut values = vec!["x".to_string()];
    for (i, x) in c.inits.iter().take(6).enumerate() {
        values.push(b.initializer(init(i, x)));
    }
    let mut m = b.finish(7 + (c.opset % 16) as i64);
    let mut last = "x".to_string();
    for (i, n) in c.nodes.iter().take(6).enumerate() {
        let op = OPS[n.op as usize % OPS.len()];
        let inputs: Vec<String> = n
            .inputs
            .iter()
            .take(5)
            .map(|k| match *k as usize % (values.len() + 1) {
                j if j == values.len() => String::new(),
                j => values[j].clone(),
            })
            .collect();
        let outputs: Vec<String> = (0..(n.outputs % 3)).map(|k| format!("n{i}_{k}")).collect();
        let mut attributes: Vec<Attribute> = n
            .ints
            .iter()
            .take(3)
            .map(|(k, v)| Attribute {
                name: ATTRS[*k as usize % ATTRS.len()].into(),
                value: AttrValue::Ints(v.iter().take(6).map(|x| *x as i64).collect()),
                doc_string: String::new(),
            })
            .collect();
        attributes.extend(n.int.iter().take(3).map(|(k, v)| Attribute {
            name: ATTRS[*k as usize % ATTRS.len()].into(),
            value: AttrValue::Int(*v as i64),
            doc_string: String::new(),
        }));
        if let Some(f) = n.float {
            attributes.push(Attribute {
                name: "epsilon".into(),
                value: AttrValue::Float(f),
                doc_string: String::new(),
            });
        }
        values.extend(outputs.iter().cloned());
        if let Some(o) = outputs.first() {
            last = o.clone();
        }
        m.graph.nodes.push(edgebench_graph::Node {
            name: format!("{op}_{i}"),
            op_type: op.into(),
            inputs,
            outputs,
            attributes,
            ..Default::default()
        });
    }
    m.graph.outputs = vec![edgebench_graph::ValueInfo {
        name: last,
        ty: Some(edgebench_graph::ValueType::Tensor {
            dtype: DataType::Float,
            shape: None,
        }),
        doc_string: String::new(),
        metadata: vec![],
    }];
    m
}

fn facts(m: &Model, dims: &[u8]) -> Facts {
    let mut f = Facts::new();
    let mut k = 0usize;
    let shape = |k: &mut usize| -> Vec<u64> {
        let n = dims.get(*k % dims.len().max(1)).copied().unwrap_or(1) as usize % 5;
        *k += 1;
        (0..n).map(|i| dims.get((*k + i) % dims.len().max(1)).copied().unwrap_or(1) as u64 % 9).collect()
    };
    for v in m.graph.inputs.iter().map(|v| v.name.clone()).chain(
        m.graph.nodes.iter().flat_map(|n| n.outputs.iter().cloned()),
    ) {
        let s = shape(&mut k);
        f.insert(v, (DataType::Float, s));
    }
    f
}

libfuzzer_sys::fuzz_target!(|c: Case| {
    let m = model(&c);
    let tables = edgebench_compat::exercise::tables();
    let facts = c.facts.as_ref().map(|d| facts(&m, d));
    if edgebench_rewrite::invalid(&m).is_none() {
        for table in &tables {
            let (_, blocked) = edgebench_rewrite::verdict_of(&m, table);
            let all = Blocked {
                nodes: (0..m.graph.nodes.len()).collect(),
                kinds: blocked.kinds.clone(),
            };
            let ctx = Ctx::new(table, facts.as_ref());
            for rule in registry::all() {
                let mut patches = vec![];
                if rule.ops().is_empty() {
                    patches.extend(rule.whole(&m, &all, &ctx));
                } else {
                    for i in 0..m.graph.nodes.len() {
                        if rule.ops().contains(&m.graph.nodes[i].op_type.as_str()) {
                            patches.extend(rule.node(&m, i, &ctx));
                        }
                    }
                }
                for p in patches {
                    let mut x = m.clone();
                    p.apply(&mut x);
                    let _ = edgebench_graph::encode(&x);
                }
            }
            let _ = edgebench_rewrite::beyond_rules(&m, table, &registry::all());
        }
    }
    let _ = edgebench_rewrite::simplify(&m, facts.as_ref());
    let none = Facts::new();
    for kind in [variants::Kind::Fp16, variants::Kind::Fp16Weights, variants::Kind::Int8Dynamic] {
        let _ = variants::make(&m, kind, &Default::default(), facts.as_ref().unwrap_or(&none), None);
    }
});
