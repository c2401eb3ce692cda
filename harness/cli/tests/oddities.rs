//! What real exported models do that hand-made ones don't (issue #20): each oddity as a generated model, and
//! `inspect`, `check`, `run` and `bench` each either handle it or say in one line why not — never an internal error.

mod common;
use common::*;
use edgebench_graph::fixtures::{Builder, int};
use edgebench_graph::{AttrValue, Attribute, DataType, Dim, Model, Tensor, ValueType, pb};
use prost::Message;
use std::path::{Path, PathBuf};

fn save(dir: &Path, name: &str, m: &Model) -> PathBuf {
    let p = dir.join(name);
    edgebench_graph::save(m, &p).unwrap();
    p
}

fn save_proto(dir: &Path, name: &str, m: &pb::ModelProto) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    p
}

/// `check`'s exit 7 (not every model runs on every backend) is a verdict; the other commands must succeed.
fn all_handled(codes: &[i32]) -> bool {
    codes.len() == 4
        && codes[0] == 0
        && (codes[1] == 0 || codes[1] == 7)
        && codes[2] == 0
        && codes[3] == 0
}

/// Runs a command and asserts it ended without an internal error: exit 0, or another documented code with a
/// one-line error. Returns (exit code, stdout, stderr).
fn no_internal_error(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = run(args);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("edgebench: error:"))
        .collect();
    assert!(
        code != 1 && !err.contains("panicked") && errors.len() <= 1,
        "{args:?}: exit {code}: {err}"
    );
    (code, out, err)
}

fn every_command(file: &Path, extra: &[&str]) -> Vec<i32> {
    let f = file.to_str().unwrap();
    let runs = file.with_extension("runs");
    let runs = runs.to_str().unwrap();
    let mut codes = vec![];
    for cmd in [
        vec!["inspect", f, "--json"],
        vec!["check", f, "--json"],
        vec!["run", f, "--json"],
        vec![
            "bench",
            f,
            "--backend",
            "tract",
            "--max-time",
            "0.2",
            "--out",
            runs,
            "--json",
        ],
    ] {
        let mut args = cmd.clone();
        args.extend_from_slice(extra);
        let (code, _, _) = no_internal_error(&args);
        codes.push(code);
    }
    codes
}

#[test]
fn an_output_dim_named_by_a_formula_is_a_name_not_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("formula", 0);
    b.input("x", &[1, 3, 8]);
    b.output("y", &[1, 3, 8]);
    b.node("Relu", &["x"], "y", &[1, 3, 8], vec![]);
    let mut m = b.finish(13);
    let dims = |last: Dim| Some(vec![Dim::Value(1), Dim::Value(3), last]);
    m.graph.inputs[0].ty = Some(ValueType::Tensor {
        dtype: DataType::Float,
        shape: dims(Dim::Param("height".into())),
    });
    m.graph.outputs[0].ty = Some(ValueType::Tensor {
        dtype: DataType::Float,
        shape: dims(Dim::Param(
            "(floor(floor(height/2 - 1/2)/2) + 1)*2 - 1".into(),
        )),
    });
    let f = save(dir.path(), "formula.onnx", &m);
    // The input's dim is the user's to give; the output's formula is never asked for.
    let codes = every_command(&f, &["--dim", "height=8"]);
    assert!(all_handled(&codes), "inspect, check, run, bench: {codes:?}");
    let j = json(&["run", f.to_str().unwrap(), "--dim", "height=8", "--json"]);
    assert_eq!(j["feed"][0], "x=float32[1,3,8]");
}

#[test]
fn the_same_domain_imported_twice_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = edgebench_graph::to_proto(&edgebench_graph::fixtures::tiny_mlp()).unwrap();
    p.opset_import.push(pb::OperatorSetIdProto {
        domain: Some(String::new()),
        version: Some(11),
    });
    let f = save_proto(dir.path(), "twice.onnx", &p);
    let codes = every_command(&f, &[]);
    assert!(all_handled(&codes), "inspect, check, run, bench: {codes:?}");
    // Read at the higher version, and said so.
    let (code, out, _) = run(&["check", f.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("imported more than once (also at version 11); read at version 13"),
        "{out}"
    );
}

