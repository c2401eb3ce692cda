//! Rewrites verified on a real backend (tract): a correct rule is applied with its measured drift, a deliberately
//! wrong rule (test-only) is rolled back and reported, and the model it would have produced is never returned.

use edgebench_backend_api::{Backend, HostTensor, InputSpec};
use edgebench_bench::verify::{Inferred, Reference};
use edgebench_compat::SupportTable;
use edgebench_graph::fixtures::{Builder, int};
use edgebench_graph::{DataType, Model};
use edgebench_rewrite::{Ctx, Edit, Patch, Rule, StepStatus, rewrite, rules};

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
    let all = rules::all();
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
