//! The ai.onnx.ml ops tract implements beyond the ONNX suite's tests, and ONNX Runtime's (issue #20): a generated
//! model each, predicted to run on both from their tables, and `check --verify` runs them to prove it.

mod common;
use common::*;
use edgebench_graph::fixtures::Builder;
use edgebench_graph::{AttrValue, Attribute, DataType, Dim, Model, Node, ValueInfo, ValueType};
use std::path::{Path, PathBuf};

fn floats(name: &str, v: &[f32]) -> Attribute {
    attr(name, AttrValue::Floats(v.to_vec()))
}
fn ints(name: &str, v: &[i64]) -> Attribute {
    attr(name, AttrValue::Ints(v.to_vec()))
}
fn string(name: &str, v: &str) -> Attribute {
    attr(name, AttrValue::String(v.as_bytes().to_vec().into()))
}
fn strings(name: &str, v: &[&str]) -> Attribute {
    attr(
        name,
        AttrValue::Strings(v.iter().map(|s| s.as_bytes().to_vec().into()).collect()),
    )
}
fn attr(name: &str, value: AttrValue) -> Attribute {
    Attribute {
        name: name.into(),
        value,
        doc_string: String::new(),
    }
}

fn out(name: &str, dtype: DataType, dims: &[i64]) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        ty: Some(ValueType::Tensor {
            dtype,
            shape: Some(dims.iter().map(|d| Dim::Value(*d)).collect()),
        }),
        doc_string: String::new(),
        metadata: vec![],
    }
}

/// `x: float32[2, 3]` -> one ai.onnx.ml node -> the given outputs.
fn ml_model(op: &str, attrs: Vec<Attribute>, outputs: Vec<ValueInfo>) -> Model {
    let mut b = Builder::new(op, 0);
    b.input("x", &[2, 3]);
    let mut m = b.finish(13);
    m.opset_imports.insert("ai.onnx.ml".into(), 1);
    m.graph.nodes.push(Node {
        name: op.into(),
        op_type: op.into(),
        domain: "ai.onnx.ml".into(),
        inputs: vec!["x".into()],
        outputs: outputs.iter().map(|o| o.name.clone()).collect(),
        attributes: attrs,
        ..Default::default()
    });
    m.graph.outputs = outputs;
    m
}

fn save(dir: &Path, name: &str, m: &Model) -> PathBuf {
    let p = dir.join(format!("{name}.onnx"));
    edgebench_graph::save(m, &p).unwrap();
    p
}

#[test]
fn tracts_ml_ops_run_as_their_tables_say() {
    if !require("ONNX Runtime", backend_available("ort")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = DataType::Float;
    let files = [
        save(
            dir.path(),
            "normalizer",
            &ml_model(
                "Normalizer",
                vec![string("norm", "L2")],
                vec![out("y", f, &[2, 3])],
            ),
        ),
        save(
            dir.path(),
            "linear_regressor",
            &ml_model(
                "LinearRegressor",
                vec![
                    floats("coefficients", &[0.5, -1.0, 2.0]),
                    floats("intercepts", &[0.1]),
                    attr("targets", AttrValue::Int(1)),
                ],
                vec![out("y", f, &[2, 1])],
            ),
        ),
        save(
            dir.path(),
            "linear_classifier",
            &ml_model(
                "LinearClassifier",
                vec![
                    floats("coefficients", &[0.5, -1.0, 2.0, -0.5, 1.0, -2.0]),
                    floats("intercepts", &[0.0, 0.25]),
                    ints("classlabels_ints", &[0, 1]),
                ],
                vec![
                    out("label", DataType::Int64, &[2]),
                    out("scores", f, &[2, 2]),
                ],
            ),
        ),
        save(
            dir.path(),
            "tree_ensemble_classifier",
            &ml_model(
                "TreeEnsembleClassifier",
                vec![
                    ints("nodes_treeids", &[0, 0, 0]),
                    ints("nodes_nodeids", &[0, 1, 2]),
                    ints("nodes_featureids", &[0, 0, 0]),
                    strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
                    floats("nodes_values", &[0.0, 0.0, 0.0]),
                    ints("nodes_truenodeids", &[1, 0, 0]),
                    ints("nodes_falsenodeids", &[2, 0, 0]),
                    ints("class_treeids", &[0, 0]),
                    ints("class_nodeids", &[1, 2]),
                    ints("class_ids", &[0, 1]),
                    floats("class_weights", &[1.0, 1.0]),
                    ints("classlabels_int64s", &[0, 1]),
                ],
                vec![
                    out("label", DataType::Int64, &[2]),
                    out("scores", f, &[2, 2]),
                ],
            ),
        ),
    ];
    let mut args = vec![
        "check",
        "--backend",
        "tract",
        "--backend",
        "ort",
        "--verify",
        "--json",
    ];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "{err}\n{stdout}");
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for m in d["models"].as_array().unwrap() {
        for b in m["backends"].as_array().unwrap() {
            assert_eq!(
                b["verdict"], "runs",
                "{} on {}: {b}",
                m["model"], b["backend"]
            );
            assert_eq!(
                b["verification"], "agree",
                "{} on {}: {b}",
                m["model"], b["backend"]
            );
        }
    }
}

