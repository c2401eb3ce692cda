//! check, check --verify and probe from the command line.

mod common;
use common::*;
use std::path::PathBuf;

const NOT_ALL_RUN: i32 = 7;

fn conformance_dir() -> Option<PathBuf> {
    let cache = json(&["doctor", "--json"])["cache"].as_str()?.to_string();
    let d = PathBuf::from(cache).join("onnx-conformance-1.22.0");
    d.join("node").is_dir().then_some(d)
}

/// Validation's required-input table must not reject valid ONNX: every conformance node model, light model and zoo
/// model passes it.
#[test]
fn no_real_model_is_rejected_for_its_node_arity() {
    let Some(dir) = conformance_dir() else {
        require("the conformance data in the cache", false);
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("node"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("model.onnx"))
        .chain(
            std::fs::read_dir(dir.join("light"))
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        )
        .filter(|p| p.extension().is_some_and(|x| x == "onnx") && p.is_file())
        .collect();
    let zoo = json(&["models", "list", "--json"]);
    files.extend(
        zoo.as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["cached"].as_str().map(PathBuf::from)),
    );
    assert!(files.len() > 1765, "{} files", files.len());
    let mut rejected = vec![];
    for f in &files {
        let m = edgebench_graph::load(f).unwrap();
        for x in edgebench_graph::validate::validate(&m) {
            if x.message.contains("requires") || x.message.contains("has no output") {
                rejected.push(format!("{}: {}", f.display(), x.message));
            }
        }
    }
    assert!(rejected.is_empty(), "{rejected:#?}");
}

