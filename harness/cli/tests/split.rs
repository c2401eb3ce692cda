//! Split execution from the command line: `wonnx+tract` runs what wonnx's table accepts on wonnx and the rest on
//! tract, agrees with ONNX Runtime, and reports partitions and time per backend; `wonnx+ort` runs a model tract
//! cannot analyse (silero's If) by observing shapes on its first run.

mod common;
use common::*;

#[test]
fn attention_block_runs_split_and_agrees_with_ort() {
    if !require(
        "wonnx, tract and ort",
        backend_available("wonnx") && backend_available("ort"),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = json(&[
        "bench",
        "attention_block",
        "--backend",
        "ort",
        "--backend",
        "wonnx+tract",
        "--max-time",
        "0.3",
        "--out",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    let cell = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["backend"] == "wonnx+tract")
        .unwrap();
    assert_eq!(cell["outcome"]["status"], "ok", "{cell}");
    assert_eq!(cell["agreement"]["reference"], "ort", "{cell}");
    assert_eq!(cell["agreement"]["agree"], true, "{cell}");
    let parts = cell["split"].as_array().unwrap();
    let by = |b: &str| parts.iter().find(|p| p["backend"] == b).unwrap();
    // The rank-3 MatMuls are not wonnx's: at least one partition on each side.
    for b in ["wonnx", "tract"] {
        assert!(by(b)["partitions"].as_u64().unwrap() >= 1, "{cell}");
        assert!(by(b)["nodes"].as_u64().unwrap() >= 1, "{cell}");
        assert!(by(b)["ms_per_inference"].as_f64().unwrap() > 0.0, "{cell}");
    }
    let share: f64 = parts.iter().map(|p| p["share"].as_f64().unwrap()).sum();
    assert!(share > 0.0 && share < 1.5, "{cell}");
}

#[test]
fn doctor_lists_the_split_backends() {
    let d = json(&["doctor", "--json"]);
    let names: Vec<&str> = d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"wonnx+tract") && names.contains(&"wonnx+ort"),
        "{names:?}"
    );
}

#[test]
fn silero_runs_on_wonnx_plus_ort_although_tract_cannot_analyse_it() {
    if !require(
        "the zoo model silero_vad_v6, wonnx and ort",
        zoo_path("silero_vad_v6").is_some()
            && backend_available("wonnx")
            && backend_available("ort"),
    ) {
        return;
    }
    let (code, out, err) = run(&[
        "run",
        "silero_vad_v6",
        "--backend",
        "wonnx+ort",
        "--compare",
        "ort",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("compared with ort"), "{out}");
    for line in out.lines().filter(|l| l.contains("max abs err")) {
        assert!(line.contains("same argmax true"), "{out}");
    }
    // And wonnx+tract says why it cannot: tract cannot run silero's If either.
    let (code, _, err) = run(&["run", "silero_vad_v6", "--backend", "wonnx+tract"]);
    assert_ne!(code, 0);
    assert_eq!(error_lines(&err).len(), 1, "{err}");
}
