//! ONNX Runtime's execution providers as backends (issue #24): `ort-openvino` runs here (the onnxruntime-openvino
//! wheel that ci/setup.sh puts in .venv-openvino) with its placement predicted and verified; `ort-cuda` and
//! `ort-tensorrt` run where an NVIDIA GPU is and say why not elsewhere.

mod common;
use common::*;

/// Whether this machine has an NVIDIA GPU with its driver (the CUDA tests run only there).
fn nvidia_gpu() -> bool {
    std::path::Path::new("/dev/nvidiactl").exists()
}

fn backend<'a>(d: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in doctor: {d}"))
}

#[test]
fn ort_openvino_runs_here_and_its_placement_is_predicted_and_verified() {
    if !require(
        "ort-openvino (.venv-openvino)",
        backend_available("ort-openvino"),
    ) {
        return;
    }
    let d = json(&["doctor", "--json"]);
    let ov = backend(&d, "ort-openvino");
    assert!(ov["version"].as_str().unwrap().starts_with("1.24"), "{ov}");
    // Runs, and agrees with ONNX Runtime's CPU provider (each in its own process: one ONNX Runtime per process).
    let a = json(&[
        "run",
        "small_cnn",
        "--backend",
        "ort-openvino",
        "--placement",
        "--json",
    ]);
    let p = &a["placement"];
    assert_eq!(p["accelerator"], "OpenVINOExecutionProvider", "{a}");
    assert_eq!(p["fully_accelerated"], true, "{a}");
    assert_eq!(p["partitions"], 1, "{a}");
    let b = json(&["run", "small_cnn", "--backend", "ort", "--json"]);
    let (x, y) = (&a["outputs"][0]["summary"], &b["outputs"][0]["summary"]);
    assert_eq!(x["argmax"], y["argmax"], "{x} vs {y}");
    for k in ["min", "max", "mean"] {
        assert!(
            (x[k].as_f64().unwrap() - y[k].as_f64().unwrap()).abs() < 1e-4,
            "{k}: {x} vs {y}"
        );
    }
    // Two ONNX Runtime libraries in one process: refused in one line, naming both.
    let (code, _, err) = run(&[
        "run",
        "tiny_mlp",
        "--backend",
        "ort-openvino",
        "--compare",
        "ort",
    ]);
    assert_ne!(code, 0);
    let lines = error_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("another ONNX Runtime library is loaded"),
        "{err}"
    );
    // The table predicts where each node goes; check --verify holds it against ONNX Runtime's assignment.
    let c = json(&[
        "check",
        "small_cnn",
        "attention_block",
        "--backend",
        "ort-openvino",
        "--verify",
        "--json",
    ]);
    let v = &c["verify_summary"];
    assert_eq!(v["cells"], 4, "{c}");
    assert_eq!(
        (v["held"].as_u64(), v["wrong"].as_u64()),
        (Some(4), Some(0)),
        "{c}"
    );
    for m in c["models"].as_array().unwrap() {
        let p = &m["backends"][0]["placement"];
        assert_eq!(
            p["observed"]["accelerator"], "OpenVINOExecutionProvider",
            "{m}"
        );
        assert_eq!(
            p["predicted"]["on_cpu_kernels"], p["observed"]["on_cpu_kernels"],
            "{m}"
        );
    }
}

#[test]
fn a_table_that_misplaces_a_node_is_a_wrong_prediction() {
    if !require(
        "ort-openvino (.venv-openvino)",
        backend_available("ort-openvino"),
    ) {
        return;
    }
    // The committed table without Conv in its placement list: small_cnn's Conv nodes are then predicted on ONNX
    // Runtime's own kernels, and the provider takes them.
    let table = include_str!("../../../backends/ort/openvino-ops.toml").replace("\"Conv\", ", "");
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("ov.toml");
    std::fs::write(&p, table).unwrap();
    let arg = format!("ort-openvino={}", p.display());
    let (code, out, err) = run(&[
        "check",
        "small_cnn",
        "--backend",
        "ort-openvino",
        "--table",
        &arg,
        "--verify",
    ]);
    assert_eq!(code, 8, "{out}{err}");
    assert!(out.contains("wrong placement"), "{out}");
    assert!(out.contains("runtime kernels -> accelerator"), "{out}");
}

