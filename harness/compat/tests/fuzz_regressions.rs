//! Inputs the fuzzers (`fuzz/`) found to break edgebench, kept as tests. Each must now be handled: refused with a
//! message or checked, never a panic.

use edgebench_compat::exercise::{Exercised, exercise, tables};
use edgebench_graph::stats::{ShapeMap, summarize};
use edgebench_graph::{Dim, ValueType, fixtures};
use std::collections::HashMap;

/// structured fuzzer, crash-d45f0358: a Conv/MatMul whose declared output dims multiply past u64 made the MAC
/// estimate overflow (a panic in debug builds, a wrapped number in release).
#[test]
fn declared_dims_whose_product_overflows_leave_the_macs_unknown() {
    for mut m in [
        fixtures::small_cnn(),
        fixtures::attention_block(),
        fixtures::tiny_mlp(),
    ] {
        let lie = vec![
            Dim::Value(i64::MAX / 3),
            Dim::Value(i64::MAX / 5),
            Dim::Value(7),
            Dim::Value(9),
        ];
        for v in m
            .graph
            .outputs
            .iter_mut()
            .chain(m.graph.value_info.iter_mut())
        {
            if let Some(ValueType::Tensor { shape, .. }) = v.ty.as_mut() {
                *shape = Some(lie.clone());
            }
        }
        let shapes = ShapeMap::from_model(&m, &HashMap::new());
        let s = summarize(&m, &shapes);
        assert!(s.flops.total_macs < u64::MAX, "saturated, not wrapped");
        let bytes = edgebench_graph::encode(&m).unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            exercise(&bytes, dir.path(), &tables()),
            Exercised::Checked(_)
        ));
    }
}

/// Initializers whose declared dims overflow: parameter counts saturate instead of overflowing.
#[test]
fn initializer_dims_that_overflow_saturate_the_parameter_count() {
    let mut m = fixtures::tiny_mlp();
    let mut p = edgebench_graph::to_proto(&m).unwrap();
    let g = p.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![i64::MAX, i64::MAX, 3];
    let bytes = prost::Message::encode_to_vec(&p);
    let dir = tempfile::tempdir().unwrap();
    // Loading may refuse the tensor (its data does not match its dims); whatever it does, it returns.
    let _ = exercise(&bytes, dir.path(), &tables());
    m.graph.initializers.clear();
    let _ = summarize(&m, &ShapeMap::from_model(&m, &HashMap::new()));
}
