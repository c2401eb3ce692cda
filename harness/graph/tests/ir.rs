use bytes::Bytes;
use edgebench_graph::fixtures::{self, int};
use edgebench_graph::pb;
use edgebench_graph::stats::{ShapeMap, summarize};
use edgebench_graph::*;
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn fixtures_round_trip_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in fixtures::NAMES {
        let m = fixtures::build(name).unwrap();
        let p = dir.path().join(format!("{name}.onnx"));
        save(&m, &p).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back, m, "{name} changed on the round trip");
        // and a second generation is byte-identical
        assert_eq!(encode(&back).unwrap(), std::fs::read(&p).unwrap());
    }
}

#[test]
fn save_replaces_atomically_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.onnx");
    std::fs::write(&p, b"old").unwrap();
    save(&fixtures::tiny_mlp(), &p).unwrap();
    assert!(load(&p).is_ok());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

fn dim(v: pb::tensor_shape_proto::dimension::Value) -> pb::tensor_shape_proto::Dimension {
    pb::tensor_shape_proto::Dimension {
        denotation: None,
        value: Some(v),
    }
}

#[test]
fn symbolic_dims_keep_their_names_and_minus_one_is_unknown() {
    use pb::tensor_shape_proto::dimension::Value;
    let mut m = to_proto(&fixtures::tiny_mlp()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let Some(pb::type_proto::Value::TensorType(t)) =
        g.input[0].r#type.as_mut().unwrap().value.as_mut()
    else {
        panic!()
    };
    t.shape = Some(pb::TensorShapeProto {
        dim: vec![
            dim(Value::DimValue(-1)),
            dim(Value::DimParam("features".into())),
        ],
    });
    let model = decode(Bytes::from(m.encode_to_vec()), Path::new("mem.onnx"), None).unwrap();
    let (dt, shape) = model.graph.inputs[0]
        .ty
        .as_ref()
        .unwrap()
        .as_tensor()
        .unwrap();
    assert_eq!(dt, DataType::Float);
    assert_eq!(
        shape.unwrap(),
        &[Dim::Unknown, Dim::Param("features".into())]
    );
}

#[test]
fn subgraphs_are_walked_and_counted() {
    // y = If(cond) { then: Relu(x) } else { Neg(x) }, plus one Identity in the main graph.
    let m = fixtures::if_relu_neg();
    let mut seen = vec![];
    m.graph
        .walk(&mut |scope, n| seen.push((scope.depth(), n.op_type.clone())));
    assert_eq!(
        seen,
        vec![
            (0, "If".into()),
            (1, "Relu".into()),
            (1, "Neg".into()),
            (0, "Identity".into())
        ]
    );
    let s = summarize(&m, &ShapeMap::default());
    assert_eq!((s.total_nodes, s.main_graph_nodes, s.subgraphs), (4, 2, 2));
    assert_eq!(s.op_histogram.get("Relu"), Some(&1));
    // round trip through bytes keeps the subgraphs
    let back = decode(
        Bytes::from(encode(&m).unwrap()),
        Path::new("mem.onnx"),
        None,
    )
    .unwrap();
    assert_eq!(back, m);
}

#[test]
fn conv_and_gemm_macs_are_exact_for_the_small_cnn() {
    let m = fixtures::small_cnn();
    let s = summarize(&m, &ShapeMap::from_model(&m, &HashMap::new()));
    // conv1: 1x8x32x32 outputs x 3x3x3; conv2: 1x16x16x16 outputs x 8x3x3; fc: 1x16x10
    assert_eq!(
        s.flops.macs_by_op["Conv"],
        8 * 32 * 32 * 27 + 16 * 16 * 16 * 72
    );
    assert_eq!(s.flops.macs_by_op["Gemm"], 160);
    assert_eq!(s.flops.total_flops, 2 * s.flops.total_macs);
    assert!(s.flops.unknown_shape_nodes.is_empty());
    assert_eq!(
        s.params_by_dtype["float32"].elements,
        8 * 27 + 8 + 16 * 72 + 16 + 160 + 10
    );
}

#[test]
fn matmul_macs_cover_batched_operands() {
    let m = fixtures::attention_block();
    let s = summarize(&m, &ShapeMap::from_model(&m, &HashMap::new()));
    // q,k,v: 3 x (16x32x32); scores 16x16x32; context 16x32x16
    assert_eq!(
        s.flops.macs_by_op["MatMul"],
        3 * 16 * 32 * 32 + 16 * 16 * 32 + 16 * 32 * 16
    );
}

#[test]
fn unknown_shapes_are_reported_not_guessed() {
    let m = fixtures::small_cnn();
    let mut shapes = ShapeMap::from_model(&m, &HashMap::new());
    shapes.0.remove("c2");
    let s = summarize(&m, &shapes);
    assert_eq!(s.flops.unknown_shape_nodes, vec!["Conv_2".to_string()]);
}

fn with_external(location: &str) -> Vec<u8> {
    let mut m = to_proto(&fixtures::tiny_mlp()).unwrap();
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
    let kv = |k: &str, v: &str| pb::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    t.external_data = vec![
        kv("location", location),
        kv("offset", "0"),
        kv("length", &(64 * 128 * 4).to_string()),
    ];
    m.encode_to_vec()
}

#[test]
fn external_data_resolves_inside_the_folder_and_is_written_inline() {
    let dir = tempfile::tempdir().unwrap();
    let weights: Vec<u8> = (0..64 * 128)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/w1.bin"), &weights).unwrap();
    let p = write(dir.path(), "m.onnx", &with_external("data/w1.bin"));
    let m = load(&p).unwrap();
    let t = &m.graph.initializers[0];
    assert!(t.external.is_some());
    assert_eq!(t.data_bytes().unwrap().as_ref(), weights.as_slice());
    assert_eq!(summarize(&m, &ShapeMap::default()).external_data_tensors, 1);
    // written back self-contained
    let out = dir.path().join("inline.onnx");
    save(&m, &out).unwrap();
    let back = load(&out).unwrap();
    assert!(back.graph.initializers[0].external.is_none());
    assert_eq!(
        back.graph.initializers[0].data_bytes().unwrap().as_ref(),
        weights.as_slice()
    );
}

#[test]
fn external_data_escaping_the_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("model");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(dir.path().join("secret.bin"), vec![0u8; 64 * 128 * 4]).unwrap();
    for loc in ["../secret.bin", "/etc/passwd", "data/../../secret.bin"] {
        let p = write(&inner, "m.onnx", &with_external(loc));
        match load(&p) {
            Err(GraphError::ExternalEscapes { location, .. }) => assert_eq!(location, loc),
            other => panic!("{loc}: {other:?}"),
        }
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("secret.bin"), inner.join("link.bin")).unwrap();
        let p = write(&inner, "m.onnx", &with_external("link.bin"));
        assert!(
            matches!(load(&p), Err(GraphError::ExternalEscapes { .. })),
            "symlink out of the folder"
        );
    }
    let p = write(&inner, "m.onnx", &with_external("missing.bin"));
    let e = load(&p).unwrap_err().to_string();
    assert!(e.contains("missing.bin") && e.contains("m.onnx"), "{e}");
}