#[test]
fn the_nvidia_providers_run_on_a_gpu_and_say_why_not_elsewhere() {
    let d = json(&["doctor", "--json"]);
    for name in ["ort-cuda", "ort-tensorrt"] {
        let b = backend(&d, name);
        assert_eq!(b["compiled_in"], true, "{b}");
        if !nvidia_gpu() {
            assert_eq!(b["available"], false, "{b}");
            let why = b["reason"].as_str().unwrap();
            assert!(why.contains("no NVIDIA driver"), "{name}: {why}");
        }
    }
    if !nvidia_gpu() {
        eprintln!(
            "SKIPPED on this machine: no NVIDIA GPU (/dev/nvidiactl): ort-cuda and ort-tensorrt are reported unavailable \
             with their reason; the run below needs a GPU"
        );
        return;
    }
    // On a GPU machine set up by ci/setup.sh (.venv-gpu): the CUDA provider runs the fixture and takes its nodes.
    assert!(backend_available("ort-cuda"), "{}", backend(&d, "ort-cuda"));
    let a = json(&[
        "run",
        "small_cnn",
        "--backend",
        "ort-cuda",
        "--placement",
        "--json",
    ]);
    assert_eq!(
        a["placement"]["accelerator"], "CUDAExecutionProvider",
        "{a}"
    );
    assert!(
        a["placement"]["accelerator_ops"].as_u64().unwrap() > 0,
        "{a}"
    );
    // The table's placement holds against ONNX Runtime's assignment (as it did on an H200, BENCHMARKS.md).
    let c = json(&[
        "check",
        "small_cnn",
        "attention_block",
        "--backend",
        "ort-cuda",
        "--verify",
        "--json",
    ]);
    assert_eq!(c["verify_summary"]["wrong"], 0, "{c}");
}

#[test]
fn a_library_that_is_not_onnx_runtime_is_refused_with_its_reason() {
    // Any shared library that is not ONNX Runtime: LiteRT's, or the C library.
    let t = tempfile::tempdir().unwrap();
    let fake = t.path().join("libonnxruntime.so.1.99.0");
    std::fs::write(&fake, b"not a library").unwrap();
    let d = json(&[
        "doctor",
        "--json",
        "--ort-openvino-lib",
        fake.to_str().unwrap(),
    ]);
    let b = backend(&d, "ort-openvino");
    assert_eq!(b["available"], false, "{b}");
    assert!(b["reason"].as_str().unwrap().contains("cannot load"), "{b}");
}

#[test]
fn bench_and_the_report_show_the_providers_cells_and_predicted_placement() {
    if !require(
        "ort-openvino (.venv-openvino)",
        backend_available("ort-openvino"),
    ) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let j = json(&[
        "bench",
        "small_cnn",
        "--backend",
        "ort-openvino",
        "--max-time",
        "0.2",
        "--warmup",
        "0.02",
        "--json",
        "--out",
        t.path().to_str().unwrap(),
    ]);
    let cell = &j["cells"][0];
    assert_eq!(
        (cell["backend"].as_str(), cell["outcome"]["status"].as_str()),
        (Some("ort-openvino"), Some("ok")),
        "{cell}"
    );
    let compat = j["compat"].as_array().unwrap();
    let p = &compat
        .iter()
        .find(|c| c["backend"] == "ort-openvino")
        .unwrap()["placement"];
    assert_eq!(p["accelerator"], "OpenVINOExecutionProvider", "{p}");
    assert_eq!(
        (p["accelerated"].as_u64(), p["on_runtime_kernels"].as_u64()),
        (Some(8), Some(0)),
        "{p}"
    );
    let dir = t.path().join(j["run_id"].as_str().unwrap());
    let (code, _, err) = run(&["report", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("OpenVINOExecutionProvider 8/8 nodes in 1 partition(s)"),
        "placement in the matrix"
    );
}
