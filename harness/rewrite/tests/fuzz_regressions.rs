//! Inputs the `rules` fuzz target found (fuzz/fuzz_targets/rules.rs), each kept as a test.

use edgebench_graph::Tensor;
use edgebench_graph::fixtures::Builder;

/// crash-3fe35145 (2026-12-04): constant folding of a Reshape whose constant target shape has a product beyond i64
/// overflowed (a panic in debug builds, a wrapped number in release). Now the node is left as it is.
#[test]
fn a_reshape_target_whose_product_overflows_is_not_folded() {
    let mut b = Builder::new("reshape", 0);
    b.input("x", &[2]);
    b.output("y", &[2]);
    b.initializer(Tensor::from_f32("t", &[2], &[1.0, 2.0]));
    let shape = b.const_i64("shape", &[4], &[i64::MAX / 2, 4, 1, 1]);
    b.graph_node("Reshape", &["t", &shape], "r", vec![]);
    b.node("Add", &["x", "r"], "y", &[2], vec![]);
    let m = b.finish(13);
    let p = edgebench_rewrite::consteval::fold(&m, None);
    assert!(p.is_empty(), "{p:?}");
    // A Flatten of a tensor whose declared dims overflow, and a Range whose span overflows, likewise.
    let mut b = Builder::new("range", 0);
    b.input("x", &[1]);
    b.output("y", &[1]);
    let s = b.const_i64("s", &[], &[i64::MIN]);
    let l = b.const_i64("l", &[], &[i64::MAX]);
    let d = b.const_i64("d", &[], &[i64::MAX]);
    b.graph_node("Range", &[&s, &l, &d], "r", vec![]);
    b.node("Add", &["x", "r"], "y", &[1], vec![]);
    let m = b.finish(13);
    let _ = edgebench_rewrite::consteval::fold(&m, None);
}