#[test]
fn bad_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = encode(&fixtures::small_cnn()).unwrap();
    let cases = [
        ("empty.onnx", Vec::new()),
        ("text.onnx", b"this is not a model at all\n".repeat(20)),
        ("truncated.onnx", good[..good.len() / 2].to_vec()),
    ];
    for (name, bytes) in cases {
        let p = write(dir.path(), name, &bytes);
        let e = load(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&p.display().to_string()), "{name}: {msg}");
        assert!(!msg.contains('\n'), "{name}: {msg}");
        if name == "truncated.onnx" {
            assert!(matches!(e, GraphError::Truncated { .. }), "{name}: {e:?}");
        } else {
            assert!(matches!(e, GraphError::NotOnnx { .. }), "{name}: {e:?}");
        }
    }
    assert!(matches!(
        load(&dir.path().join("nope.onnx")),
        Err(GraphError::Io { .. })
    ));
}

#[test]
fn initializer_bytes_are_slices_of_the_file_not_copies() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.onnx");
    save(&fixtures::small_cnn(), &p).unwrap();
    let m = load(&p).unwrap();
    let a = m.graph.initializers[0].data_bytes().unwrap();
    let b = m.graph.initializers[0].data_bytes().unwrap();
    // Both views point at the same memory: the mapped file, never a fresh buffer per access.
    assert_eq!(a.as_ptr(), b.as_ptr());
    assert_eq!(
        a.as_ptr(),
        m.graph.initializers[0]
            .proto
            .raw_data
            .as_ref()
            .unwrap()
            .as_ptr()
    );
}

#[test]
fn attribute_helpers_read_values() {
    let m = fixtures::small_cnn();
    let conv2 = &m.graph.nodes[2];
    assert_eq!(conv2.attr_ints("strides"), Some(&[2i64, 2][..]));
    let sm = m.graph.nodes.last().unwrap();
    assert_eq!(sm.attr_int("axis"), Some(1));
    let _ = int("x", 1);
}
