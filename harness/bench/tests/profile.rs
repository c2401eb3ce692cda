//! The mapping of a backend's raw per-op profile onto the ONNX graph (issue #21), on synthetic profiles: deterministic,
//! no timing. tiny_mlp's nodes: MatMul_0 (h0) Add_1 (h1) Relu_2 (h2) MatMul_3 (logits0) Add_4 (logits) Softmax_5.

use edgebench_backend_api::{NodeTime, OpProfile, RanNode};
use edgebench_bench::profile::{Context, analyse};
use edgebench_graph::fixtures;
use edgebench_report::profile::{NodeTiming, Profile};

fn row(name: &str, op: &str, onnx: &[&str], us: &[f64]) -> NodeTime {
    NodeTime {
        name: name.into(),
        op: op.into(),
        onnx: onnx.iter().map(|s| s.to_string()).collect(),
        us: us.to_vec(),
        provider: None,
    }
}

fn ran(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> RanNode {
    RanNode {
        name: name.into(),
        op: op.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
    }
}

fn analysed(raw: &OpProfile) -> Profile {
    let m = fixtures::tiny_mlp();
    let ctx = Context {
        backend: "b",
        model: &m,
        facts: None,
        unprofiled_p50_us: Some(10.0),
        roofs: None,
        check: None,
    };
    analyse(raw, &ctx)
}

fn node<'a>(p: &'a Profile, name: &str) -> &'a edgebench_report::profile::ProfileNode {
    p.nodes.iter().find(|n| n.node == name).unwrap()
}

#[test]
fn tract_rows_map_by_name_prefix_and_lowered_nodes_sum() {
    let raw = OpProfile {
        run_us: vec![20.0, 22.0, 21.0],
        nodes: vec![
            row("MatMul_0", "EinSum", &["MatMul_0"], &[4.0, 4.0, 4.0]),
            row("MatMul_0.pack", "Pack", &["MatMul_0"], &[1.0, 1.0, 1.0]),
            row("Add_1", "Add", &["Add_1"], &[1.0, 1.0, 1.0]),
            row("Relu_2", "Max", &["Relu_2"], &[1.0, 1.0, 1.0]),
            row("MatMul_3", "EinSum", &["MatMul_3"], &[3.0, 3.0, 3.0]),
            row("Add_4", "Add", &["Add_4"], &[1.0, 1.0, 1.0]),
            row("Softmax_5", "Softmax", &["Softmax_5"], &[2.0, 2.0, 2.0]),
            row("#17", "Copy", &[], &[0.5, 0.5, 0.5]),
        ],
        ..Default::default()
    };
    let p = analysed(&raw);
    assert_eq!((p.onnx_nodes, p.timed_nodes, p.folded_nodes), (6, 6, 0));
    let m = node(&p, "MatMul_0");
    assert_eq!((m.timing, m.p50_us), (NodeTiming::Measured, 5.0));
    assert_eq!(m.backend_nodes, vec!["MatMul_0", "MatMul_0.pack"]);
    assert_eq!(p.extra.len(), 1, "a row of no ONNX node is kept apart");
    assert_eq!(p.nodes_p50_sum_us, 13.5);
    assert_eq!((p.profiled_p50_us, p.unaccounted_us), (21.0, 7.5));
    assert_eq!(p.overhead, Some(2.1));
    assert_eq!(p.nodes[0].node, "MatMul_0", "slowest first");
    let share: f64 = p.nodes.iter().map(|n| n.share).sum::<f64>() + 0.5 / 13.5;
    assert!((share - 1.0).abs() < 1e-9);
}

