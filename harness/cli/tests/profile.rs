//! `edgebench profile` and `bench --profile` on real backends (issue #21): every ONNX node of the fixtures and of
//! one zoo model gets a measured or attributed time or is folded, ORT's fused kernels are attributed to the nodes
//! they replaced, backends without a profiler say so. No timing is asserted.

mod common;
use common::*;

fn profiles(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["profile", "--runs", "3", "--warmup", "1", "--json"];
    a.extend(args);
    json(&a)
}

fn each_profiled(d: &serde_json::Value, mut f: impl FnMut(&str, &serde_json::Value)) {
    for m in d["models"].as_array().unwrap() {
        for p in m["profiles"].as_array().unwrap() {
            f(m["model"].as_str().unwrap(), p);
        }
    }
}

fn mapped_completely(model: &str, p: &serde_json::Value) {
    let backend = p["backend"].as_str().unwrap();
    assert_eq!(p["status"], "profiled", "{model} on {backend}: {p}");
    let n = p["onnx_nodes"].as_u64().unwrap();
    let timed = p["timed_nodes"].as_u64().unwrap();
    let folded = p["folded_nodes"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(
        timed + folded,
        n,
        "{model} on {backend}: every node timed or folded"
    );
    for node in p["nodes"].as_array().unwrap() {
        assert_ne!(node["timing"], "missing", "{model} on {backend}: {node}");
    }
}

#[test]
fn every_fixture_node_is_mapped_on_tract() {
    let d = profiles(&["small_cnn", "tiny_mlp", "attention_block", "-b", "tract"]);
    each_profiled(&d, |m, p| {
        mapped_completely(m, p);
        // fixtures compute nothing constant: every node has a time of its own or a share of its kernel's
        assert_eq!(p["folded_nodes"], 0, "{m}: {p}");
        assert!(p["overhead"].as_f64().unwrap() > 0.0);
        assert!(
            p["nodes"][0]["flops"].is_u64() || p["nodes"][0]["bytes"].is_u64(),
            "{m}: {p}"
        );
        assert!(
            p["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["support"] == "runs"),
            "{m}"
        );
    });
}

#[test]
fn onnx_runtimes_fused_kernels_are_attributed_to_the_nodes_they_replaced() {
    if !require("ONNX Runtime", backend_available("ort")) {
        return;
    }
    // small_cnn: ORT fuses each Conv with its Relu (NCHWc kernels named after the Relu's output).
    let d = profiles(&["small_cnn", "tiny_mlp", "-b", "ort"]);
    each_profiled(&d, mapped_completely);
    let cnn = &d["models"][0]["profiles"][0];
    let relu = cnn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "Relu_1")
        .unwrap();
    assert_eq!(relu["timing"], "attributed", "{relu}");
    let kernel = relu["backend_nodes"][0].as_str().unwrap();
    assert_ne!(
        kernel, "Relu_1",
        "attributed to the fused kernel, not to itself"
    );
    let conv = cnn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "Conv_0")
        .unwrap();
    assert_eq!(
        conv["backend_nodes"][0], kernel,
        "the Conv and its Relu share one kernel"
    );
}

#[test]
fn a_backend_without_a_profiler_says_so_and_nothing_is_invented() {
    if !require("wonnx", backend_available("wonnx")) {
        return;
    }
    let d = profiles(&["tiny_mlp", "-b", "wonnx"]);
    let p = &d["models"][0]["profiles"][0];
    assert_eq!(p["status"], "not-available", "{p}");
    assert_eq!(p["reason"], "per-op timing not available on this backend");
    assert!(p.get("nodes").is_none());
}

#[test]
fn a_zoo_model_is_mapped_completely() {
    let Some(path) = zoo_path("pplcnet_orientation") else {
        require("the cached zoo model pplcnet_orientation", false);
        return;
    };
    let path = path.to_str().unwrap();
    let mut args = vec![path, "-b", "tract"];
    if backend_available("ort") {
        args.extend(["-b", "ort"]);
    }
    each_profiled(&profiles(&args), mapped_completely);
}

#[test]
fn bench_profile_adds_a_profile_to_host_cells_only_after_their_timed_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let d = json(&[
        "bench",
        "tiny_mlp",
        "-b",
        "tract",
        "--profile",
        "--max-time",
        "0.2",
        "--out",
        out,
        "--json",
    ]);
    assert_eq!(d["settings"]["profile"], true);
    let c = &d["cells"][0];
    assert_eq!(c["outcome"]["status"], "ok");
    mapped_completely("tiny_mlp", &c["profile"]);
    // without --profile, no profile and no setting
    let d = json(&[
        "bench",
        "tiny_mlp",
        "-b",
        "tract",
        "--max-time",
        "0.2",
        "--out",
        out,
        "--json",
    ]);
    assert!(d["cells"][0].get("profile").is_none());
    assert!(d["settings"].get("profile").is_none());
}

#[test]
fn a_model_that_is_not_onnx_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.onnx");
    std::fs::write(&f, b"not a model").unwrap();
    let (code, _, err) = run(&["profile", f.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(error_lines(&err).len(), 1, "{err}");
}

#[test]
fn a_split_backend_is_profiled_per_partition_with_its_boundaries_as_rows() {
    if !require("wonnx", backend_available("wonnx")) {
        return;
    }
    let d = profiles(&["attention_block", "-b", "wonnx+tract"]);
    let p = &d["models"][0]["profiles"][0];
    assert_eq!(p["status"], "profiled", "{p}");
    let names: Vec<&str> = p["extra"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("partition(s) on wonnx")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("partition(s) on tract")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("boundaries")),
        "{names:?}"
    );
    assert_eq!(
        p["timed_nodes"], 0,
        "no per-node time is invented for the parts"
    );
}
