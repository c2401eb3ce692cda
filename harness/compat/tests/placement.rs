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

mod cuda {
    use edgebench_compat::placement::predict;
    use edgebench_graph::fixtures::{Builder, int, ints};
    use edgebench_graph::{AttrValue, Attribute, Model};

    fn table() -> edgebench_compat::table::SupportTable {
        edgebench_compat::embedded("ort-cuda").unwrap().unwrap()
    }

    fn text(name: &str, v: &'static str) -> Attribute {
        Attribute {
            name: name.into(),
            value: AttrValue::String(v.into()),
            doc_string: String::new(),
        }
    }

    /// x -> Shape -> Gather -> Unsqueeze -> Concat -> Reshape(x, .) -> Relu, as PyTorch exports a view.
    fn view(gather_indices: &[i64]) -> Model {
        let mut b = Builder::new("view", 1);
        let x = b.input("x", &[1, 4, 8]);
        let dims: &[i64] = if gather_indices.len() == 1 {
            &[]
        } else {
            &[gather_indices.len() as i64]
        };
        let idx = b.const_i64("idx", dims, gather_indices);
        let axes = b.const_i64("axes", &[1], &[0]);
        let tail = b.const_i64("tail", &[1], &[-1]);
        let s = b.graph_node("Shape", &[&x], "s", vec![]);
        let g = b.graph_node("Gather", &[&s, &idx], "g", vec![int("axis", 0)]);
        let u = b.graph_node("Unsqueeze", &[&g, &axes], "u", vec![]);
        let c = b.graph_node("Concat", &[&u, &tail], "c", vec![int("axis", 0)]);
        let r = b.node("Reshape", &[&x, &c], "r", &[1, 32], vec![]);
        b.node("Relu", &[&r], "y", &[1, 32], vec![]);
        b.output("y", &[1, 32]);
        b.finish(17)
    }