/// CategoryMapper maps int64 to strings, which edgebench's feeds and outputs do not hold: its entry is checked as a
/// prediction only, and a run says in one line what it cannot compare.
#[test]
fn category_mapper_is_predicted_to_run_and_a_run_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ml_model(
        "CategoryMapper",
        vec![
            ints("cats_int64s", &[1, 2]),
            strings("cats_strings", &["a", "b"]),
            string("default_string", "_"),
        ],
        vec![out("y", DataType::String, &[2, 3])],
    );
    m.graph.inputs[0].ty = Some(ValueType::Tensor {
        dtype: DataType::Int64,
        shape: Some(vec![Dim::Value(2), Dim::Value(3)]),
    });
    let p = save(dir.path(), "category_mapper", &m);
    let p = p.to_str().unwrap();
    let d = json(&[
        "check",
        p,
        "--backend",
        "tract",
        "--backend",
        "ort",
        "--json",
    ]);
    for b in d["models"][0]["backends"].as_array().unwrap() {
        assert_eq!(b["verdict"], "runs", "{b}");
    }
    let (code, _, err) = run(&["run", p, "--backend", "tract"]);
    assert!(code != 0 && code != 1, "{code}: {err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("edgebench: error:"))
            .count(),
        1,
        "{err}"
    );
}