#[test]
fn check_predictions_hold_on_the_zoo_the_light_models_and_the_fixtures() {
    let ready = zoo_path("minilm_l6_v2_int8w").is_some() && conformance_dir().is_some();
    if !require("the zoo and the conformance data in the cache", ready)
        || !require(
            "all three backends",
            ["ort", "wonnx"].iter().all(|b| backend_available(b)),
        )
    {
        return;
    }
    let out = edgebench()
        .args([
            "check",
            "--zoo",
            "--light",
            "tiny_mlp",
            "small_cnn",
            "attention_block",
            "--verify",
            "--json",
        ])
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut wrong = vec![];
    for m in d["models"].as_array().unwrap() {
        for b in m["backends"].as_array().unwrap() {
            if b["verification"] != "agree" {
                wrong.push(format!(
                    "{} on {}: {} ({})",
                    m["model"], b["backend"], b["verification"], b["error"]
                ));
            }
            // "runs after rewrites" is a prediction too: the rewritten model was run.
            if let Some(v) = b.get("after_rewrites").map(|a| &a["verification"]) {
                if v["verification"] != "agree" {
                    wrong.push(format!(
                        "{} on {} after rewrites: {v}",
                        m["model"], b["backend"]
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "predictions that did not hold:\n{}",
        wrong.join("\n")
    );
    // 7 ONNX and 4 TFLite zoo models, 9 light models, 3 fixtures
    assert_eq!(d["models"].as_array().unwrap().len(), 11 + 9 + 3);
    assert_eq!(d["predictions_held"], true);
    // not everything runs everywhere, so the exit code says so
    assert_eq!(out.status.code(), Some(NOT_ALL_RUN));
}

#[test]
fn check_json_names_blocking_nodes_reasons_and_partitions() {
    let (code, out, err) = run(&[
        "check",
        "attention_block",
        "tiny_mlp",
        "--backend",
        "wonnx",
        "--backend",
        "tract",
        "--json",
    ]);
    assert_eq!(code, NOT_ALL_RUN, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["format_version"], 3);
    let att = &d["models"][0]["backends"][0];
    assert_eq!(att["backend"], "wonnx");
    assert_eq!(att["verdict"], "partial");
    let b = att["blocking"].as_array().unwrap();
    assert!(
        b.iter()
            .any(|x| x["op"] == "MatMul" && x["reason"] == "shape"),
        "{att}"
    );
    assert!(att["partitions"]["count"].as_u64().unwrap() >= 2);
    assert_eq!(d["models"][1]["backends"][1]["verdict"], "runs");
}

#[test]
fn check_reports_structural_problems_without_panicking() {
    use edgebench_graph::fixtures;
    let dir = tempfile::tempdir().unwrap();
    let mut m = fixtures::tiny_mlp();
    m.graph.nodes[2].inputs[0] = "logits".into(); // Relu <- last Add: a cycle
    let cyc = dir.path().join("cycle.onnx");
    edgebench_graph::save(&m, &cyc).unwrap();
    let mut m = fixtures::tiny_mlp();
    m.graph.nodes[1].inputs[1] = "nowhere".into();
    m.opset_imports.insert("Paddle".into(), 1);
    let dangling = dir.path().join("dangling.onnx");
    edgebench_graph::save(&m, &dangling).unwrap();
    let mut m = fixtures::tiny_mlp();
    m.graph.nodes[3].op_type = String::new();
    let empty = dir.path().join("empty_op.onnx");
    edgebench_graph::save(&m, &empty).unwrap();
    let (code, out, err) = run(&[
        "check",
        cyc.to_str().unwrap(),
        dangling.to_str().unwrap(),
        empty.to_str().unwrap(),
        "--backend",
        "tract",
        "--json",
    ]);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, NOT_ALL_RUN, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let findings = |i: usize| d["models"][i]["backends"][0]["findings"].to_string();
    assert_eq!(d["models"][0]["backends"][0]["verdict"], "no");
    assert!(findings(0).contains("cycle"), "{}", findings(0));
    assert!(
        findings(1).contains("`nowhere`") && findings(1).contains("Paddle"),
        "{}",
        findings(1)
    );
    assert!(findings(2).contains("empty op type"), "{}", findings(2));
}

#[test]
fn check_bad_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[header]\nbackend = 3\n").unwrap();
    for (args, code, needle) in [
        (
            vec!["check", "tiny_mlp", "--backend", "tensorrt"],
            2,
            "tensorrt",
        ),
        (
            vec![
                "check",
                "tiny_mlp",
                "--backend",
                "tract",
                "--table",
                &format!("tract={}", bad.display()),
            ],
            2,
            "bad.toml",
        ),
        (
            vec!["check", "tiny_mlp", "--table", "nonsense"],
            2,
            "BACKEND=PATH",
        ),
        (vec!["check"], 2, "MODEL"),
        (vec!["check", "/no/such.onnx"], 3, "/no/such.onnx"),
    ] {
        let (c, _, err) = run(&args);
        let lines = error_lines(&err);
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(needle), "{args:?}: {}", lines[0]);
        assert_eq!(c, code, "{args:?}: {}", lines[0]);
    }
}

#[test]
fn probe_classifies_outcomes_and_merges_a_filtered_run_into_the_table() {
    let Some(conf) = conformance_dir() else {
        require("the conformance data in the cache", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("tract.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../backends/tract/ops.toml"),
        &table,
    )
    .unwrap();
    let before = std::fs::read_to_string(&table).unwrap();
    let outcomes = dir.path().join("o.jsonl");
    let node = conf.join("node");
    let (code, out, err) = run(&[
        "probe",
        "--backend",
        "tract",
        "--tests",
        node.to_str().unwrap(),
        "--filter",
        "test_relu",
        "--out",
        table.to_str().unwrap(),
        "--outcomes",
        outcomes.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pass"), "{out}");
    let after = std::fs::read_to_string(&table).unwrap();
    // the subset run keeps every other op and the hand-kept constraints
    assert_eq!(
        before.matches("[[op]]").count(),
        after.matches("[[op]]").count()
    );
    assert!(after.contains("source = \"observed\""));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&outcomes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|o| o["test"].as_str().unwrap().contains("test_relu"))
    );
    assert!(
        lines
            .iter()
            .any(|o| o["status"] == "pass" && o["op"][1] == "Relu")
    );
    // a test that cannot finish in time is a timeout, one whose model is garbage a crash; the run goes on
    let fake = dir.path().join("tests");
    std::fs::create_dir_all(fake.join("test_garbage")).unwrap();
    std::fs::write(fake.join("test_garbage/model.onnx"), b"garbage").unwrap();
    std::fs::create_dir_all(fake.join("test_relu_copy")).unwrap();
    for e in walk(&node.join("test_relu")) {
        let rel = e.strip_prefix(node.join("test_relu")).unwrap();
        let to = fake.join("test_relu_copy").join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, to).unwrap();
    }
    let t2 = dir.path().join("t2.toml");
    let o2 = dir.path().join("o2.jsonl");
    let (code, _, err) = run(&[
        "probe",
        "--backend",
        "tract",
        "--tests",
        fake.to_str().unwrap(),
        "--out",
        t2.to_str().unwrap(),
        "--outcomes",
        o2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let o2 = std::fs::read_to_string(&o2).unwrap();
    assert!(
        o2.contains("\"test\":\"test_garbage\"") && o2.contains("\"status\":\"crash\""),
        "{o2}"
    );
    assert!(
        o2.contains("\"test\":\"test_relu_copy\"") && o2.contains("\"status\":\"pass\""),
        "{o2}"
    );
    for (fault, status) in [("hang", "timeout"), ("abort", "crash")] {
        let o3 = dir.path().join(format!("{fault}.jsonl"));
        let out = edgebench()
            .env("EDGEBENCH_FAULT", fault)
            .args([
                "probe",
                "--backend",
                "tract",
                "--tests",
                fake.to_str().unwrap(),
                "--timeout",
                "2",
                "--out",
            ])
            .arg(&t2)
            .arg("--outcomes")
            .arg(&o3)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let o3 = std::fs::read_to_string(&o3).unwrap();
        assert_eq!(
            o3.matches(&format!("\"status\":\"{status}\"")).count(),
            2,
            "{fault}: {o3}"
        );
    }
}

fn walk(d: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
