use edgebench_compat::table::SupportTable;
use edgebench_compat::{Reason, Verdict, check};
use edgebench_graph::fixtures::{self, int};
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::validate::{Severity, validate};
use edgebench_graph::*;
use std::collections::HashMap;

fn table(body: &str) -> SupportTable {
    SupportTable::parse(
        &format!("[header]\nbackend = \"test\"\nversion = \"0\"\n{body}"),
        "test.toml",
    )
    .unwrap()
}

fn op(name: &str) -> String {
    format!(
        "[[op]]\nop = \"{name}\"\nsource = \"probed\"\nsupported = true\nopsets = [7, 21]\ndtypes = [\"float32\"]\n"
    )
}

fn all_mlp_ops() -> String {
    ["MatMul", "Add", "Relu", "Softmax"]
        .iter()
        .map(|o| op(o))
        .collect()
}

fn shapes(m: &Model) -> ShapeMap {
    ShapeMap::from_model(m, &HashMap::new())
}

#[test]
fn a_fully_supported_model_runs_in_one_partition() {
    let m = fixtures::tiny_mlp();
    let c = check(&m, &table(&all_mlp_ops()), &shapes(&m));
    assert_eq!(c.verdict, Verdict::Runs);
    assert_eq!(
        (
            c.nodes,
            c.supported_nodes,
            c.partitions.count,
            c.partitions.biggest
        ),
        (6, 6, 1, 6)
    );
    assert!(c.blocking.is_empty());
}

#[test]
fn an_unsupported_middle_node_splits_the_graph_into_two_partitions() {
    let m = fixtures::tiny_mlp(); // MatMul Add Relu MatMul Add Softmax
    let mut ops: String = ["MatMul", "Add", "Softmax"].iter().map(|o| op(o)).collect();
    ops.push_str(&op("Relu").replace("supported = true", "supported = false"));
    let c = check(&m, &table(&ops), &shapes(&m));
    assert_eq!(c.verdict, Verdict::Partial);
    assert_eq!(c.partitions.sizes, vec![3, 2]);
    assert_eq!(c.blocking.len(), 1);
    assert_eq!(c.blocking[0].op, "Relu");
    assert_eq!(c.blocking[0].reason.kind(), "not-supported");
    assert!((c.partitions.supported_share - 5.0 / 6.0).abs() < 1e-9);
}

#[test]
fn an_op_the_table_does_not_list_is_unknown_not_unsupported() {
    let m = fixtures::tiny_mlp(); // MatMul Add Relu MatMul Add Softmax
    let ops: String = ["MatMul", "Add", "Softmax"].iter().map(|o| op(o)).collect();
    let c = check(&m, &table(&ops), &shapes(&m));
    assert_eq!(c.verdict, Verdict::Unknown);
    assert_eq!(c.verdict.predicts_runs(), None);
    assert!(c.blocking.is_empty());
    assert_eq!((c.unknown_nodes, c.unknown[0].op.as_str()), (1, "Relu"));
    assert!(c.unknown[0].reason.is_unknown());
    assert!(
        c.unknown[0]
            .message
            .contains("unknown: the op is not in test's table"),
        "{}",
        c.unknown[0].message
    );
    // the unknown node is not part of a partition the backend is known to run
    assert_eq!(c.partitions.sizes, vec![3, 2]);
    // an unknown node next to a known-blocked one: the model does not run fully, and says how many are unknown
    let mut ops = ops.replace("op = \"Softmax\"", "op = \"Softmax\"");
    ops = ops.replacen("supported = true", "supported = false", 1); // MatMul
    let c = check(&m, &table(&ops), &shapes(&m));
    assert_eq!((c.verdict, c.unknown_nodes), (Verdict::Partial, 1));
    assert_eq!(c.blocking.len(), 2);
    assert_eq!(c.not_supported().count(), 3);
}

#[test]
fn a_wildcard_constraint_speaks_for_the_ops_the_table_does_not_list() {
    let m = fixtures::tiny_mlp();
    let ops: String = ["MatMul", "Add", "Softmax"].iter().map(|o| op(o)).collect();
    let wild = |except: &str| {
        format!(
            "{ops}[[constraint]]\ndomain = \"ai.onnx\"\nop = \"*\"\nexcept = [{except}]\nsource = \"documented\"\nsupported = false\nnote = \"registers only these\"\n"
        )
    };
    let c = check(&m, &table(&wild("")), &shapes(&m));
    assert_eq!(c.verdict, Verdict::Partial);
    assert_eq!(c.blocking[0].op, "Relu");
    assert!(c.blocking[0].message.contains("registers only these"));
    assert!(table(&wild("")).never_supports("", "Relu"));
    // a name in `except` stays unknown; listed ops are untouched
    let t = table(&wild("\"Relu\""));
    let c = check(&m, &t, &shapes(&m));
    assert_eq!((c.verdict, c.unknown_nodes), (Verdict::Unknown, 1));
    assert!(t.wildcard("", "MatMul").is_none());
    // `domain = "*"` speaks for domains the table has nothing else about, not for `ai.onnx`
    let any = format!(
        "{ops}[[constraint]]\ndomain = \"*\"\nop = \"*\"\nsource = \"documented\"\nsupported = false\nnote = \"no custom ops\"\n"
    );
    let t = table(&any);
    assert_eq!(check(&m, &t, &shapes(&m)).verdict, Verdict::Unknown);
    let mut custom = m.clone();
    custom.graph.nodes[2].domain = "com.example".into();
    custom.opset_imports.insert("com.example".into(), 1);
    let c = check(&custom, &t, &shapes(&custom));
    assert_eq!(
        (c.verdict, c.blocking[0].reason.kind()),
        (Verdict::Partial, "not-supported")
    );
}