/// `probe --backend tract --observe MODEL --out TABLE`: its standard output (the command must succeed).
fn observe(model: &str, table: &Path) -> String {
    let (code, stdout, err) = run(&[
        "probe",
        "--backend",
        "tract",
        "--observe",
        model,
        "--out",
        table.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    stdout
}

/// tract's table with `edit` applied, written to `dir`.
fn tract_table(dir: &Path, edit: impl Fn(&mut edgebench_compat::SupportTable)) -> PathBuf {
    let mut t = edgebench_compat::embedded("tract").unwrap().unwrap();
    edit(&mut t);
    let p = dir.join("tract.toml");
    std::fs::write(&p, t.to_toml()).unwrap();
    p
}

/// Three-valued knowledge (issue #20): an op a table does not list is *unknown*, `--verify` says what happened,
/// and `probe --observe` records it as an observed fact, after which the prediction is a verdict again.
#[test]
fn an_op_the_table_does_not_list_is_unknown_until_a_run_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // Normalizer is one of the names tract registers: without its entry, the table cannot say
    let table = tract_table(dir.path(), |t| t.op.retain(|e| e.op != "Normalizer"));
    let model = save(
        dir.path(),
        "normalizer",
        &ml_model(
            "Normalizer",
            vec![string("norm", "L2")],
            vec![out("y", DataType::Float, &[2, 3])],
        ),
    );
    let (m, t) = (
        model.to_str().unwrap(),
        format!("tract={}", table.display()),
    );
    let args = [
        "check",
        m,
        "--backend",
        "tract",
        "--table",
        &t,
        "--verify",
        "--json",
    ];
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 7, "unknown is not `runs`: {err}");
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let b = &d["models"][0]["backends"][0];
    assert_eq!(
        (&b["verdict"], &b["unknown_nodes"]),
        (&"unknown".into(), &1.into()),
        "{b}"
    );
    assert_eq!(b["unknown"][0]["reason"], "unknown-op");
    assert_eq!(
        (&b["verification"], &b["ran"]),
        (&"unknown".into(), &true.into()),
        "{b}"
    );
    assert_eq!(d["verify_summary"]["unknown"], 1);
    assert_eq!(
        d["predictions_held"], true,
        "an unknown cell is neither held nor wrong"
    );
    let stdout = observe(m, &table);
    assert!(
        stdout.contains("ran: ai.onnx.ml::Normalizer run (1 recorded)"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&table).unwrap();
    let learned = edgebench_compat::SupportTable::parse(&text, "t").unwrap();
    let c = learned
        .constraints("ai.onnx.ml", "Normalizer")
        .next()
        .unwrap();
    assert_eq!(
        (c.supported, c.source),
        (Some(true), edgebench_compat::Source::Observed)
    );
    assert!(
        c.note.contains("normalizer.onnx") || c.note.contains("normalizer"),
        "{}",
        c.note
    );
    let d = json(&["check", m, "--backend", "tract", "--table", &t, "--json"]);
    assert_eq!(d["models"][0]["backends"][0]["verdict"], "runs");
    // observing again learns nothing new and leaves the file as it is
    let stdout = observe(m, &table);
    assert!(stdout.contains("every op is in the table"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&table).unwrap(), text);
}

/// A failure is pinned on an op only when it is the one unknown op: Scaler, which tract does not register, with the
/// wildcard that documents that removed.
#[test]
fn a_failing_run_with_one_unknown_op_is_recorded_as_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let table = tract_table(dir.path(), |t| t.constraint.retain(|c| c.op != "*"));
    let model = save(
        dir.path(),
        "scaler",
        &ml_model(
            "Scaler",
            vec![
                floats("offset", &[0.0, 1.0, 2.0]),
                floats("scale", &[1.0, 2.0, 3.0]),
            ],
            vec![out("y", DataType::Float, &[2, 3])],
        ),
    );
    let t = format!("tract={}", table.display());
    let m = model.to_str().unwrap();
    let (code, d, _) = run(&["check", m, "--backend", "tract", "--table", &t, "--json"]);
    assert!(code == 7 && d.contains("\"verdict\": \"unknown\""), "{d}");
    let stdout = observe(m, &table);
    assert!(
        stdout.contains("failed: ai.onnx.ml::Scaler does not run (1 recorded)"),
        "{stdout}"
    );
    let learned =
        edgebench_compat::SupportTable::parse(&std::fs::read_to_string(&table).unwrap(), "t")
            .unwrap();
    assert_eq!(
        learned
            .constraints("ai.onnx.ml", "Scaler")
            .next()
            .unwrap()
            .supported,
        Some(false)
    );
    // with the documented wildcard, the embedded table already knows: no run needed
    let (code, d, _) = run(&["check", m, "--backend", "tract", "--json"]);
    let d: serde_json::Value = serde_json::from_str(&d).unwrap();
    let b = &d["models"][0]["backends"][0];
    assert_eq!(code, 7);
    assert_eq!(
        (&b["verdict"], &b["blocking"][0]["reason"]),
        (&"no".into(), &"not-supported".into()),
        "{b}"
    );
}