#[test]
fn a_fused_kernel_is_split_among_the_nodes_it_replaced_by_the_unfused_pass() {
    // ORT-style: MatMul_0 + Add_1 + Relu_2 ran as one FusedGemm named after the first, found through its tensors.
    let raw = OpProfile {
        run_us: vec![12.0],
        nodes: vec![
            row("MatMul_0", "FusedGemm", &[], &[9.0]),
            row("MatMul_3", "MatMul", &[], &[2.0]),
            row("Add_4", "Add", &[], &[0.5]),
            row("Softmax_5", "Softmax", &[], &[0.5]),
            row("MemcpyToHost", "MemcpyToHost", &[], &[0.25]),
        ],
        ran: vec![
            ran("MatMul_0", "FusedGemm", &["x", "w1", "b1"], &["h2"]),
            ran("MatMul_3", "MatMul", &["h2", "w2"], &["logits0"]),
            ran("Add_4", "Add", &["logits0", "b2"], &["logits"]),
            ran("Softmax_5", "Softmax", &["logits"], &["probs"]),
        ],
        unfused: vec![
            row("MatMul_0", "MatMul", &[], &[6.0]),
            row("Add_1", "Add", &[], &[2.0]),
            row("Relu_2", "Relu", &[], &[1.0]),
        ],
        notes: vec![],
    };
    let p = analysed(&raw);
    assert_eq!((p.timed_nodes, p.folded_nodes), (6, 0));
    for (name, us) in [("MatMul_0", 6.0), ("Add_1", 2.0), ("Relu_2", 1.0)] {
        let n = node(&p, name);
        assert_eq!(n.timing, NodeTiming::Attributed, "{name}");
        assert!((n.p50_us - us).abs() < 1e-9, "{name}: {}", n.p50_us);
        assert_eq!(n.backend_nodes, vec!["MatMul_0"], "{name}");
    }
    assert_eq!(node(&p, "MatMul_3").timing, NodeTiming::Measured);
    assert_eq!(p.extra[0].name, "MemcpyToHost");
}

#[test]
fn nodes_the_optimiser_removed_are_folded_and_constant_chains_cost_nothing() {
    // ORT-style: Relu_2 is absent from the graph that ran, and no kernel stands for it.
    let raw = OpProfile {
        run_us: vec![5.0],
        nodes: ["MatMul_0", "Add_1", "MatMul_3", "Add_4", "Softmax_5"]
            .iter()
            .map(|n| row(n, &n[..n.find('_').unwrap()], &[], &[1.0]))
            .collect(),
        ran: ["MatMul_0", "Add_1", "MatMul_3", "Add_4", "Softmax_5"]
            .iter()
            .map(|n| ran(n, &n[..n.find('_').unwrap()], &[], &[]))
            .collect(),
        ..Default::default()
    };
    let p = analysed(&raw);
    assert_eq!((p.timed_nodes, p.folded_nodes), (5, 1));
    let r = node(&p, "Relu_2");
    assert_eq!((r.timing, r.p50_us), (NodeTiming::Folded, 0.0));
}

#[test]
fn without_the_graph_that_ran_an_absorbed_node_shares_its_neighbours_time() {
    // tract-style: Relu_2 was fused into Add_1's plan node; the unfused pass weighs them 3:1.
    let raw = OpProfile {
        run_us: vec![10.0],
        nodes: vec![
            row("MatMul_0", "EinSum", &["MatMul_0"], &[4.0]),
            row("Add_1", "Add", &["Add_1"], &[2.0]),
            row("MatMul_3", "EinSum", &["MatMul_3"], &[2.0]),
            row("Add_4", "Add", &["Add_4"], &[1.0]),
            row("Softmax_5", "Softmax", &["Softmax_5"], &[1.0]),
        ],
        unfused: vec![
            row("Add_1", "Add", &["Add_1"], &[3.0]),
            row("Relu_2", "Max", &["Relu_2"], &[1.0]),
        ],
        ..Default::default()
    };
    let p = analysed(&raw);
    assert_eq!((p.timed_nodes, p.folded_nodes), (6, 0));
    assert!((node(&p, "Add_1").p50_us - 1.5).abs() < 1e-9);
    assert!((node(&p, "Relu_2").p50_us - 0.5).abs() < 1e-9);
    assert_eq!(node(&p, "Relu_2").timing, NodeTiming::Attributed);
}

#[test]
fn the_profile_document_round_trips() {
    let raw = OpProfile {
        run_us: vec![3.0],
        nodes: vec![row("MatMul_0", "MatMul", &["MatMul_0"], &[3.0])],
        ..Default::default()
    };
    let p = edgebench_report::profile::ProfileOutcome::Profiled(Box::new(analysed(&raw)));
    let text = serde_json::to_string(&p).unwrap();
    let back: edgebench_report::profile::ProfileOutcome = serde_json::from_str(&text).unwrap();
    assert_eq!(back, p);
    assert!(text.contains("\"status\":\"profiled\""), "{text}");
}