#[test]
fn every_reason_is_named() {
    let m = fixtures::tiny_mlp();
    // unknown domain: the table knows nothing of `com.example`
    let mut custom = m.clone();
    custom.graph.nodes[2].domain = "com.example".into();
    custom.opset_imports.insert("com.example".into(), 1);
    let c = check(&custom, &table(&all_mlp_ops()), &shapes(&custom));
    assert_eq!(c.verdict, Verdict::Unknown);
    assert_eq!(c.unknown[0].reason.kind(), "unknown-domain");
    // tested opsets and passing dtypes are information, not limits: untested is not unsupported
    let t = table(
        &all_mlp_ops()
            .replace("opsets = [7, 21]", "opsets = [14, 21]")
            .replace("[\"float32\"]", "[\"float16\"]"),
    );
    assert_eq!(check(&m, &t, &shapes(&m)).verdict, Verdict::Runs);
    // a dtype that failed and never passed blocks
    let t = table(&all_mlp_ops().replace(
        "dtypes = [\"float32\"]",
        "dtypes = [\"float16\"]\nfailed_dtypes = [\"float32\"]",
    ));
    let c = check(&m, &t, &shapes(&m));
    assert!(matches!(&c.blocking[0].reason, Reason::Dtype { dtype, .. } if dtype == "float32"));
    assert_eq!(c.verdict, Verdict::No);
    // a probed op with no passing test
    let t = table(&all_mlp_ops().replacen("supported = true", "supported = false", 1));
    let c = check(&m, &t, &shapes(&m));
    assert!(
        matches!(c.blocking[0].reason, Reason::NotSupported { .. }),
        "{:?}",
        c.blocking[0]
    );
}

#[test]
fn attribute_constraints_and_opset_bounds_from_hand_kept_rules() {
    let m = fixtures::small_cnn();
    let base: String = [
        "Conv",
        "Relu",
        "GlobalAveragePool",
        "Flatten",
        "Gemm",
        "Softmax",
    ]
    .iter()
    .map(|o| op(o))
    .collect();
    let mut with_trans = m.clone();
    let gemm = with_trans
        .graph
        .nodes
        .iter_mut()
        .find(|n| n.op_type == "Gemm")
        .unwrap();
    gemm.attributes.push(int("transB", 1));
    let rule = "[[constraint]]\nop = \"Gemm\"\nsource = \"documented\"\nattr = \"transB\"\nallowed = [0]\ndefault = 0\nnote = \"x\"\n";
    let c = check(
        &with_trans,
        &table(&(base.clone() + rule)),
        &shapes(&with_trans),
    );
    assert_eq!(c.blocking.len(), 1);
    assert_eq!(
        c.blocking[0].reason,
        Reason::AttributeValue {
            attr: "transB".into(),
            value: 1,
            allowed: vec![0]
        }
    );
    assert_eq!(
        check(&m, &table(&(base.clone() + rule)), &shapes(&m)).verdict,
        Verdict::Runs,
        "default transB=0 is allowed"
    );
    let bound =
        "[[constraint]]\nop = \"Softmax\"\nsource = \"documented\"\nmax_opset = 12\nnote = \"x\"\n";
    let c = check(&m, &table(&(base + bound)), &shapes(&m));
    assert!(matches!(
        c.blocking[0].reason,
        Reason::OpsetOutOfRange {
            opset: Some(13),
            ..
        }
    ));
}

#[test]
fn static_shape_requirement_flags_values_without_shapes() {
    let mut m = fixtures::tiny_mlp();
    m.graph.value_info.retain(|v| v.name != "h2");
    let t = table(&(all_mlp_ops() + "[requires]\nstatic_shapes = true\n"));
    let c = check(&m, &t, &shapes(&m));
    assert_eq!(c.blocking.len(), 1);
    assert_eq!(
        c.blocking[0].reason,
        Reason::DynamicShape { value: "h2".into() }
    );
}

