//! `.tflite` models (issue #22): LiteRT runs models edgebench writes and the zoo's MediaPipe models and agrees with
//! itself and with arithmetic; ONNX backends refuse a .tflite with a hint; `check` and `bench` judge each model on
//! the backends that read its format.

mod common;
use common::*;
use edgebench_graph::tflite::write::{ModelSpec, OpSpec, TensorSpec, f32_bytes};

/// y = (a + b) * c, c a constant [1, 4] = [1, 2, 3, 4].
fn add_mul(dir: &std::path::Path) -> std::path::PathBuf {
    let t = |name: &str| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape: vec![1, 4],
        ..Default::default()
    };
    let mut c = t("c");
    c.data = Some(f32_bytes(&[1.0, 2.0, 3.0, 4.0]));
    let m = ModelSpec {
        description: "edgebench test".into(),
        tensors: vec![t("a"), t("b"), c, t("s"), t("y")],
        ops: vec![
            OpSpec {
                builtin: 0,
                version: 1,
                inputs: vec![0, 1],
                outputs: vec![3],
                ..Default::default()
            },
            OpSpec {
                builtin: 18,
                version: 1,
                inputs: vec![3, 2],
                outputs: vec![4],
                ..Default::default()
            },
        ],
        inputs: vec![0, 1],
        outputs: vec![4],
    };
    let p = dir.join("add_mul.tflite");
    std::fs::write(&p, m.encode()).unwrap();
    p
}

#[test]
fn litert_runs_a_model_edgebench_wrote_and_computes_it() {
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = add_mul(dir.path());
    let p = p.to_str().unwrap();
    let d = json(&[
        "run",
        p,
        "--backend",
        "litert",
        "--feed",
        "a=float32[1,4]:1",
        "--feed",
        "b=float32[1,4]:2",
        "--json",
    ]);
    let out = &d["outputs"][0];
    assert_eq!(out["name"], "y", "{d}");
    let s = &out["summary"];
    // (1 + 2) * [1, 2, 3, 4]
    assert_eq!(
        (s["min"].as_f64(), s["max"].as_f64()),
        (Some(3.0), Some(12.0)),
        "{d}"
    );
    let v = json(&["check", p, "--backend", "litert", "--verify", "--json"]);
    let cell = &v["models"][0]["backends"][0];
    assert_eq!(cell["verdict"], "runs", "{v}");
    assert_eq!(cell["verification"], "agree", "{v}");
    // the run and its placement layer
    assert_eq!(v["verify_summary"]["held"], 2, "{v}");
}

#[test]
fn onnx_backends_refuse_a_tflite_model_and_name_the_ones_that_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = add_mul(dir.path());
    let (code, _, err) = run(&["run", p.to_str().unwrap(), "--backend", "tract"]);
    assert_ne!(code, 0);
    let lines = error_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("tract does not read tflite models")
            && lines[0].contains("litert, litert-gpu or tract-tflite"),
        "{err}"
    );
}

#[test]
fn inspect_reads_a_tflite_file_and_check_judges_it_on_tflite_backends_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = add_mul(dir.path());
    let p = p.to_str().unwrap();
    let (code, out, err) = run(&["inspect", p]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tflite::ADD 1, tflite::MUL 1"), "{out}");
    assert!(out.contains("TFLite schema v3"), "{out}");
    let d = json(&[
        "check",
        p,
        "--json",
        "--backend",
        "tract-tflite",
        "--backend",
        "litert",
    ]);
    for c in d["models"][0]["backends"].as_array().unwrap() {
        assert_eq!(c["verdict"], "runs", "{c}");
    }
}

