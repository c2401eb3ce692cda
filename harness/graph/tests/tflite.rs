//! TFLite flatbuffers -> IR: models edgebench writes read back with their ops, versions, shapes, weights, quantization
//! and options; bad files fail with one line naming the file and the problem.

use edgebench_graph::tflite::write::{ModelSpec, OpSpec, OptField, TensorSpec, f32_bytes};
use edgebench_graph::{DataType, Format, GraphError, ValueType, decode};
use std::path::Path;

fn conv_model() -> ModelSpec {
    let t = |name: &str, dtype: u8, shape: Vec<i32>| TensorSpec {
        name: name.into(),
        dtype,
        shape,
        ..Default::default()
    };
    let mut w = t("w", 0, vec![4, 3, 3, 2]);
    w.data = Some(f32_bytes(&[0.5; 72]));
    let mut q = t("q", 9, vec![1, 8, 8, 4]);
    q.quant = Some((vec![0.25], vec![-3], 0));
    ModelSpec {
        description: "edgebench test".into(),
        tensors: vec![
            t("x", 0, vec![1, 8, 8, 2]),
            w,
            t("y", 0, vec![1, 8, 8, 4]),
            q,
        ],
        ops: vec![
            OpSpec {
                builtin: 3, // CONV_2D
                version: 2,
                inputs: vec![0, 1, -1],
                outputs: vec![2],
                options: Some((
                    1,
                    vec![
                        (0, OptField::I8(0)),
                        (1, OptField::I32(1)),
                        (2, OptField::I32(1)),
                        (3, OptField::I8(3)),
                    ],
                )),
                ..Default::default()
            },
            OpSpec {
                builtin: 114, // QUANTIZE
                version: 1,
                inputs: vec![2],
                outputs: vec![3],
                ..Default::default()
            },
        ],
        inputs: vec![0],
        outputs: vec![3],
    }
}

fn read(bytes: Vec<u8>) -> Result<edgebench_graph::Model, GraphError> {
    decode(bytes.into(), Path::new("m.tflite"), None)
}

#[test]
fn a_written_model_reads_back_with_ops_versions_shapes_weights_and_options() {
    let m = read(conv_model().encode()).unwrap();
    assert_eq!(m.format, Format::Tflite);
    assert_eq!(m.producer_name, "edgebench test");
    let g = &m.graph;
    let ops: Vec<(&str, &str, Option<i64>)> = g
        .nodes
        .iter()
        .map(|n| (n.op_type.as_str(), n.domain.as_str(), n.version))
        .collect();
    assert_eq!(
        ops,
        [
            ("CONV_2D", "tflite", Some(2)),
            ("QUANTIZE", "tflite", Some(1))
        ]
    );
    assert_eq!(g.nodes[0].name, "CONV_2D#0");
    assert_eq!(
        g.nodes[0].inputs,
        ["x", "w", ""],
        "-1 is an omitted optional input"
    );
    assert_eq!(m.node_opset(&g.nodes[0]), Some(2));
    assert_eq!(g.nodes[0].attr_int("fused_activation_function"), Some(3));
    assert_eq!(g.nodes[0].attr_int("stride_h"), Some(1));
    assert_eq!(
        g.nodes[0].attr_int("dilation_w_factor"),
        Some(1),
        "schema default"
    );
    assert_eq!(g.inputs[0].name, "x");
    match g.inputs[0].ty.as_ref().unwrap() {
        ValueType::Tensor { dtype, shape } => {
            assert_eq!(*dtype, DataType::Float);
            assert_eq!(shape.as_ref().unwrap().len(), 4);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(g.initializers.len(), 1);
    let w = &g.initializers[0];
    assert_eq!((w.name(), w.dims()), ("w", &[4i64, 3, 3, 2][..]));
    assert_eq!(&w.data_bytes().unwrap()[..4], &0.5f32.to_le_bytes());
    let q = &g.outputs[0];
    assert_eq!(q.metadata[0].key.as_deref(), Some("quantization"));
    assert_eq!(
        q.metadata[0].value.as_deref(),
        Some("scale=0.25 zero_point=-3")
    );
    let mut shapes = edgebench_graph::stats::ShapeMap::from_model(&m, &Default::default());
    shapes.extend_missing(Default::default());
    // 8x8x4 outputs x 3x3x2 taps
    assert_eq!(
        edgebench_graph::stats::node_flops(&g.nodes[0], &shapes),
        Some(2 * 8 * 8 * 4 * 3 * 3 * 2)
    );
    assert!(
        edgebench_graph::encode(&m).is_err(),
        "a TFLite model is never written as ONNX"
    );
}

fn err(bytes: Vec<u8>) -> String {
    read(bytes).unwrap_err().to_string()
}

#[test]
fn bad_files_fail_with_one_line_naming_the_file_and_the_problem() {
    let good = conv_model().encode();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..6].to_vec(), "truncated"),
        (
            [&good[..4], b"ABCD", &good[8..]].concat(),
            "wrong file identifier `ABCD`",
        ),
        (
            [&(good.len() as u32 + 100).to_le_bytes()[..], &good[4..]].concat(),
            "out of range",
        ),
        (good[..good.len() / 2].to_vec(), "invalid TFLite file"),
    ];
    for (bytes, want) in cases {
        let e = err(bytes);
        assert!(e.starts_with("m.tflite: invalid TFLite file: "), "{e}");
        assert!(e.contains(want), "{e} lacks {want}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn a_buffer_shorter_than_its_tensor_and_an_index_out_of_range_are_named() {
    let mut short = conv_model();
    short.tensors[1].data = Some(f32_bytes(&[1.0; 10]));
    let e = err(short.encode());
    assert!(
        e.contains("`w`") && e.contains("too short: 40 bytes") && e.contains("288 expected"),
        "{e}"
    );
    let mut dangling = conv_model();
    dangling.ops[1].inputs = vec![42];
    let e = err(dangling.encode());
    assert!(
        e.contains("tensor index 42 out of range (4 tensors)"),
        "{e}"
    );
}

#[test]
fn the_mediapipe_custom_op_and_unknown_codes_keep_their_names() {
    let mut m = conv_model();
    m.ops[1] = OpSpec {
        builtin: 32,
        custom_code: Some("Convolution2DTransposeBias".into()),
        inputs: vec![2],
        outputs: vec![3],
        ..Default::default()
    };
    let g = read(m.encode()).unwrap().graph;
    assert_eq!(
        (g.nodes[1].op_type.as_str(), g.nodes[1].domain.as_str()),
        ("Convolution2DTransposeBias", "tflite.custom")
    );
    let mut m = conv_model();
    m.ops[1].builtin = 120; // NON_MAX_SUPPRESSION_V4
    assert_eq!(
        read(m.encode()).unwrap().graph.nodes[1].op_type,
        "NON_MAX_SUPPRESSION_V4"
    );
}

#[test]
fn an_onnx_file_named_tflite_is_refused_as_tflite() {
    let onnx = edgebench_graph::encode(&edgebench_graph::fixtures::tiny_mlp()).unwrap();
    let e = err(onnx);
    assert!(e.contains("wrong file identifier"), "{e}");
}
