//! Feed discovery (issue #20): a symbolic dim that nobody gives is found by running the model, not demanded.

mod common;
use common::*;
use edgebench_graph::fixtures::Builder;
use edgebench_graph::{DataType, Dim, Model, ValueType};
use std::path::{Path, PathBuf};

fn save(dir: &Path, name: &str, m: &Model) -> PathBuf {
    let p = dir.join(name);
    edgebench_graph::save(m, &p).unwrap();
    p
}

fn declare(m: &mut Model, input: bool, dims: Vec<Dim>) {
    let v = if input {
        &mut m.graph.inputs[0]
    } else {
        &mut m.graph.outputs[0]
    };
    v.ty = Some(ValueType::Tensor {
        dtype: DataType::Float,
        shape: Some(dims),
    });
}

/// An audio front-end: `x[1, 1, samples] -> Conv(kernel 512) -> y`: it runs only from 512 samples on.
fn audio() -> Model {
    let mut b = Builder::new("audio", 1);
    b.input("x", &[1, 1, 600]);
    b.output("y", &[1, 1, 89]);
    let w = b.weight("w", &[1, 1, 512], 0.1);
    b.node("Conv", &["x", &w], "y", &[1, 1, 89], vec![]);
    let mut m = b.finish(13);
    declare(
        &mut m,
        true,
        vec![Dim::Value(1), Dim::Value(1), Dim::Param("samples".into())],
    );
    declare(
        &mut m,
        false,
        vec![Dim::Value(1), Dim::Value(1), Dim::Param("frames".into())],
    );
    m
}

/// `x[1, n] -> Reshape([7, 3])`: only n = 21 runs, which no candidate is.
fn reshape21() -> Model {
    let mut b = Builder::new("reshape21", 1);
    b.input("x", &[1, 21]);
    b.output("y", &[7, 3]);
    let s = b.const_i64("shape", &[2], &[7, 3]);
    b.node("Reshape", &["x", &s], "y", &[7, 3], vec![]);
    let mut m = b.finish(13);
    declare(&mut m, true, vec![Dim::Value(1), Dim::Param("n".into())]);
    m
}

fn check_verify(f: &Path) -> serde_json::Value {
    let (code, out, err) = run(&[
        "check",
        f.to_str().unwrap(),
        "--backend",
        "tract",
        "--verify",
        "--json",
    ]);
    assert!(code == 0 || code == 7, "{code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

#[test]
fn a_symbolic_dim_nobody_gives_is_discovered_on_the_reference_backend_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let f = save(dir.path(), "audio.onnx", &audio());
    let d = check_verify(&f);
    let m = &d["models"][0];
    assert_eq!(
        m["discovered"]["dims"],
        serde_json::json!([["samples", 512]]),
        "{m}"
    );
    let tried: Vec<u64> = serde_json::from_value(m["discovered"]["tried"].clone()).unwrap();
    assert_eq!(tried.first(), Some(&1));
    assert_eq!(tried.last(), Some(&512));
    assert_eq!(m["backends"][0]["verification"], "agree", "{m}");
    // --dim still wins: no discovery, and the given value is used (it does not run).
    let (_, out, _) = run(&[
        "check",
        f.to_str().unwrap(),
        "--backend",
        "tract",
        "--dim",
        "samples=100",
        "--verify",
        "--json",
    ]);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(d["models"][0].get("discovered").is_none(), "{d}");
    // The search is cached per model file: a second check finds the same without trying again.
    let again = check_verify(&f);
    assert_eq!(again["models"][0]["discovered"], m["discovered"]);
    // Without --verify nothing runs, so nothing is discovered.
    let (_, out, _) = run(&["check", f.to_str().unwrap(), "--backend", "tract", "--json"]);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(d["models"][0].get("discovered").is_none());
}

#[test]
fn a_search_that_finds_nothing_says_what_it_tried() {
    let dir = tempfile::tempdir().unwrap();
    let f = save(dir.path(), "reshape21.onnx", &reshape21());
    let d = check_verify(&f);
    let m = &d["models"][0];
    assert_eq!(m["discovered"]["dims"], serde_json::json!([]), "{m}");
    let c = &m["backends"][0];
    assert_eq!(c["verification"], "not-verified", "{c}");
    let detail = c["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("discovery tried 1, 3, 7, 16"), "{c}");
}

#[test]
fn bench_discovers_the_dim_too_and_records_it_in_the_feed_notes() {
    let dir = tempfile::tempdir().unwrap();
    let f = save(dir.path(), "audio.onnx", &audio());
    let runs = dir.path().join("runs");
    let (code, out, err) = run(&[
        "bench",
        f.to_str().unwrap(),
        "--backend",
        "tract",
        "--max-time",
        "0.2",
        "--out",
        runs.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["feeds"][0]["feed"][0], "x=float32[1,1,512]", "{r}");
    let notes = r["feeds"][0]["notes"].to_string();
    assert!(notes.contains("dim `samples` = 512 (discovered"), "{notes}");
}
