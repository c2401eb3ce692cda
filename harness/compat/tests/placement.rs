//! The placement layer's prediction from LiteRT's `[placement]`: which nodes XNNPACK takes.

use edgebench_compat::placement::predict;
use edgebench_graph::tflite::write::{ModelSpec, OpSpec, OptField, TensorSpec, f32_bytes};

fn model(filter_from_graph_input: bool) -> edgebench_graph::Model {
    let t = |name: &str, dtype: u8, shape: Vec<i32>| TensorSpec {
        name: name.into(),
        dtype,
        shape,
        ..Default::default()
    };
    let mut tensors = vec![
        t("x", 0, vec![1, 4, 4, 2]),
        // float16 weights, "sparse" (DENSIFY), then DEQUANTIZE: the chain XNNPACK unpacks at load
        TensorSpec {
            data: Some(vec![0; 12]),
            ..t("w_sparse", 1, vec![3, 1, 1, 2])
        },
        t("w_dense", 1, vec![3, 1, 1, 2]),
        t("w", 0, vec![3, 1, 1, 2]),
        TensorSpec {
            data: Some(f32_bytes(&[0.0; 3])),
            ..t("bias", 0, vec![3])
        },
        t("y", 0, vec![1, 4, 4, 3]),
    ];
    let mut inputs = vec![0];
    if filter_from_graph_input {
        tensors[1].data = None;
        inputs.push(1);
    }
    let op = |builtin, version, ins: Vec<i32>, out| OpSpec {
        builtin,
        version,
        inputs: ins,
        outputs: vec![out],
        ..Default::default()
    };
    let mut conv = op(3, 1, vec![0, 3, 4], 5);
    conv.options = Some((
        1,
        vec![
            (0, OptField::I8(1)),
            (1, OptField::I32(1)),
            (2, OptField::I32(1)),
        ],
    ));
    let bytes = ModelSpec {
        description: "placement".into(),
        tensors,
        ops: vec![op(124, 1, vec![1], 2), op(6, 3, vec![2], 3), conv],
        inputs,
        outputs: vec![5],
    }
    .encode();
    edgebench_graph::decode(bytes.into(), std::path::Path::new("m.tflite"), None).unwrap()
}

#[test]
fn densify_and_dequantize_of_constants_are_unpacked_and_keep_the_filter_static() {
    let table = edgebench_compat::embedded("litert").unwrap().unwrap();
    let p = predict(&model(false), &table).unwrap();
    assert_eq!(
        (p.accelerated, p.on_cpu_kernels.len(), p.partitions),
        (3, 0, 1),
        "{p:?}"
    );
    // The same chain from a graph input is computed at run time: DENSIFY stays on the interpreter, XNNPACK converts
    // the float16 at run time (a DEQUANTIZE it takes: its `Convert` operator), and the CONV_2D, whose filter is no
    // longer static, stays on the interpreter.
    let p = predict(&model(true), &table).unwrap();
    assert_eq!(p.on_cpu_kernels, [0, 2], "{p:?}");
    assert_eq!(p.partitions, 1);
}