#[test]
fn weights_held_only_in_constant_nodes_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("constants", 0);
    b.input("x", &[1, 4]);
    b.output("y", &[1, 2]);
    let w = Tensor::from_f32("w_value", &[4, 2], &[0.5; 8]);
    b.graph_node(
        "Constant",
        &[],
        "w",
        vec![Attribute {
            name: "value".into(),
            value: AttrValue::Tensor(Box::new(w)),
            doc_string: String::new(),
        }],
    );
    b.node("MatMul", &["x", "w"], "y", &[1, 2], vec![]);
    let m = b.finish(13);
    assert!(m.graph.initializers.is_empty());
    let f = save(dir.path(), "constants.onnx", &m);
    let codes = every_command(&f, &[]);
    assert!(all_handled(&codes), "inspect, check, run, bench: {codes:?}");
    let j = json(&["inspect", f.to_str().unwrap(), "--json"]);
    assert_eq!(j["total_params"], 8, "{j}");
    assert_eq!(j["flops"]["total_macs"], 8, "{j}");
}

#[test]
fn external_data_under_a_fixed_file_name_is_found_beside_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("external", 0);
    b.input("x", &[1, 4]);
    b.output("y", &[1, 4]);
    let w = b.weight("w", &[1, 4], 1.0);
    b.node("Add", &["x", &w], "y", &[1, 4], vec![]);
    let mut p = edgebench_graph::to_proto(&b.finish(13)).unwrap();
    let t = &mut p.graph.as_mut().unwrap().initializer[0];
    let raw = t.raw_data.take().unwrap();
    std::fs::write(dir.path().join("weights.pb"), &raw).unwrap();
    t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
    t.external_data = vec![
        pb::StringStringEntryProto {
            key: Some("location".into()),
            value: Some("weights.pb".into()),
        },
        pb::StringStringEntryProto {
            key: Some("length".into()),
            value: Some(raw.len().to_string()),
        },
    ];
    let f = save_proto(dir.path(), "external.onnx", &p);
    let codes = every_command(&f, &[]);
    assert!(all_handled(&codes), "inspect, check, run, bench: {codes:?}");
    let j = json(&["inspect", f.to_str().unwrap(), "--json"]);
    assert_eq!(j["external_data_tensors"], 1, "{j}");
}

#[test]
fn outputs_that_are_identity_copies_of_inputs_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("identity", 0);
    b.input("x", &[2, 3]);
    b.output("y", &[2, 3]);
    b.node("Identity", &["x"], "y", &[2, 3], vec![]);
    let f = save(dir.path(), "identity.onnx", &b.finish(13));
    let codes = every_command(&f, &[]);
    assert!(all_handled(&codes), "inspect, check, run, bench: {codes:?}");
    let j = json(&["run", f.to_str().unwrap(), "--json"]);
    assert_eq!(j["outputs"][0]["shape"], serde_json::json!([2, 3]));
}

#[test]
fn a_zipmap_classifier_of_ir_version_4_gets_a_verdict_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("zipmap", 0);
    b.input("x", &[1, 3]);
    b.output("probabilities", &[1, 3]);
    b.node(
        "Softmax",
        &["x"],
        "probabilities",
        &[1, 3],
        vec![int("axis", 1)],
    );
    let mut m = b.finish(13);
    m.ir_version = 4;
    m.opset_imports.insert("ai.onnx.ml".into(), 1);
    m.graph.nodes.push(edgebench_graph::Node {
        name: "zipmap".into(),
        op_type: "ZipMap".into(),
        domain: "ai.onnx.ml".into(),
        inputs: vec!["probabilities".into()],
        outputs: vec!["classes".into()],
        attributes: vec![Attribute {
            name: "classlabels_int64s".into(),
            value: AttrValue::Ints(vec![0, 1, 2]),
            doc_string: String::new(),
        }],
        ..Default::default()
    });
    m.graph.outputs.push(edgebench_graph::ValueInfo {
        name: "classes".into(),
        ty: Some(ValueType::Sequence {
            elem: Some(Box::new(ValueType::Map {
                key: DataType::Int64,
                value: Some(Box::new(ValueType::Tensor {
                    dtype: DataType::Float,
                    shape: None,
                })),
            })),
        }),
        doc_string: String::new(),
        metadata: vec![],
    });
    let f = save(dir.path(), "zipmap.onnx", &m);
    let f = f.to_str().unwrap();
    let (code, out, _) = no_internal_error(&["inspect", f, "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("ai.onnx.ml"), "{out}");
    let (code, _, _) = no_internal_error(&["check", f, "--json"]);
    assert!(code == 0 || code == 7, "{code}");
    for b in ["tract", "ort"] {
        if backend_available(b) {
            no_internal_error(&["run", f, "--backend", b, "--json"]);
            let out = dir.path().join("runs");
            let out = out.to_str().unwrap();
            no_internal_error(&[
                "bench",
                f,
                "--backend",
                b,
                "--max-time",
                "0.2",
                "--out",
                out,
                "--json",
            ]);
        }
    }
}
