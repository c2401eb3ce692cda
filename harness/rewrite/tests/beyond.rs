//! `beyond_rules`: the prediction's short cut is taken only where no rule can change the outcome.

use edgebench_compat::SupportTable;
use edgebench_graph::Model;
use edgebench_graph::fixtures::Builder;
use edgebench_rewrite::{beyond_rules, registry};

/// A table that knows Relu, Shape, Reshape and Cast, supports all but Cast, and nothing else.
fn table() -> SupportTable {
    let text = r#"
[header]
backend = "t"
version = "1"
probed_with = "hand"
probed_on = "hand"
tolerance = "exact"
probe_summary = ""

[[op]]
domain = "ai.onnx"
op = "Relu"
supported = true
source = "documented"

[[op]]
domain = "ai.onnx"
op = "Shape"
supported = true
source = "documented"

[[op]]
domain = "ai.onnx"
op = "Reshape"
supported = true
source = "documented"

[[op]]
domain = "ai.onnx"
op = "Cast"
supported = false
source = "documented"
"#;
    SupportTable::parse(text, "t.toml").unwrap()
}

/// x -> OP -> (Relu -> y | Shape -> Reshape(x) -> y): `shape_only` makes OP feed only a Shape.
fn model(op: &str, shape_only: bool) -> Model {
    let mut b = Builder::new("m", 0);
    b.input("x", &[1, 4]);
    b.output("y", &[1, 4]);
    b.node(op, &["x"], "a", &[1, 4], vec![]);
    if shape_only {
        b.graph_node("Shape", &["a"], "s", vec![]);
        b.node("Reshape", &["x", "s"], "y", &[1, 4], vec![]);
    } else {
        b.node("Relu", &["a"], "y", &[1, 4], vec![]);
    }
    b.finish(13)
}

#[test]
fn only_a_live_node_of_an_op_no_rule_touches_and_the_table_never_runs_is_beyond_the_rules() {
    let t = table();
    let rules = registry::all();
    assert!(t.never_supports("", "Erf"));
    assert!(t.never_supports("", "Cast"));
    assert!(!t.never_supports("", "Relu"));
    // An op the table does not know, on the path to the output: no rule can help.
    assert!(beyond_rules(&model("Erf", false), &t, &rules));
    // The same op read only by Shape: folding may drop it as dead code.
    assert!(!beyond_rules(&model("Erf", true), &t, &rules));
    // Cast is unsupported, but rules touch Cast (a no-op cast is removed).
    assert!(!beyond_rules(&model("Cast", false), &t, &rules));
    // Supported everywhere: nothing blocks.
    assert!(!beyond_rules(&model("Relu", false), &t, &rules));
    // Without the rules that touch Cast, Cast is beyond them.
    let no_cast: Vec<_> = rules
        .iter()
        .copied()
        .filter(|r| !r.touches().contains(&"Cast"))
        .collect();
    assert!(beyond_rules(&model("Cast", false), &t, &no_cast));
}
