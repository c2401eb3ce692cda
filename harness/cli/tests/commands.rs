//! inspect, run, doctor and the default plan on the generated fixtures, on every backend.

mod common;
use common::*;

#[test]
fn inspect_reports_counts_params_and_flops() {
    let j = json(&["inspect", "small_cnn", "--json"]);
    assert_eq!(j["total_nodes"], 8);
    assert_eq!(j["op_histogram"]["Conv"], 2);
    assert_eq!(
        j["flops"]["macs_by_op"]["Conv"],
        8 * 32 * 32 * 27 + 16 * 16 * 16 * 72
    );
    assert_eq!(j["inputs"][0]["name"], "x");
    assert_eq!(
        j["inputs"][0]["type"]["shape"],
        serde_json::json!([1, 3, 32, 32])
    );
    let (c, out, _) = run(&["inspect", "fixture:attention_block"]);
    assert_eq!(c, 0);
    assert!(out.contains("MatMul 5") && out.contains("compute"), "{out}");
}

#[test]
fn run_is_deterministic_for_a_seed_and_prints_outputs() {
    let a = json(&["run", "tiny_mlp", "--seed", "7", "--json"]);
    let b = json(&["run", "tiny_mlp", "--seed", "7", "--json"]);
    let c = json(&["run", "tiny_mlp", "--seed", "8", "--json"]);
    assert_eq!(a["outputs"], b["outputs"]);
    assert_ne!(a["outputs"][0]["summary"], c["outputs"][0]["summary"]);
    let s = &a["outputs"][0]["summary"];
    // softmax over 10 classes
    assert!((s["mean"].as_f64().unwrap() - 0.1).abs() < 1e-6, "{s}");
    assert_eq!(a["outputs"][0]["shape"], serde_json::json!([1, 10]));
}

fn assert_agrees(model: &str, backend: &str, against: &str) {
    let j = json(&[
        "run",
        model,
        "--backend",
        backend,
        "--compare",
        against,
        "--json",
    ]);
    for o in j["compare"]["outputs"].as_array().unwrap() {
        let abs = o["max_abs_error"].as_f64().unwrap_or(f64::INFINITY);
        let rel = o["max_rel_error"].as_f64().unwrap_or(f64::INFINITY);
        assert!(
            abs <= 1e-4 || rel <= 1e-3,
            "{model}: {backend} vs {against}: {o}"
        );
    }
}

#[test]
fn ort_agrees_with_tract_on_every_fixture() {
    if !require("ONNX Runtime", backend_available("ort")) {
        return;
    }
    for m in edgebench_graph::fixtures::NAMES {
        assert_agrees(m, "ort", "tract");
    }
}

#[test]
fn wonnx_runs_fixtures_on_its_adapter_and_agrees_with_tract() {
    if !require(
        "wonnx with a wgpu adapter (lavapipe)",
        backend_available("wonnx"),
    ) {
        return;
    }
    let d = json(&["doctor", "--json"]);
    let w = d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "wonnx")
        .unwrap()
        .clone();
    let details: Vec<String> = w["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv[0].as_str().unwrap().to_string())
        .collect();
    for k in ["adapter", "driver", "software"] {
        assert!(
            details.iter().any(|d| d == k),
            "wonnx details lack {k}: {w}"
        );
    }
    assert_agrees("tiny_mlp", "wonnx", "tract");
    assert_agrees("small_cnn", "wonnx", "tract");
    // A real gap, recorded rather than hidden: wonnx 0.5.1 has no batched MatMul broadcasting.
    let (c, _, err) = run(&["run", "attention_block", "--backend", "wonnx"]);
    assert_eq!(c, 5, "{err}");
    assert!(error_lines(&err)[0].contains("broadcasting"), "{err}");
}

