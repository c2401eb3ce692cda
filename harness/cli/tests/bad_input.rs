//! Every bad input ends in one clear line naming the file and the problem, a documented exit code, and no panic.

mod common;
use common::*;
use edgebench_graph::fixtures;
use std::path::Path;

const USAGE: i32 = 2;
const BAD_MODEL: i32 = 3;
const UNAVAILABLE: i32 = 4;

fn expect(args: &[&str], code: i32, needles: &[&str]) {
    let (c, _out, err) = run(args);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let lines = error_lines(&err);
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: expected one error line, got {err}"
    );
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{args:?}: `{}` does not mention `{n}`",
            lines[0]
        );
    }
    assert_eq!(c, code, "{args:?}: {}", lines[0]);
}

fn fixture_file(dir: &Path) -> String {
    let p = dir.join("mlp.onnx");
    edgebench_graph::save(&fixtures::tiny_mlp(), &p).unwrap();
    p.display().to_string()
}

#[test]
fn missing_file() {
    expect(
        &["inspect", "/no/such/model.onnx"],
        BAD_MODEL,
        &["/no/such/model.onnx", "no such file"],
    );
    expect(&["run", "./missing.onnx"], BAD_MODEL, &["missing.onnx"]);
}

#[test]
fn not_onnx_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.onnx");
    std::fs::write(
        &text,
        "just some text, definitely not a protobuf model\n".repeat(10),
    )
    .unwrap();
    expect(
        &["inspect", text.to_str().unwrap()],
        BAD_MODEL,
        &["notes.onnx", "not an ONNX model"],
    );
    let good = edgebench_graph::encode(&fixtures::small_cnn()).unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &good[..good.len() * 2 / 3]).unwrap();
    expect(
        &["run", cut.to_str().unwrap()],
        BAD_MODEL,
        &["cut.onnx", "truncated"],
    );
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    expect(
        &["inspect", empty.to_str().unwrap()],
        BAD_MODEL,
        &["empty.onnx", "empty"],
    );
    expect(
        &["inspect", dir.path().to_str().unwrap()],
        BAD_MODEL,
        &["directory"],
    );
}

#[test]
fn unknown_zoo_name_and_unknown_backend() {
    expect(
        &["inspect", "resnet9000"],
        BAD_MODEL,
        &["resnet9000", "zoo", "tiny_mlp"],
    );
    expect(
        &["models", "fetch", "resnet9000"],
        USAGE,
        &["resnet9000", "unknown zoo model"],
    );
    expect(
        &["run", "tiny_mlp", "--backend", "tensorrt"],
        USAGE,
        &["tensorrt", "unknown backend", "tract"],
    );
}

#[test]
fn feeds_of_the_wrong_shape_dtype_or_name() {
    let dir = tempfile::tempdir().unwrap();
    let m = fixture_file(dir.path());
    expect(
        &["run", &m, "--feed", "x=float32[1,65]"],
        USAGE,
        &["`x`", "[1, 64]", "[1, 65]"],
    );
    expect(
        &["run", &m, "--feed", "x=float32[64]"],
        USAGE,
        &["`x`", "[1, 64]"],
    );
    expect(
        &["run", &m, "--feed", "x=int64[1,64]"],
        USAGE,
        &["`x`", "float32", "int64"],
    );
    expect(
        &["run", &m, "--feed", "y=float32[1,64]"],
        USAGE,
        &["`y`", "not an input", "x"],
    );
    expect(
        &["run", &m, "--feed", "x=float32[1,"],
        USAGE,
        &["x=float32[1,", "expected NAME=DTYPE[SHAPE]"],
    );
    expect(
        &["run", &m, "--feed", "x=quaternion[1,64]"],
        USAGE,
        &["quaternion"],
    );
}

#[test]
fn external_data_escaping_the_folder() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let mut p = edgebench_graph::to_proto(&fixtures::tiny_mlp()).unwrap();
    let t = &mut p.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.data_location = Some(1);
    t.external_data = vec![edgebench_graph::pb::StringStringEntryProto {
        key: Some("location".into()),
        value: Some("../../etc/passwd".into()),
    }];
    let path = dir.path().join("escape.onnx");
    std::fs::write(&path, p.encode_to_vec()).unwrap();
    expect(
        &["inspect", path.to_str().unwrap()],
        BAD_MODEL,
        &["escape.onnx", "../../etc/passwd", "escapes"],
    );
}

#[test]
fn ort_library_missing_is_unavailable_not_a_panic() {
    let (c, out, err) = {
        let o = edgebench()
            .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
            .args(["doctor", "--json"])
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(c, 0, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ort = d["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "ort")
        .unwrap();
    assert_eq!(ort["compiled_in"], true);
    assert_eq!(ort["available"], false);
    assert!(
        ort["reason"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/libonnxruntime.so"),
        "{ort}"
    );
    let o = edgebench()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .args(["run", "tiny_mlp", "--backend", "ort"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(UNAVAILABLE), "{err}");
    assert!(!err.contains("panicked"));
    assert_eq!(error_lines(&err).len(), 1, "{err}");
    // a file that is not a library at all
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not an ELF").unwrap();
    let o = edgebench()
        .env("ORT_DYLIB_PATH", &fake)
        .args(["run", "tiny_mlp", "--backend", "ort"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(UNAVAILABLE), "{err}");
    assert!(error_lines(&err)[0].contains("cannot load"), "{err}");
}
