//! `edgebench rewrite` from the command line: a zoo model that wonnx could not run does after verified rewrites
//! and agrees with ONNX Runtime (measured, not assumed); bad outputs are refused.

mod common;
use common::*;

#[test]
fn the_openwakeword_head_runs_on_wonnx_after_verified_rewrites() {
    if !require(
        "the zoo model oww_hello_deepa_mlp",
        zoo_path("oww_hello_deepa_mlp").is_some(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("oww.wonnx.onnx");
    let (code, stdout, err) = run(&[
        "rewrite",
        "oww_hello_deepa_mlp",
        "--for",
        "wonnx",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["before"], "partial");
    assert_eq!(r["after"], "runs");
    let applied: Vec<&str> = r["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "applied")
        .map(|s| s["rule"].as_str().unwrap())
        .collect();
    assert!(
        applied.contains(&"static-shapes")
            && applied.contains(&"gemm-pretranspose-b")
            && applied.contains(&"pow-square-to-mul"),
        "{r}"
    );
    assert!(r["tolerance"].as_str().unwrap().contains("seeded feeds"));
    if !require("wonnx", backend_available("wonnx"))
        || !require("ONNX Runtime", backend_available("ort"))
    {
        return;
    }
    // wonnx really runs the written file, and agrees with ONNX Runtime on the original model.
    let feed = "onnx::Flatten_0=float32[1,25,96]";
    let reference = dir.path().join("ort.pb");
    let mine = dir.path().join("wonnx.pb");
    let orig = zoo_path("oww_hello_deepa_mlp").unwrap();
    let (c, _, e) = run(&[
        "run",
        orig.to_str().unwrap(),
        "--backend",
        "ort",
        "--feed",
        feed,
        "--save-outputs",
        reference.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{e}");
    let (c, _, e) = run(&[
        "run",
        out.to_str().unwrap(),
        "--backend",
        "wonnx",
        "--feed",
        feed,
        "--save-outputs",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "wonnx on the rewritten file: {e}");
    // wonnx agrees with ONNX Runtime on the original. Before pow-square-to-mul it did not (max abs error 0.55 on
    // the sigmoid output): WGSL's pow is undefined for the negative bases of the LayerNorms' Pow(x - mean, 2).
    let a = edgebench_backend_api::load_tensors(&reference).unwrap();
    let b = edgebench_backend_api::load_tensors(&mine).unwrap();
    assert_eq!(a.len(), b.len());
    for ((n, x), (_, y)) in a.iter().zip(&b) {
        let ag = edgebench_backend_api::compare(y, x).unwrap();
        assert!(ag.max_abs_error < 1e-4, "{n}: wonnx differs ({ag:?})");
    }
}

#[test]
fn rewrite_never_writes_over_the_input_or_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.onnx");
    edgebench_graph::save(&edgebench_graph::fixtures::tiny_mlp(), &m).unwrap();
    let before = std::fs::read(&m).unwrap();
    let (code, _, err) = run(&[
        "rewrite",
        m.to_str().unwrap(),
        "--for",
        "wonnx",
        "-o",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is the input model"), "{err}");
    assert_eq!(std::fs::read(&m).unwrap(), before);
    let other = dir.path().join("other.onnx");
    std::fs::write(&other, b"mine").unwrap();
    let (code, _, err) = run(&[
        "rewrite",
        m.to_str().unwrap(),
        "--for",
        "wonnx",
        "-o",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), b"mine");
    let (code, _, err) = run(&[
        "rewrite",
        m.to_str().unwrap(),
        "--for",
        "nosuch",
        "-o",
        dir.path().join("x.onnx").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
}

#[test]
fn check_predicts_runs_after_rewrites_and_verify_runs_the_rewritten_model() {
    if !require(
        "the zoo model oww_hello_deepa_mlp",
        zoo_path("oww_hello_deepa_mlp").is_some(),
    ) || !require("wonnx", backend_available("wonnx"))
    {
        return;
    }
    let (code, out, err) = run(&[
        "check",
        "oww_hello_deepa_mlp",
        "--backend",
        "wonnx",
        "--verify",
        "--json",
    ]);
    assert_eq!(code, 7, "not runs as it is: {err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &d["models"][0]["backends"][0];
    assert_eq!(c["verdict"], "partial", "{c}");
    let after = &c["after_rewrites"];
    assert_eq!(after["verdict"], "runs", "{c}");
    assert!(
        after["rules"].to_string().contains("gemm-pretranspose-b"),
        "{c}"
    );
    assert_eq!(after["verification"]["verification"], "agree", "{c}");
    assert_eq!(d["verify_summary"]["cells"], 2);
    // A model that runs as it is gets no such prediction.
    let (_, out, _) = run(&["check", "tiny_mlp", "--backend", "wonnx", "--json"]);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        d["models"][0]["backends"][0]
            .get("after_rewrites")
            .is_none()
    );
}

#[test]
fn wonnx_runs_a_reshape_inside_the_graph_as_its_table_says() {
    use edgebench_graph::fixtures::Builder;
    let mut b = Builder::new("reshape_inside", 0);
    let x = b.input("x", &[1, 4, 6]);
    b.output("y", &[1, 24]);
    let a = b.node("Relu", &[&x], "a", &[1, 4, 6], vec![]);
    let shape = b.const_i64("shape", &[2], &[1, 24]);
    let r = b.node("Reshape", &[&a, &shape], "r", &[1, 24], vec![]);
    b.node("Relu", &[&r], "y", &[1, 24], vec![]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reshape_inside.onnx");
    edgebench_graph::save(&b.finish(13), &p).unwrap();
    let wonnx = backend_available("wonnx");
    let mut args = vec!["check", p.to_str().unwrap(), "--backend", "wonnx", "--json"];
    if require("wonnx", wonnx) {
        args.push("--verify");
    }
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &d["models"][0]["backends"][0];
    assert_eq!(c["verdict"], "runs", "{c}");
    if wonnx {
        assert_eq!(c["verification"], "agree", "{c}");
    }
}

#[test]
fn three_zoo_models_run_whole_on_wonnx_after_rewrites_and_agree_with_ort() {
    if !require(
        "the zoo models pplcnet_orientation, ppocr_mobile_v2_cls, magika_standard_v3_3 and wonnx",
        zoo_path("pplcnet_orientation").is_some()
            && zoo_path("ppocr_mobile_v2_cls").is_some()
            && zoo_path("magika_standard_v3_3").is_some()
            && backend_available("wonnx"),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // magika goes through one-hot-to-gather and fold-gather-matmul (its one-hot input feeds a 257-wide MatMul).
    for m in [
        "pplcnet_orientation",
        "ppocr_mobile_v2_cls",
        "magika_standard_v3_3",
    ] {
        let out = dir.path().join(format!("{m}.wonnx.onnx"));
        let (code, stdout, err) = run(&[
            "rewrite",
            m,
            "--for",
            "wonnx",
            "-o",
            out.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, 0, "{m}: {err}");
        let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(r["after"], "runs", "{m}: {r}");
        let (code, stdout, err) = run(&[
            "run",
            out.to_str().unwrap(),
            "--backend",
            "wonnx",
            "--compare",
            "ort",
        ]);
        assert_eq!(code, 0, "{m}: {err}");
        let line = stdout.lines().find(|l| l.contains("max abs err")).unwrap();
        let abs: f64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
        assert!(abs <= 1e-4, "{m}: wonnx differs from ort: {line}");
    }
}

/// The bench's wonnx fp32 cell of `model` (`--json` results), and stderr.
fn wonnx_cell(model: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "bench",
        model,
        "--backend",
        "ort",
        "--backend",
        "wonnx",
        "--max-time",
        "0.2",
        "--warmup",
        "0.02",
        "--json",
        "--out",
    ];
    args.push(out.path().to_str().unwrap());
    args.extend(extra);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let cell = j["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["backend"] == "wonnx" && c["variant"] == "fp32")
        .cloned()
        .unwrap();
    (cell, err)
}

#[test]
fn bench_runs_the_verified_rewrite_where_the_check_predicts_runs_after_rewrites() {
    if !require(
        "the zoo model oww_hello_deepa_mlp",
        zoo_path("oww_hello_deepa_mlp").is_some(),
    ) || !require("wonnx", backend_available("wonnx"))
        || !require("ONNX Runtime", backend_available("ort"))
    {
        return;
    }
    let (c, err) = wonnx_cell("oww_hello_deepa_mlp", &[]);
    assert_eq!(c["outcome"]["status"], "ok", "{c} {err}");
    let r = &c["rewrite"];
    assert_eq!(r["used"], true, "{c}");
    let rules: Vec<&str> = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"gemm-pretranspose-b") && rules.contains(&"pow-square-to-mul"),
        "{r}"
    );
    assert_eq!(r["reference"], "ort");
    assert!(r["drift"]["max_abs_error"].as_f64().unwrap() <= 1e-4, "{r}");
    // Judged against the original model on the reference backend, and agreeing.
    assert_eq!(c["agreement"]["reference"], "ort", "{c}");
    assert_eq!(c["agreement"]["agree"], true, "{c}");
    // The second run takes the rewrite from the cache: the same rules, no new rewriting.
    let (again, err) = wonnx_cell("oww_hello_deepa_mlp", &[]);
    assert_eq!(again["rewrite"]["rules"], r["rules"]);
    assert!(!err.contains("rewriting oww_hello_deepa_mlp"), "{err}");
    // --no-rewrite: the original model, as the table predicts (not whole on wonnx), and no rewrite record.
    let (orig, _) = wonnx_cell("oww_hello_deepa_mlp", &["--no-rewrite"]);
    assert!(orig.get("rewrite").is_none(), "{orig}");
    assert_ne!(orig["outcome"]["status"], "ok", "{orig}");
}