#[test]
fn subgraph_nodes_count_and_block_their_parent() {
    let m = fixtures::if_relu_neg();
    let t = table(
        &(op("If").replace("dtypes = [\"float32\"]", "")
            + &op("Relu")
            + &op("Identity")
            + &op("Neg").replace("supported = true", "supported = false")),
    );
    let c = check(&m, &t, &shapes(&m));
    assert_eq!(c.nodes, 4, "If, Relu and Neg inside it, Identity");
    assert_eq!(c.blocking.len(), 1);
    assert_eq!(c.blocking[0].op, "Neg");
    assert_eq!(c.blocking[0].graph, "if.else_branch");
    // the If cannot run without its else branch: Relu (inside it) and Identity (after it) are left, unconnected
    assert_eq!(c.supported_nodes, 2);
    assert_eq!(c.partitions.sizes, vec![1, 1]);
    assert_eq!(c.verdict, Verdict::Partial);
    // a node the table does not know inside a branch leaves its holder neither supported nor blocked
    let t =
        table(&(op("If").replace("dtypes = [\"float32\"]", "") + &op("Relu") + &op("Identity")));
    let c = check(&m, &t, &shapes(&m));
    assert_eq!(
        (c.verdict, c.unknown_nodes, c.supported_nodes),
        (Verdict::Unknown, 1, 2)
    );
}

#[test]
fn structural_problems_are_precise_diagnostics() {
    let base = fixtures::tiny_mlp();
    let errors = |m: &Model| -> Vec<String> {
        validate(m)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.message)
            .collect()
    };
    assert!(errors(&base).is_empty(), "{:?}", validate(&base));
    // missing opset import
    let mut m = base.clone();
    m.opset_imports.clear();
    assert!(
        errors(&m)[0].contains("no opset import"),
        "{:?}",
        errors(&m)
    );
    // a used domain that is not imported
    let mut m = base.clone();
    m.graph.nodes[2].domain = "com.microsoft".into();
    assert!(
        errors(&m)
            .iter()
            .any(|e| e.contains("com.microsoft") && e.contains("does not import")),
        "{:?}",
        errors(&m)
    );
    // declared but unused domains (Paddle exports do this) are a note, not an error
    let mut m = base.clone();
    m.opset_imports.insert("Paddle".into(), 1);
    assert!(errors(&m).is_empty());
    assert!(
        validate(&m)
            .iter()
            .any(|f| f.severity == Severity::Note && f.message.contains("Paddle"))
    );
    // empty op type
    let mut m = base.clone();
    m.graph.nodes[1].op_type = String::new();
    assert!(
        errors(&m).iter().any(|e| e.contains("empty op type")),
        "{:?}",
        errors(&m)
    );
    // dangling input
    let mut m = base.clone();
    m.graph.nodes[1].inputs[1] = "nowhere".into();
    assert!(
        errors(&m)
            .iter()
            .any(|e| e.contains("`nowhere`") && e.contains("not produced")),
        "{:?}",
        errors(&m)
    );
    // cycle: Relu consumes the last Add's output
    let mut m = base.clone();
    m.graph.nodes[2].inputs[0] = "logits".into();
    let e = errors(&m);
    assert!(
        e.iter()
            .any(|e| e.contains("cycle") && e.contains("Relu_2")),
        "{e:?}"
    );
    // and check says `no` on every backend for an invalid model, without panicking
    let c = check(&m, &table(&all_mlp_ops()), &shapes(&m));
    assert_eq!(c.verdict, Verdict::No);
    // a node with fewer inputs than its op requires (Add needs 2), or an empty required one
    let mut m = base.clone();
    m.graph.nodes[1].inputs.truncate(1);
    assert!(
        errors(&m)
            .iter()
            .any(|e| e.contains("requires 2 (input 1 is missing)")),
        "{:?}",
        errors(&m)
    );
    let mut m = base.clone();
    m.graph.nodes[1].inputs[1] = String::new();
    assert!(errors(&m).iter().any(|e| e.contains("input 1 is missing")));
    // Reshape's shape input came with opset 5: one input is right at opset 1, wrong from 5 on
    let mut b = fixtures::Builder::new("r", 0);
    b.input("x", &[2, 2]);
    b.output("y", &[4]);
    b.node("Reshape", &["x"], "y", &[4], vec![]);
    let mut m = b.finish(13);
    assert!(
        errors(&m)
            .iter()
            .any(|e| e.contains("at opset 13 requires 2"))
    );
    m.opset_imports.insert(String::new(), 1);
    assert!(
        !errors(&m).iter().any(|e| e.contains("requires")),
        "{:?}",
        errors(&m)
    );
    // a node without outputs
    let mut m = base.clone();
    m.graph.nodes[2].outputs.clear();
    assert!(errors(&m).iter().any(|e| e.contains("has no output")));
}

#[test]
fn embedded_tables_parse() {
    for (b, ..) in edgebench_compat::EMBEDDED {
        edgebench_compat::embedded(b).unwrap().unwrap();
    }
    let e = SupportTable::parse("[header]\nbackend = 1\n", "bad.toml").unwrap_err();
    assert!(e.to_string().starts_with("bad.toml: "), "{e}");
}
