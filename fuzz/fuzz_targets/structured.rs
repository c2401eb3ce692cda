//! Structured hostile models: a generated fixture with edits of the kinds real broken files have — declared sizes
//! that lie, raw data shorter than its dims, external data out of range, cycles, undefined inputs, deep subgraph
//! nesting, unknown opsets and domains, duplicate names — then the same path as `load_check`.
#![no_main]
use arbitrary::Arbitrary;
use edgebench_graph::pb;
use prost::Message;

#[derive(Arbitrary, Debug)]
enum Edit {
    /// An input or output declares these dims (huge, negative, zero, symbolic).
    DeclaredDims {
        value: u8,
        dims: Vec<i64>,
        symbolic: bool,
    },
    /// An initializer keeps only `keep` bytes of its raw data.
    ShortRawData { init: u8, keep: u16 },
    /// An initializer's data moves to weights.bin at this offset and length (or a path outside the folder).
    External {
        init: u8,
        offset: u64,
        length: u64,
        escape: bool,
    },
    /// Node `to`'s first input becomes node `from`'s first output.
    Rewire { from: u8, to: u8 },
    /// A node input names a value nobody produces.
    Undefined { node: u8, slot: u8 },
    /// The first node is wrapped in `depth` nested If branches.
    Nest { depth: u8 },
    /// An opset import of any domain and version; optionally a node moves into that domain.
    Opset {
        domain: String,
        version: i64,
        move_node: Option<u8>,
    },
    /// Two nodes (or values) get the same name.
    Duplicate { a: u8, b: u8 },
    /// An attribute with a strange value.
    Attr {
        node: u8,
        name: String,
        ints: Vec<i64>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    base: u8,
    edits: Vec<Edit>,
}

fn pick<T>(v: &mut [T], i: u8) -> Option<&mut T> {
    let n = v.len();
    (n > 0).then(move || &mut v[i as usize % n])
}

fn apply(m: &mut pb::ModelProto, e: &Edit) {
    let Some(g) = m.graph.as_mut() else { return };
    match e {
        Edit::DeclaredDims {
            value,
            dims,
            symbolic,
        } => {
            let mut vals: Vec<&mut pb::ValueInfoProto> =
                g.input.iter_mut().chain(g.output.iter_mut()).collect();
            if let Some(v) = pick(&mut vals, *value) {
                let dims = dims
                    .iter()
                    .take(8)
                    .map(|d| pb::tensor_shape_proto::Dimension {
                        value: Some(if *symbolic && d % 3 == 0 {
                            pb::tensor_shape_proto::dimension::Value::DimParam(format!("d{d}"))
                        } else {
                            pb::tensor_shape_proto::dimension::Value::DimValue(*d)
                        }),
                        denotation: None,
                    });
                if let Some(pb::type_proto::Value::TensorType(t)) =
                    v.r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    t.shape = Some(pb::TensorShapeProto {
                        dim: dims.collect(),
                    });
                }
            }
        }
        Edit::ShortRawData { init, keep } => {
            if let Some(t) = pick(&mut g.initializer, *init) {
                if t.float_data.is_empty() && t.int64_data.is_empty() {
                    let raw = t.raw_data.clone().unwrap_or_default();
                    t.raw_data = Some(raw.slice(..(*keep as usize).min(raw.len())));
                } else {
                    t.float_data.truncate(*keep as usize);
                    t.int64_data.truncate(*keep as usize);
                }
            }
        }
        Edit::External {
            init,
            offset,
            length,
            escape,
        } => {
            if let Some(t) = pick(&mut g.initializer, *init) {
                t.raw_data = None;
                t.float_data.clear();
                t.int64_data.clear();
                t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
                let kv = |k: &str, v: String| pb::StringStringEntryProto {
                    key: Some(k.into()),
                    value: Some(v),
                };
                t.external_data = vec![
                    kv(
                        "location",
                        if *escape {
                            "../../etc/passwd".into()
                        } else {
                            "weights.bin".into()
                        },
                    ),
                    kv("offset", offset.to_string()),
                    kv("length", length.to_string()),
                ];
            }
        }
        Edit::Rewire { from, to } => {
            let n = g.node.len();
            if n > 0 {
                let out = g.node[*from as usize % n].output.first().cloned();
                if let (Some(o), Some(first)) = (out, g.node[*to as usize % n].input.first_mut()) {
                    *first = o;
                }
            }
        }
        Edit::Undefined { node, slot } => {
            if let Some(nd) = pick(&mut g.node, *node) {
                if let Some(i) = pick(&mut nd.input, *slot) {
                    *i = "nobody_makes_this".into();
                }
            }
        }
        Edit::Nest { depth } => {
            if g.node.is_empty() {
                return;
            }
            let mut inner = g.node.remove(0);
            // Beyond ~100 levels the protobuf decoder refuses the file at once; deeper only slows the generator.
            for k in 0..(*depth).min(120) {
                let branch = pb::GraphProto {
                    name: Some(format!("b{k}")),
                    node: vec![inner.clone()],
                    output: inner
                        .output
                        .iter()
                        .map(|o| pb::ValueInfoProto {
                            name: Some(o.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                };
                // The else branch is a plain Identity: the model grows linearly with the depth.
                let other = pb::GraphProto {
                    name: Some(format!("e{k}")),
                    node: vec![pb::NodeProto {
                        op_type: Some("Identity".into()),
                        input: inner.input.first().cloned().into_iter().collect(),
                        output: inner.output.first().cloned().into_iter().collect(),
                        ..Default::default()
                    }],
                    output: branch.output.iter().take(1).cloned().collect(),
                    ..Default::default()
                };
                let graph_attr = |name: &str| pb::AttributeProto {
                    name: Some(name.into()),
                    r#type: Some(pb::attribute_proto::AttributeType::Graph as i32),
                    g: Some(if name == "then_branch" {
                        branch.clone()
                    } else {
                        other.clone()
                    }),
                    ..Default::default()
                };
                inner = pb::NodeProto {
                    name: Some(format!("if{k}")),
                    op_type: Some("If".into()),
                    input: vec!["cond".into()],
                    output: inner.output.clone(),
                    attribute: vec![graph_attr("then_branch"), graph_attr("else_branch")],
                    ..Default::default()
                };
            }
            g.node.insert(0, inner);
        }
        Edit::Opset {
            domain,
            version,
            move_node,
        } => {
            m.opset_import.push(pb::OperatorSetIdProto {
                domain: Some(domain.clone()),
                version: Some(*version),
            });
            let g = m.graph.as_mut().expect("graph");
            if let Some(i) = move_node {
                if let Some(nd) = pick(&mut g.node, *i) {
                    nd.domain = Some(domain.clone());
                }
            }
        }
        Edit::Duplicate { a, b } => {
            let n = g.node.len();
            if n > 0 {
                let name = g.node[*a as usize % n].output.first().cloned();
                if let (Some(nm), Some(o)) = (name, g.node[*b as usize % n].output.first_mut()) {
                    *o = nm;
                }
            }
        }
        Edit::Attr { node, name, ints } => {
            if let Some(nd) = pick(&mut g.node, *node) {
                nd.attribute.push(pb::AttributeProto {
                    name: Some(name.clone()),
                    r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
                    ints: ints.clone(),
                    ..Default::default()
                });
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|case: Case| {
    use edgebench_graph::fixtures;
    let base = match case.base % 4 {
        0 => fixtures::tiny_mlp(),
        1 => fixtures::small_cnn(),
        2 => fixtures::attention_block(),
        _ => fixtures::if_relu_neg(),
    };
    let Ok(mut m) = edgebench_graph::to_proto(&base) else {
        return;
    };
    for e in case.edits.iter().take(16) {
        apply(&mut m, e);
    }
    edgebench_fuzz::exercise(&m.encode_to_vec());
});
