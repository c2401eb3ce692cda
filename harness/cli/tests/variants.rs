//! `edgebench variants` and `bench --variants`: each kind is made, judged against fp32 (drift, size, verdicts) and
//! written; calibration folders are read and checked; bad inputs write nothing; variant cells carry their ratios to
//! the fp32 cell.

mod common;
use common::*;
use std::path::Path;

/// Writes a format-1.0 `.npy` file by hand (an independent writer, so the reader is tested against the format, not
/// against its own writer).
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    std::fs::write(path, out).unwrap();
}

fn f32_bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            ((((i as u32).wrapping_mul(2654435761).wrapping_add(seed)) % 2000) as f32 / 1000.0
                - 1.0)
                .to_le_bytes()
        })
        .collect()
}

#[test]
fn every_kind_is_made_judged_and_written() {
    if !require("the tract backend", backend_available("tract")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    let r = json(&[
        "variants",
        "small_cnn",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    let vs = r["variants"].as_array().unwrap();
    let kinds: Vec<&str> = vs.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["fp16", "fp16-weights", "int8-dynamic", "int8-static"]
    );
    for v in vs {
        let kind = v["kind"].as_str().unwrap();
        let file = out.join(format!("small_cnn.{kind}.onnx"));
        assert!(file.is_file(), "{kind}: {}", file.display());
        assert_eq!(v["eval_feeds"], 32);
        let d = &v["drift"][0];
        assert_eq!(d["output"], "probs");
        assert_eq!(d["rows"], 32);
        // The fixture's classes are far apart: every kind keeps the top-1 class; fp16 stays very close.
        assert_eq!(d["top1_agreement"], 1.0, "{kind}: {v}");
        let cos = d["min_cosine"].as_f64().unwrap();
        assert!(
            cos > if kind.starts_with("fp16") {
                0.99999
            } else {
                0.999
            },
            "{kind}: {cos}"
        );
        assert!(v["size_ratio"].as_f64().unwrap() < 1.0, "{kind}: {v}");
        for b in ["tract", "ort", "wonnx"] {
            assert!(v["verdicts"][b].is_string(), "{kind}: {v}");
        }
        let m = edgebench_graph::load(&file).unwrap();
        let dtypes: Vec<edgebench_graph::DataType> =
            m.graph.initializers.iter().map(|t| t.dtype()).collect();
        let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
        match kind {
            "fp16" | "fp16-weights" => {
                assert!(dtypes.contains(&edgebench_graph::DataType::Float16))
            }
            "int8-dynamic" => assert!(
                ops.contains(&"DynamicQuantizeLinear") && ops.contains(&"ConvInteger"),
                "{ops:?}"
            ),
            _ => assert!(
                ops.contains(&"QuantizeLinear")
                    && dtypes.contains(&edgebench_graph::DataType::Int8)
            ),
        }
    }
    assert_eq!(vs[3]["calibration"], "seeded feeds (32 feeds)");
    assert_eq!(vs[3]["options"]["method"]["method"], "percentile");
    // The fp16 Gemm is a known tract limitation, so the check says so.
    assert_eq!(vs[0]["verdicts"]["tract"], "partial");
    assert!(out.join("variants.json").is_file());
    // Run again into the same folder: refused, nothing replaced.
    let before = std::fs::read(out.join("small_cnn.fp16.onnx")).unwrap();
    let (code, _, err) = run(&[
        "variants",
        "small_cnn",
        "--kinds",
        "fp16",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
    assert!(err.contains("small_cnn.fp16.onnx: exists"), "{err}");
    assert_eq!(
        std::fs::read(out.join("small_cnn.fp16.onnx")).unwrap(),
        before
    );
}

#[test]
fn calibration_folders_are_read_and_checked() {
    if !require("the tract backend", backend_available("tract")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("cal");
    let x = cal.join("x");
    std::fs::create_dir_all(&x).unwrap();
    for i in 0..4 {
        write_npy(
            &x.join(format!("{i:03}.npy")),
            "<f4",
            &[1, 3, 32, 32],
            &f32_bytes(3 * 32 * 32, i),
        );
    }
    let out = dir.path().join("v");
    let args = |out: &Path, cal: &Path| {
        vec![
            "variants".to_string(),
            "small_cnn".into(),
            "--kinds".into(),
            "int8-static".into(),
            "--calibration".into(),
            cal.display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ]
    };
    let a = args(&out, &cal);
    let (code, stdout, err) = run(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(&format!("calibrated on {} (4 feeds)", cal.display())),
        "{stdout}"
    );
    assert!(out.join("small_cnn.int8-static.onnx").is_file());

    // Each bad folder: exit 2, one line naming the file or folder, nothing written.
    let bad_cases: Vec<(&str, Box<dyn Fn(&Path)>, &str)> = vec![
        (
            "no folder for the input",
            Box::new(|c: &Path| std::fs::create_dir_all(c.join("y")).unwrap()),
            "no folder for input `x`",
        ),
        (
            "wrong shape",
            Box::new(|c: &Path| {
                std::fs::create_dir_all(c.join("x")).unwrap();
                write_npy(
                    &c.join("x/0.npy"),
                    "<f4",
                    &[1, 3, 16, 16],
                    &f32_bytes(3 * 16 * 16, 0),
                );
            }),
            "0.npy: shape [1, 3, 16, 16] does not fit input `x` [1, 3, 32, 32]",
        ),
        (
            "wrong dtype",
            Box::new(|c: &Path| {
                std::fs::create_dir_all(c.join("x")).unwrap();
                write_npy(
                    &c.join("x/0.npy"),
                    "<f8",
                    &[1, 3, 32, 32],
                    &vec![0u8; 8 * 3 * 32 * 32],
                );
            }),
            "0.npy: dtype <f8 does not fit input `x`",
        ),
        (
            "not npy",
            Box::new(|c: &Path| {
                std::fs::create_dir_all(c.join("x")).unwrap();
                std::fs::write(c.join("x/0.npy"), b"hello").unwrap();
            }),
            "0.npy: not a .npy file",
        ),
    ];
    for (what, make, want) in bad_cases {
        let c = dir.path().join(format!("bad-{}", what.replace(' ', "-")));
        make(&c);
        let o = dir.path().join(format!("out-{}", what.replace(' ', "-")));
        let a = args(&o, &c);
        let (code, _, err) = run(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        assert_eq!(code, 2, "{what}: {err}");
        let lines = error_lines(&err);
        assert_eq!(lines.len(), 1, "{what}: {err}");
        assert!(lines[0].contains(want), "{what}: {err}");
        assert!(!o.exists(), "{what}: something was written");
    }
}

#[test]
fn bad_variant_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    for (args, want) in [
        (
            vec!["--kinds", "int4"],
            "--kinds: `int4` is not a variant kind",
        ),
        (
            vec!["--calibration-method", "magic"],
            "--calibration-method: `magic`",
        ),
        (vec!["--eval-feeds", "8"], "--eval-feeds 8: at least 32"),
    ] {
        let mut a = vec!["variants", "small_cnn", "-o", o.to_str().unwrap()];
        a.extend(args);
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(error_lines(&err)[0].contains(want), "{a:?}: {err}");
        assert!(!o.exists());
    }
}

#[test]
fn variant_cells_carry_their_ratios_to_fp32() {
    if !require("the tract backend", backend_available("tract")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = edgebench()
        .env("EDGEBENCH_CACHE", &cache)
        .args([
            "bench",
            "small_cnn",
            "--backend",
            "tract",
            "--variants",
            "fp16-weights,int8-static",
            "--max-time",
            "0.3",
            "--out",
            dir.path().join("runs").to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = r["cells"].as_array().unwrap();
    let variants: Vec<&str> = cells
        .iter()
        .map(|c| c["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["fp32", "fp16-weights", "int8-static"]);
    assert!(cells[0].get("delta").is_none());
    for c in &cells[1..] {
        assert_eq!(c["outcome"]["status"], "ok", "{c}");
        let d = &c["delta"];
        assert!(d["latency_ratio"].as_f64().unwrap() > 0.0, "{c}");
        assert!(d["peak_memory_ratio"].as_f64().unwrap() > 0.0, "{c}");
        assert!(d["size_ratio"].as_f64().unwrap() < 1.0, "{c}");
        assert_eq!(d["drift"][0]["output"], "probs");
    }
    let recs = r["variants"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert!(
        recs.iter()
            .all(|v| v["model"] == "small_cnn" && v["reference"].is_string())
    );
    // The variants were cached: a second plan reuses them.
    assert_eq!(
        std::fs::read_dir(cache.join("variants")).unwrap().count(),
        1
    );
}
