//! Rewrites verified on a real backend (tract): a correct rule is applied with its measured drift, a deliberately
//! wrong rule (test-only) is rolled back and reported, and the model it would have produced is never returned.

use edgebench_backend_api::{Backend, HostTensor, InputSpec};
use edgebench_bench::verify::{Inferred, Reference};
use edgebench_compat::SupportTable;
use edgebench_graph::fixtures::{Builder, int};
use edgebench_graph::{DataType, Model};
use edgebench_rewrite::{Ctx, Edit, Patch, Rule, StepStatus, registry, rewrite};

/// Wrong on purpose: Relu(x) "rewritten" as Neg(x).
struct ReluAsNeg;

impl Rule for ReluAsNeg {
    fn name(&self) -> &'static str {
        "test-relu-as-neg"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Relu"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        let mut n = model.graph.nodes[index].clone();
        n.op_type = "Neg".into();
        Some(Patch {
            nodes: vec![n.name.clone()],
            edits: vec![Edit::Replace {
                index,
                with: vec![n],
            }],
        })
    }
}

fn table(backend: &str) -> SupportTable {
    edgebench_compat::embedded(backend).unwrap().unwrap()
}

fn feeds(specs: &[InputSpec]) -> Vec<Vec<(String, HostTensor)>> {
    (0..8)
        .map(|seed| {
            specs
                .iter()
                .map(|s| {
                    let spec = edgebench_models::FeedSpec {
                        name: s.name.clone(),
                        dtype: s.dtype,
                        shape: s.shape.clone(),
                        fill: edgebench_models::Fill::Random,
                    };
                    (
                        s.name.clone(),
                        edgebench_models::make_feed(&spec, seed).unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

fn spec(name: &str, shape: &[usize]) -> Vec<InputSpec> {
    vec![InputSpec {
        name: name.into(),
        dtype: DataType::Float,
        shape: shape.to_vec(),
    }]
}

#[test]
fn a_wrong_rule_is_rolled_back_with_its_measured_error() {
    let tract = edgebench_backend_tract::Tract;
    let model = edgebench_graph::fixtures::tiny_mlp();
    // A table in which Relu does not run, so that the rule is tried on it.
    let mut t = table("tract");
    for e in t.op.iter_mut().filter(|e| e.op == "Relu") {
        e.supported = false;
    }
    let specs = spec("x", &[1, 64]);
    let verify =
        Reference::new(&tract as &dyn Backend, &model, specs.clone(), feeds(&specs)).unwrap();
    let oracle = Inferred {
        backend: &tract,
        specs,
    };
    let done = rewrite(&model, &t, &[&ReluAsNeg], &oracle, &verify, 4);
    assert_eq!(done.log.len(), 1, "{:?}", done.log);
    let step = &done.log[0];
    assert_eq!(step.rule, "test-relu-as-neg");
    assert!(
        matches!(step.status, StepStatus::RolledBack { .. }),
        "{step:?}"
    );
    let d = step.drift.as_ref().unwrap();
    assert!(!d.within && d.max_abs_error > 1e-3, "{d:?}");
    // The model handed back is the original (named nodes aside): Relu is still there.
    let ops: Vec<&str> = done
        .model
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert!(ops.contains(&"Relu") && !ops.contains(&"Neg"), "{ops:?}");
}

/// x[1,8] -> Gemm(W[4,8], transB=1) -> Relu -> y[1,4]: wonnx compiles Gemm only with transB=0.
fn gemm_trans_b() -> Model {
    let mut b = Builder::new("gemm_tb", 3);
    let x = b.input("x", &[1, 8]);
    b.output("y", &[1, 4]);
    let w = b.weight("w", &[4, 8], 0.5);
    let c = b.weight("c", &[4], 0.1);
    let h = b.node("Gemm", &[&x, &w, &c], "h", &[1, 4], vec![int("transB", 1)]);
    b.node("Relu", &[&h], "y", &[1, 4], vec![]);
    b.finish(13)
}

#[test]
fn gemm_with_trans_b_is_pretransposed_and_verified_for_wonnx() {
    let tract = edgebench_backend_tract::Tract;
    let model = gemm_trans_b();
    let specs = spec("x", &[1, 8]);
    let verify =
        Reference::new(&tract as &dyn Backend, &model, specs.clone(), feeds(&specs)).unwrap();
    let oracle = Inferred {
        backend: &tract,
        specs,
    };
    let all = registry::all();
    let done = rewrite(&model, &table("wonnx"), &all, &oracle, &verify, 8);
    assert_eq!(done.before, edgebench_compat::Verdict::Partial);
    assert_eq!(
        done.after,
        edgebench_compat::Verdict::Runs,
        "{:?}",
        done.log
    );
    let step = done
        .log
        .iter()
        .find(|s| s.rule == "gemm-pretranspose-b")
        .unwrap();
    assert_eq!(step.status, StepStatus::Applied);
    assert!(step.drift.as_ref().unwrap().max_abs_error < 1e-5);
    let gemm = &done.model.graph.nodes[0];
    assert_eq!(gemm.attr_int("transB"), Some(0));
    assert!(
        done.tolerance.contains("8 seeded feeds"),
        "{}",
        done.tolerance
    );
}

/// x[1,4,6,6] -> HardSigmoid -> HardSwish -> Max(., x) -> Slice(axis 3, 1..5) -> GlobalMaxPool -> Squeeze(2, 3)
/// -> Unsqueeze(1) -> MatMul(W[4,6]) (rank 3) -> y[1,1,6]: every op wonnx has no passing test for, each with a rule.
fn narrow_ops() -> Model {
    let mut b = Builder::new("narrow", 5);
    let x = b.input("x", &[1, 4, 6, 6]);
    b.output("y", &[1, 1, 6]);
    let hs = b.node("HardSigmoid", &[&x], "hs", &[1, 4, 6, 6], vec![]);
    let hw = b.node("HardSwish", &[&hs], "hw", &[1, 4, 6, 6], vec![]);
    let mx = b.node("Max", &[&hw, &x], "mx", &[1, 4, 6, 6], vec![]);
    let st = b.const_i64("st", &[1], &[1]);
    let en = b.const_i64("en", &[1], &[5]);
    let ax = b.const_i64("ax", &[1], &[3]);
    let sl = b.node("Slice", &[&mx, &st, &en, &ax], "sl", &[1, 4, 6, 4], vec![]);
    let gp = b.node("GlobalMaxPool", &[&sl], "gp", &[1, 4, 1, 1], vec![]);
    let sq_axes = b.const_i64("sq_axes", &[2], &[2, 3]);
    let sq = b.node("Squeeze", &[&gp, &sq_axes], "sq", &[1, 4], vec![]);
    let un_axes = b.const_i64("un_axes", &[1], &[1]);
    let un = b.node("Unsqueeze", &[&sq, &un_axes], "un", &[1, 1, 4], vec![]);
    // wonnx multiplies matrices whose last dimensions are even only.
    let w = b.weight("w", &[4, 6], 0.5);
    b.node("MatMul", &[&un, &w], "y", &[1, 1, 6], vec![]);
    b.finish(13)
}

#[test]
fn narrow_backend_rules_decompose_and_relayout_verified_on_tract() {
    let tract = edgebench_backend_tract::Tract;
    let model = narrow_ops();
    let specs = spec("x", &[1, 4, 6, 6]);
    let verify =
        Reference::new(&tract as &dyn Backend, &model, specs.clone(), feeds(&specs)).unwrap();
    let oracle = Inferred {
        backend: &tract,
        specs,
    };
    let all = registry::all();
    let done = rewrite(&model, &table("wonnx"), &all, &oracle, &verify, 12);
    let applied: Vec<&str> = done
        .log
        .iter()
        .filter(|s| s.status == StepStatus::Applied)
        .map(|s| s.rule)
        .collect();
    for r in [
        "decompose-hardsigmoid",
        "decompose-hardswish-clip",
        "decompose-max-min",
        "slice-to-split",
        "globalmaxpool-to-reducemax",
        "squeeze-unsqueeze-to-reshape",
        "matmul-batch-to-2d",
    ] {
        assert!(applied.contains(&r), "{r} not applied: {:?}", done.log);
    }
    assert!(
        done.log.iter().all(|s| s.status == StepStatus::Applied),
        "{:?}",
        done.log
    );
    assert_eq!(done.before, edgebench_compat::Verdict::No);
    let shapes = edgebench_graph::stats::ShapeMap::from_model(&done.model, &Default::default());
    let c = edgebench_compat::check(&done.model, &table("wonnx"), &shapes);
    let why: Vec<&str> = c.blocking.iter().map(|b| b.message.as_str()).collect();
    assert_eq!(done.after, edgebench_compat::Verdict::Runs, "{why:?}");
    // The final model still computes the original (the driver verified every step; check the end result too).
    let d = edgebench_rewrite::Verify::drift(&verify, &done.model).unwrap();
    assert!(d.within && d.max_abs_error < 1e-5, "{d:?}");
}

#[test]
fn shape_chains_fold_to_constants() {
    // x[2,3] -> Shape -> Gather(1) -> Unsqueeze -> Concat([-1]) -> Reshape(x) -> y[6/3..]: the shape is constant.
    let mut b = Builder::new("shape_chain", 1);
    let x = b.input("x", &[2, 3]);
    b.output("y", &[3, 2]);
    b.graph_node("Shape", &[&x], "s", vec![]);
    let one = b.const_i64("one", &[], &[1]);
    b.graph_node("Gather", &["s", &one], "d1", vec![int("axis", 0)]);
    let zero = b.const_i64("zero", &[1], &[0]);
    b.graph_node("Unsqueeze", &["d1", &zero], "d1u", vec![]);
    let m1 = b.const_i64("m1", &[1], &[-1]);
    b.graph_node("Concat", &["d1u", &m1], "shape", vec![int("axis", 0)]);
    b.node("Reshape", &[&x, "shape"], "y", &[3, 2], vec![]);
    let model = b.finish(13);
    let p = edgebench_rewrite::consteval::fold(&model, None);
    let mut m = model.clone();
    p.apply(&mut m);
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Reshape"], "{ops:?}");
    let shape = m
        .graph
        .initializers
        .iter()
        .find(|t| t.name() == "shape")
        .unwrap();
    assert_eq!(
        shape.data_bytes().unwrap().as_ref(),
        [3i64, -1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    );
}

/// x[1,8] -> LayerNormalization -> Softplus -> Mish -> Clip(min 0) -> MatMul(DequantizeLinear(int8 W, per column))
/// -> Add(Cast(int8 b) * s) -> Gemm(W2, transB) -> y[1,4].
fn more_ops() -> Model {
    let mut b = Builder::new("more", 7);
    let x = b.input("x", &[1, 8]);
    b.output("y", &[1, 4]);
    let g = b.weight("g", &[8], 1.0);
    let be = b.weight("be", &[8], 0.1);
    let ln = b.node(
        "LayerNormalization",
        &[&x, &g, &be],
        "ln",
        &[1, 8],
        vec![int("axis", -1)],
    );
    let sp = b.node("Softplus", &[&ln], "sp", &[1, 8], vec![]);
    let mi = b.node("Mish", &[&sp], "mi", &[1, 8], vec![]);
    let zero = b.weight("zero", &[], 0.0);
    let cl = b.node("Clip", &[&mi, &zero], "cl", &[1, 8], vec![]);
    let q: Vec<u8> = (0..48)
        .map(|i| ((i * 37 % 255) as i32 - 127) as i8 as u8)
        .collect();
    b.initializer(edgebench_graph::Tensor::from_raw(
        "wq",
        DataType::Int8,
        &[8, 6],
        q,
    ));
    b.initializer(edgebench_graph::Tensor::from_f32(
        "ws",
        &[6],
        &[0.01, 0.02, 0.03, 0.01, 0.02, 0.03],
    ));
    b.initializer(edgebench_graph::Tensor::from_raw(
        "wz",
        DataType::Int8,
        &[6],
        vec![0; 6],
    ));
    b.graph_node(
        "DequantizeLinear",
        &["wq", "ws", "wz"],
        "w",
        vec![int("axis", 1)],
    );
    let mm = b.node("MatMul", &[&cl, "w"], "mm", &[1, 6], vec![]);
    b.initializer(edgebench_graph::Tensor::from_raw(
        "bq",
        DataType::Int8,
        &[6],
        vec![1, 2, 3, 250, 5, 6],
    ));
    b.graph_node("Cast", &["bq"], "bf", vec![int("to", 1)]);
    let s = b.weight("bs", &[], 0.05);
    b.graph_node("Mul", &["bf", &s], "bias", vec![]);
    let ad = b.node("Add", &[&mm, "bias"], "ad", &[1, 6], vec![]);
    let w2 = b.weight("w2", &[4, 6], 0.5);
    b.node("Gemm", &[&ad, &w2], "y", &[1, 4], vec![int("transB", 1)]);
    b.finish(17)
}

#[test]
fn dequantization_normalisation_and_activation_rules_verified_on_tract() {
    let tract = edgebench_backend_tract::Tract;
    let model = more_ops();
    let specs = spec("x", &[1, 8]);
    let verify =
        Reference::new(&tract as &dyn Backend, &model, specs.clone(), feeds(&specs)).unwrap();
    let oracle = Inferred {
        backend: &tract,
        specs,
    };
    // wonnx's table, with Gemm, Softplus and Clip taken away so that their rules are needed too.
    let mut t = table("wonnx");
    for e in
        t.op.iter_mut()
            .filter(|e| ["Gemm", "Softplus", "Clip"].contains(&e.op.as_str()))
    {
        e.supported = false;
    }
    t.constraint.retain(|c| c.op != "Gemm");
    let all = registry::all();
    let done = rewrite(&model, &t, &all, &oracle, &verify, 12);
    let applied: Vec<&str> = done
        .log
        .iter()
        .filter(|s| s.status == StepStatus::Applied)
        .map(|s| s.rule)
        .collect();
    for r in [
        "decompose-layernorm",
        "decompose-softplus-mish",
        "clip-bounds",
        "dequantize-weights",
        "fold-cast-weights",
        "gemm-to-matmul-add",
    ] {
        assert!(applied.contains(&r), "{r} not applied: {:?}", done.log);
    }
    let ops: Vec<&str> = done
        .model
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    for gone in [
        "LayerNormalization",
        "Softplus",
        "Mish",
        "Clip",
        "DequantizeLinear",
        "Cast",
        "Gemm",
    ] {
        assert!(!ops.contains(&gone), "{gone} left: {ops:?}");
    }
    let d = edgebench_rewrite::Verify::drift(&verify, &done.model).unwrap();
    assert!(d.within, "{d:?}");
}

#[test]
fn an_opset_18_model_is_translated_down_to_what_wonnx_accepts() {
    // x[2,6] -> ReduceMean(axes input [1], keepdims) -> Sub -> Softmax(last axis) -> y: opset 18, where wonnx's
    // Softmax stops at 15 and ReduceMean takes its axes as an input.
    let mut b = Builder::new("opset18", 2);
    let x = b.input("x", &[2, 6]);
    b.output("y", &[2, 6]);
    let axes = b.const_i64("axes", &[1], &[1]);
    let mean = b.node(
        "ReduceMean",
        &[&x, &axes],
        "mean",
        &[2, 1],
        vec![int("keepdims", 1)],
    );
    let d = b.node("Sub", &[&x, &mean], "d", &[2, 6], vec![]);
    b.node("Softmax", &[&d], "y", &[2, 6], vec![int("axis", -1)]);
    let model = b.finish(18);
    let tract = edgebench_backend_tract::Tract;
    let specs = spec("x", &[2, 6]);
    let verify =
        Reference::new(&tract as &dyn Backend, &model, specs.clone(), feeds(&specs)).unwrap();
    let oracle = Inferred {
        backend: &tract,
        specs,
    };
    let all = registry::all();
    let done = rewrite(&model, &table("wonnx"), &all, &oracle, &verify, 8);
    let step = done
        .log
        .iter()
        .find(|s| s.rule == "downgrade-opset")
        .expect("applied");
    assert_eq!(step.status, StepStatus::Applied, "{:?}", done.log);
    assert_eq!(done.model.opset(""), Some(15));
    let mean = done
        .model
        .graph
        .nodes
        .iter()
        .find(|n| n.op_type == "ReduceMean")
        .unwrap();
    assert_eq!(mean.inputs.len(), 1);
    assert_eq!(mean.attr_ints("axes"), Some(&[1i64][..]));
    let sm = done
        .model
        .graph
        .nodes
        .iter()
        .find(|n| n.op_type == "Softmax")
        .unwrap();
    // 15 >= 13: the single-axis semantics hold, the axis stays as it was.
    assert_eq!(sm.attr_int("axis"), Some(-1));
    assert_eq!(
        done.after,
        edgebench_compat::Verdict::Runs,
        "{:?}",
        done.log
    );
}