    /// The prediction against what ONNX Runtime 1.31.1's CUDA provider did with the zoo models on an NVIDIA H200
    /// (tests/data/cuda-h200-observed.json, recorded by `check --verify`): the same nodes on the CPU kernels and
    /// the same number of partitions. Runs on the zoo models that are cached (ci/test.sh fetches them).
    #[test]
    fn the_zoo_placement_matches_the_assignment_observed_on_an_h200() {
        use sha2::Digest;
        let text = include_str!("data/cuda-h200-observed.json");
        let observed: serde_json::Value = serde_json::from_str(text).unwrap();
        let cache = std::env::var_os("EDGEBENCH_CACHE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/edgebench")
            });
        let mut checked = 0;
        for m in observed["models"].as_array().unwrap() {
            let name = m["model"].as_str().unwrap();
            let path = cache.join("models").join(format!("{name}.onnx"));
            let Ok(bytes) = std::fs::read(&path) else {
                eprintln!("skipped {name}: not cached at {}", path.display());
                continue;
            };
            let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
            assert_eq!(
                sha,
                m["sha256"].as_str().unwrap(),
                "{name}: another version"
            );
            let model = edgebench_graph::load(&path).unwrap();
            let p = predict(&model, &table()).unwrap();
            let cpu: Vec<usize> = m["on_cpu_kernels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(p.on_cpu_kernels, cpu, "{name}");
            assert_eq!(
                p.partitions as u64,
                m["partitions"].as_u64().unwrap(),
                "{name}"
            );
            checked += 1;
        }
        if checked == 0 {
            eprintln!("skipped: no zoo model cached (edgebench models fetch)");
        }
    }

    #[test]
    fn a_shape_computation_moves_to_the_cpu_and_the_reshape_stays() {
        let p = predict(&view(&[0]), &table()).unwrap();
        // Gather, Unsqueeze and Concat read only host tensors and small initializers: ONNX Runtime's
        // CPU-preference pass moves them. Reshape reads its shape from host memory by design and stays.
        assert_eq!(p.on_cpu_kernels, [1, 2, 3], "{p:?}");
        assert_eq!(
            (p.accelerator.as_str(), p.accelerated),
            ("CUDAExecutionProvider", 3)
        );
    }

    #[test]
    fn a_large_initializer_keeps_a_node_on_the_provider() {
        // 101 indices: not a small initializer, so the Gather (and what follows it) stays on the GPU.
        let p = predict(&view(&[0; 101]), &table()).unwrap();
        assert!(p.on_cpu_kernels.is_empty(), "{p:?}");
    }

    #[test]
    fn a_cpu_node_outside_a_shape_computation_does_not_pull_its_consumers() {
        let mut b = Builder::new("hardmax", 1);
        let x = b.input("x", &[1, 8]);
        let h = b.node("Hardmax", &[&x], "h", &[1, 8], vec![]);
        b.node("Relu", &[&h], "y", &[1, 8], vec![]);
        b.output("y", &[1, 8]);
        let p = predict(&b.finish(17), &table()).unwrap();
        assert_eq!(p.on_cpu_kernels, [0], "{p:?}");
    }

    #[test]
    fn attribute_rules_leave_nodes_the_cuda_kernels_refuse() {
        let mut b = Builder::new("rules", 1);
        let x = b.input("x", &[1, 2, 4, 4]);
        let w = b.weight("w", &[2, 2, 3, 3], 0.1);
        let y0 = b.node(
            "ConvTranspose",
            &[&x, &w],
            "y0",
            &[1, 2, 4, 4],
            vec![ints("pads", &[1, 1, 1, 1])],
        );
        let y1 = b.node(
            "ConvTranspose",
            &[&y0, &w],
            "y1",
            &[1, 2, 5, 5],
            vec![ints("pads", &[0, 0, 1, 1])],
        );
        let y2 = b.node(
            "ConvTranspose",
            &[&y1, &w],
            "y2",
            &[1, 2, 7, 7],
            vec![text("auto_pad", "SAME_UPPER")],
        );
        let y3 = b.node("Cast", &[&y2], "y3", &[1, 2, 7, 7], vec![int("to", 1)]);
        b.node("Cast", &[&y3], "y4", &[1, 2, 7, 7], vec![int("to", 8)]);
        b.output("y4", &[1, 2, 7, 7]);
        let p = predict(&b.finish(17), &table()).unwrap();
        // Asymmetric pads, SAME_UPPER and a cast to string go to the CPU.
        assert_eq!(p.on_cpu_kernels, [1, 2, 4], "{p:?}");
    }

    #[test]
    fn an_rnn_off_cudnns_defaults_and_a_deprecated_version_go_to_the_cpu() {
        let mut b = Builder::new("gru", 1);
        let x = b.input("x", &[2, 1, 4]);
        let w = b.weight("w", &[1, 12, 4], 0.1);
        let r = b.weight("r", &[1, 12, 4], 0.1);
        b.node(
            "GRU",
            &[&x, &w, &r],
            "a",
            &[2, 1, 1, 4],
            vec![int("hidden_size", 4)],
        );
        b.node(
            "GRU",
            &[&x, &w, &r],
            "b",
            &[2, 1, 1, 4],
            vec![int("hidden_size", 4), int("linear_before_reset", 0)],
        );
        b.node("Upsample", &["a"], "c", &[2, 1, 2, 8], vec![]);
        b.output("b", &[2, 1, 1, 4]);
        b.output("c", &[2, 1, 2, 8]);
        let p = predict(&b.finish(10), &table()).unwrap();
        // linear_before_reset absent: cuDNN's default holds; given as 0: the CPU. Upsample at opset 10: no CUDA
        // kernel (they stop at 9).
        assert_eq!(p.on_cpu_kernels, [1, 2], "{p:?}");
    }

    #[test]
    fn providers_without_host_memory_marks_run_no_cpu_preference_pass() {
        let table = edgebench_compat::embedded("ort-openvino").unwrap().unwrap();
        let p = predict(&view(&[0]), &table).unwrap();
        assert!(p.on_cpu_kernels.is_empty(), "{p:?}");
    }
}
