//! Backend constraints observed on real models (issue #20), each reproduced by a generated test model: the table
//! predicts what the backend then does, and the rewrite that works around it is verified.

mod common;
use common::*;
use edgebench_graph::fixtures::{Builder, ints};
use edgebench_graph::{AttrValue, Attribute, Model};
use std::path::{Path, PathBuf};

fn save(dir: &Path, name: &str, m: &Model) -> PathBuf {
    let p = dir.join(name);
    edgebench_graph::save(m, &p).unwrap();
    p
}

/// `x[1,1,6,6] -> Conv(3x3, auto_pad=VALID) -> y[1,1,4,4]`.
fn conv_valid() -> Model {
    let mut b = Builder::new("conv_valid", 3);
    b.input("x", &[1, 1, 6, 6]);
    b.output("y", &[1, 1, 4, 4]);
    let w = b.weight("w", &[1, 1, 3, 3], 0.5);
    b.node(
        "Conv",
        &["x", &w],
        "y",
        &[1, 1, 4, 4],
        vec![
            ints("kernel_shape", &[3, 3]),
            Attribute {
                name: "auto_pad".into(),
                value: AttrValue::String(b"VALID".to_vec().into()),
                doc_string: String::new(),
            },
        ],
    );
    b.finish(13)
}

#[test]
fn wonnx_refuses_auto_pad_valid_and_runs_it_as_explicit_pads() {
    if !require("wonnx", backend_available("wonnx")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = save(dir.path(), "conv_valid.onnx", &conv_valid());
    let f = f.to_str().unwrap();
    // What wonnx does with it.
    let (code, _, err) = run(&["run", f, "--backend", "wonnx"]);
    assert_ne!(code, 0);
    assert!(err.contains("auto_pad=VALID"), "{err}");
    // What the table predicts, and the verified rewrite.
    let (_, out, err) = run(&["check", f, "--backend", "wonnx", "--verify", "--json"]);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    let c = &d["models"][0]["backends"][0];
    assert_ne!(c["verdict"], "runs", "{c}");
    assert_eq!(c["blocking"][0]["reason"], "attribute-value", "{c}");
    assert_eq!(c["blocking"][0]["value"], "VALID", "{c}");
    assert_eq!(c["verification"], "agree", "{c}");
    let after = &c["after_rewrites"];
    assert_eq!(after["rules"], serde_json::json!(["explicit-pads"]), "{c}");
    assert_eq!(after["verification"]["verification"], "agree", "{c}");
}