#[test]
fn doctor_lists_every_backend_with_three_facts_and_the_host() {
    let d = json(&["doctor", "--json"]);
    let names: Vec<&str> = d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    // The ONNX backends (ONNX Runtime with each execution provider), the split ones, then the TFLite ones.
    assert_eq!(
        names,
        [
            "tract",
            "ort",
            "ort-openvino",
            "ort-cuda",
            "ort-tensorrt",
            "wonnx",
            "wonnx+tract",
            "wonnx+ort",
            "litert",
            "litert-gpu",
            "litert-ref",
            "tract-tflite"
        ]
    );
    for b in d["backends"].as_array().unwrap() {
        assert!(
            b["compiled_in"].is_boolean() && b["available"].is_boolean(),
            "{b}"
        );
        assert!(
            b["available"] == true || b["reason"].is_string(),
            "unavailable without a reason: {b}"
        );
    }
    assert!(d["host"]["logical_cores"].as_u64().unwrap() >= 1);
    assert!(d["host"]["memory_bytes"].as_u64().unwrap() > 0);
    assert!(!d["host"]["arch"].as_str().unwrap().is_empty());
}

#[test]
fn run_without_a_model_is_the_default_plan_of_bench_in_child_processes() {
    let cache = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let out = edgebench()
        .current_dir(cwd.path())
        .env("EDGEBENCH_CACHE", cache.path())
        .args(["run", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same document as `bench --json`: results.json of a run folder under ./reports/runs.
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["format-version"], 2);
    // Each fixture runs on the host target's available backends (targets.toml: tract, ort, wonnx, litert) that
    // read its format.
    let host = ["tract", "ort", "wonnx", "litert"];
    let available = |format: &str| -> Vec<String> {
        j["targets"][0]["backends"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["available"] == true)
            .filter(|b| {
                b["formats"]
                    .as_array()
                    .map_or(format == "onnx", |f| f.iter().any(|x| x == format))
            })
            .map(|b| b["name"].as_str().unwrap().to_string())
            .filter(|n| host.contains(&n.as_str()))
            .collect()
    };
    let (onnx, tflite) = (available("onnx"), available("tflite"));
    assert!(onnx.contains(&"tract".to_string()));
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(
        cells.len(),
        3 * onnx.len() + 3 * tflite.len(),
        "3 ONNX and 3 TFLite fixtures x the backends that read them (an empty cache holds no zoo model)"
    );
    for c in cells {
        if c["model"].as_str().unwrap().starts_with("tflite_") {
            assert!(
                tflite.contains(&c["backend"].as_str().unwrap().to_string()),
                "{c}"
            );
        }
    }
    let run_dir = cwd
        .path()
        .join("reports/runs")
        .join(j["run_id"].as_str().unwrap());
    assert!(run_dir.join("results.json").is_file());
    for c in cells {
        if c["backend"] == "tract" {
            assert_eq!(c["outcome"]["status"], "ok", "{c}");
        }
        if c["outcome"]["status"] == "ok" {
            let samples = run_dir.join(c["samples_file"].as_str().unwrap());
            assert!(samples.is_file(), "{c}");
            if let Some(v) = c.get("agreement").filter(|v| !v.is_null()) {
                assert_eq!(v["agree"], true, "{c}");
            }
        }
    }
}

#[test]
fn default_plan_records_a_crashing_or_hanging_cell_and_keeps_going() {
    let cache = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    for (fault, outcome) in [
        ("abort", "crashed"),
        ("hang", "timeout"),
        ("exit", "failed"),
    ] {
        let out = edgebench()
            .current_dir(cwd.path())
            .env("EDGEBENCH_CACHE", cache.path())
            .env("EDGEBENCH_FAULT", fault)
            .args(["run", "--json", "--timeout", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{fault}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let cells = j["cells"].as_array().unwrap();
        assert!(!cells.is_empty());
        for c in cells {
            assert_eq!(c["outcome"]["status"], outcome, "{fault}: {c}");
        }
        // the run's own facts were still gathered
        assert!(j["machine"]["logical_cores"].as_u64().unwrap() >= 1);
    }
}