#[test]
fn the_zoo_mediapipe_models_run_on_litert_and_tract_tflite_says_why_not() {
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let Some(path) = zoo_path("hand_landmark_lite") else {
        require(
            "zoo model hand_landmark_lite (edgebench models fetch)",
            false,
        );
        return;
    };
    let p = path.to_str().unwrap();
    let d = json(&["run", p, "--backend", "litert", "--json"]);
    assert_eq!(d["outputs"].as_array().unwrap().len(), 4, "{d}");
    // tract-tflite 0.23.9 has no DEQUANTIZE: the table says so and the run agrees.
    let (code, out, err) = run(&[
        "check",
        p,
        "--backend",
        "tract-tflite",
        "--verify",
        "--json",
    ]);
    assert_ne!(code, 0, "not every model runs: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["models"][0]["backends"][0]["verdict"], "partial", "{v}");
    assert_eq!(v["verify_summary"]["held"], 1, "{v}");
    assert_eq!(v["verify_summary"]["wrong"], 0, "{v}");
}

#[test]
fn check_verify_scores_placement_and_a_wrong_one_exits_8() {
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cumsum.tflite");
    std::fs::write(&p, edgebench_graph::tflite::fixtures::add_cumsum_mul()).unwrap();
    let p = p.to_str().unwrap();
    let d = json(&["check", p, "--backend", "litert", "--verify", "--json"]);
    let placement = &d["models"][0]["backends"][0]["placement"];
    assert_eq!(
        placement["predicted"]["on_cpu_kernels"],
        serde_json::json!([1]),
        "{d}"
    );
    assert_eq!(placement["predicted"]["partitions"], 2, "{d}");
    assert_eq!(
        placement["observed"]["on_cpu_kernels"],
        serde_json::json!([1]),
        "{d}"
    );
    assert_eq!(placement["verification"]["verification"], "agree", "{d}");
    // A table that claims XNNPACK takes CUMSUM is wrong, and check --verify says so with exit 8.
    let table = edgebench_compat::EMBEDDED
        .iter()
        .find(|(b, ..)| *b == "litert")
        .unwrap()
        .2
        .replacen("ops = [\"ABS\"", "ops = [\"CUMSUM\", \"ABS\"", 1);
    assert!(table.contains("\"CUMSUM\", \"ABS\""));
    let t = dir.path().join("litert.toml");
    std::fs::write(&t, table).unwrap();
    let spec = format!("litert={}", t.display());
    let (code, out, err) = run(&[
        "check",
        p,
        "--backend",
        "litert",
        "--table",
        &spec,
        "--verify",
    ]);
    assert_eq!(code, 8, "{out}{err}");
    assert!(out.contains("wrong placement: 1 node(s) placed otherwise than predicted: CUMSUM#1 (accelerator -> runtime kernels)"), "{out}");
}

#[test]
fn the_tflite_fixtures_run_on_litert_fp16_and_int8_close_to_fp32() {
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let f32 = json(&[
        "run",
        "tflite_cnn",
        "--backend",
        "litert",
        "--compare",
        "tract-tflite",
        "--json",
    ]);
    let ag = &f32["compare"]["outputs"][0];
    assert!(ag["max_abs_error"].as_f64().unwrap() < 1e-4, "{f32}");
    let mean = |d: &serde_json::Value| d["outputs"][0]["summary"]["mean"].as_f64().unwrap();
    for (v, tol) in [("tflite_cnn_fp16", 1e-3), ("tflite_cnn_int8", 0.05)] {
        let d = json(&["run", v, "--backend", "litert", "--json"]);
        assert!((mean(&d) - mean(&f32)).abs() < tol, "{v}: {d} vs {f32}");
    }
    let (code, _, err) = run(&["run", "tflite_cnn_int8", "--backend", "tract-tflite"]);
    assert_ne!(code, 0);
    assert!(err.contains("does not support operator QUANTIZE"), "{err}");
}

#[test]
fn a_bad_tflite_file_is_one_line_naming_it_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let good = edgebench_graph::tflite::fixtures::add_cumsum_mul();
    for (name, bytes, what) in [
        ("short.tflite", good[..5].to_vec(), "truncated"),
        (
            "id.tflite",
            [&good[..4], b"XXXX", &good[8..]].concat(),
            "wrong file identifier",
        ),
        (
            "cut.tflite",
            good[..good.len() * 2 / 3].to_vec(),
            "out of range",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        for cmd in ["inspect", "check"] {
            let (code, _, err) = run(&[cmd, p.to_str().unwrap()]);
            assert_eq!(code, 3, "{cmd} {name}: {err}");
            let lines = error_lines(&err);
            assert_eq!(lines.len(), 1, "{err}");
            assert!(
                lines[0].contains(name) && lines[0].contains("invalid TFLite file"),
                "{err}"
            );
            assert!(lines[0].contains(what), "{name}: {err}");
        }
    }
}

#[test]
fn profile_on_litert_maps_xnnpack_operators_and_interpreter_nodes_to_the_model() {
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let d = json(&[
        "profile",
        "tflite_cnn_fp16",
        "--backend",
        "litert",
        "--backend",
        "litert-ref",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--json",
    ]);
    for p in d["models"][0]["profiles"].as_array().unwrap() {
        let backend = p["backend"].as_str().unwrap();
        assert_eq!(p["status"], "profiled", "{p}");
        // 4 compute nodes and 6 DEQUANTIZE of float16 constants
        let (n, timed, folded) = (
            p["onnx_nodes"].as_u64(),
            p["timed_nodes"].as_u64(),
            p["folded_nodes"].as_u64(),
        );
        assert_eq!(n, Some(10), "{backend}: {p}");
        match backend {
            // XNNPACK folds the DEQUANTIZEs into its weights; its 4 operators match the 4 compute nodes
            "litert" => assert_eq!((timed, folded), (Some(4), Some(6)), "{p}"),
            // the reference kernels run every node
            _ => assert_eq!(timed, Some(10), "{p}"),
        }
    }
}

#[test]
fn rewrite_and_variants_refuse_tflite_models_and_bench_runs_their_fp32_cells_alone() {
    for args in [
        vec!["variants", "tflite_cnn", "-o", "/nonexistent/out"],
        vec![
            "rewrite",
            "tflite_cnn",
            "--for",
            "litert",
            "-o",
            "/nonexistent/out.tflite",
        ],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("works on ONNX models only"), "{err}");
    }
    if !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, err) = run(&[
        "bench",
        "tflite_cnn",
        "--backend",
        "litert",
        "--variants",
        "fp16",
        "--max-time",
        "0.2",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("variants of .tflite models are not made"),
        "{err}"
    );
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{j}");
    assert_eq!(cells[0]["variant"], "fp32");
}
