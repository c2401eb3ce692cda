//! Structural checks of a model: what must hold before any backend is asked. Each finding names the node or
//! domain; the caller decides how to report it.

use crate::ir::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The model is not valid ONNX; no backend should run it.
    Error,
    /// Worth knowing, harmless (e.g. a declared domain no node uses).
    Note,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// `main` or the subgraph scope (`If_0.then_branch`).
    pub graph: String,
    pub node: Option<String>,
    pub message: String,
}

fn scope_name(s: &Scope) -> String {
    if s.is_main() {
        "main".into()
    } else {
        s.path.join("/")
    }
}

/// Checks opset imports against the domains nodes use, empty op types, dangling inputs and cycles, in every graph.
pub fn validate(model: &Model) -> Vec<Finding> {
    let mut out = vec![];
    let mut used_domains = BTreeSet::new();
    model.graph.walk(&mut |_, n| {
        used_domains.insert(n.domain.clone());
    });
    if model.opset_imports.is_empty() {
        out.push(Finding {
            severity: Severity::Error,
            graph: "main".into(),
            node: None,
            message: "the model declares no opset import (not even the default ai.onnx domain)"
                .into(),
        });
    }
    for d in &used_domains {
        if !model.opset_imports.is_empty() && !model.opset_imports.contains_key(d) {
            let shown = if d.is_empty() { "ai.onnx" } else { d };
            out.push(Finding {
                severity: Severity::Error,
                graph: "main".into(),
                node: None,
                message: format!(
                    "nodes use domain `{shown}`, which the model does not import (no opset version)"
                ),
            });
        }
    }
    for d in model.opset_imports.keys() {
        if !used_domains.contains(d) && !d.is_empty() {
            out.push(Finding {
                severity: Severity::Note,
                graph: "main".into(),
                node: None,
                message: format!("domain `{d}` is imported but no node uses it"),
            });
        }
    }
    for (d, v) in &model.duplicate_imports {
        let shown = if d.is_empty() { "ai.onnx" } else { d };
        out.push(Finding {
            severity: Severity::Note,
            graph: "main".into(),
            node: None,
            message: format!(
                "domain `{shown}` is imported more than once (also at version {v}); read at version {}",
                model.opset_imports.get(d).copied().unwrap_or(0)
            ),
        });
    }
    let mut outer: Vec<HashSet<String>> = vec![];
    let opset = model.opset("").unwrap_or(1);
    check_graph(&model.graph, &Scope::default(), opset, &mut outer, &mut out);
    out
}

/// Required inputs of default-domain ops (a prefix of the node's inputs, none of them empty) from the opset they
/// apply from, as ONNX's operator schemas (onnx/defs) give them. Ops not listed are not checked.
const REQUIRED_INPUTS: &[(&str, i64, usize)] = &[
    ("Add", 1, 2),
    ("Sub", 1, 2),
    ("Mul", 1, 2),
    ("Div", 1, 2),
    ("Pow", 1, 2),
    ("Mod", 10, 2),
    ("MatMul", 1, 2),
    ("Equal", 1, 2),
    ("Less", 1, 2),
    ("Greater", 1, 2),
    ("LessOrEqual", 12, 2),
    ("GreaterOrEqual", 12, 2),
    ("And", 1, 2),
    ("Or", 1, 2),
    ("Xor", 1, 2),
    ("PRelu", 1, 2),
    ("BitShift", 11, 2),
    ("Gemm", 1, 3),
    ("Gemm", 11, 2),
    ("Conv", 1, 2),
    ("ConvTranspose", 1, 2),
    ("ConvInteger", 10, 2),
    ("MatMulInteger", 10, 2),
    ("QLinearConv", 10, 8),
    ("QLinearMatMul", 10, 8),
    ("BatchNormalization", 1, 5),
    ("InstanceNormalization", 1, 3),
    ("LayerNormalization", 17, 2),
    ("Reshape", 1, 1),
    ("Reshape", 5, 2),
    ("Expand", 8, 2),
    ("Tile", 1, 3),
    ("Tile", 6, 2),
    ("Gather", 1, 2),
    ("GatherElements", 11, 2),
    ("GatherND", 11, 2),
    ("Scatter", 9, 3),
    ("ScatterElements", 11, 3),
    ("ScatterND", 11, 3),
    ("Where", 9, 3),
    ("Slice", 1, 1),
    ("Slice", 10, 3),
    ("Range", 11, 3),
    ("OneHot", 9, 3),
    ("Pad", 1, 1),
    ("Pad", 11, 2),
    ("Resize", 10, 2),
    ("Resize", 11, 3),
    ("Resize", 13, 1),
    ("Upsample", 7, 1),
    ("Upsample", 9, 2),
    ("Unsqueeze", 1, 1),
    ("Unsqueeze", 13, 2),
    ("Squeeze", 1, 1),
    ("TopK", 1, 1),
    ("TopK", 10, 2),
    ("QuantizeLinear", 10, 2),
    ("DequantizeLinear", 10, 2),
    ("DynamicQuantizeLinear", 11, 1),
    ("NonMaxSuppression", 10, 2),
    ("RoiAlign", 10, 3),
    ("CumSum", 11, 2),
    ("GridSample", 16, 2),
    ("LSTM", 1, 3),
    ("GRU", 1, 3),
    ("RNN", 1, 3),
    ("Compress", 9, 2),
    ("ConstantOfShape", 9, 1),
    ("Clip", 1, 1),
    ("Split", 1, 1),
    ("Concat", 1, 1),
    ("Sum", 1, 1),
    ("Max", 1, 1),
    ("Min", 1, 1),
    ("Mean", 1, 1),
    ("Cast", 1, 1),
    ("Relu", 1, 1),
    ("Sigmoid", 1, 1),
    ("Tanh", 1, 1),
    ("Softmax", 1, 1),
    ("Identity", 1, 1),
    ("Transpose", 1, 1),
    ("Flatten", 1, 1),
    ("Shape", 1, 1),
    ("Size", 1, 1),
    ("MaxPool", 1, 1),
    ("AveragePool", 1, 1),
    ("GlobalAveragePool", 1, 1),
    ("GlobalMaxPool", 1, 1),
    ("ReduceMean", 1, 1),
    ("ReduceSum", 1, 1),
    ("ReduceMax", 1, 1),
    ("ReduceMin", 1, 1),
    ("Dropout", 1, 1),
    ("Erf", 9, 1),
    ("Sqrt", 1, 1),
    ("Exp", 1, 1),
    ("Log", 1, 1),
    ("Neg", 1, 1),
    ("Abs", 1, 1),
    ("HardSigmoid", 1, 1),
    ("HardSwish", 14, 1),
    ("LeakyRelu", 1, 1),
    ("Elu", 1, 1),
    ("Softplus", 1, 1),
    ("Not", 1, 1),
    ("ArgMax", 1, 1),
    ("ArgMin", 1, 1),
    ("DepthToSpace", 1, 1),
    ("SpaceToDepth", 1, 1),
    ("If", 1, 1),
    ("Einsum", 12, 1),
    ("Trilu", 14, 1),
    ("Mish", 18, 1),
];

/// How many leading inputs node `n` must have (non-empty) at default-domain opset `opset`; `None`: not checked.
pub fn required_inputs(n: &Node, opset: i64) -> Option<usize> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return None;
    }
    REQUIRED_INPUTS
        .iter()
        .filter(|(op, since, _)| *op == n.op_type && *since <= opset)
        .max_by_key(|(_, since, _)| *since)
        .map(|(_, _, k)| *k)
}

/// What is missing from node `n`'s inputs and outputs at opset `opset`, if anything.
fn arity_problem(n: &Node, opset: i64) -> Option<String> {
    let default = n.domain.is_empty() || n.domain == "ai.onnx";
    if default && n.outputs.iter().all(|o| o.is_empty()) {
        return Some("node has no output (every op of the default domain has at least one)".into());
    }
    let k = required_inputs(n, opset)?;
    match (0..k).find(|i| n.inputs.get(*i).is_none_or(|s| s.is_empty())) {
        Some(i) => Some(format!(
            "node has {} input(s) where {} at opset {opset} requires {k} (input {i} is missing)",
            n.inputs.iter().filter(|s| !s.is_empty()).count(),
            n.op_type
        )),
        None => None,
    }
}

fn check_graph(
    g: &Graph,
    scope: &Scope,
    opset: i64,
    outer: &mut Vec<HashSet<String>>,
    out: &mut Vec<Finding>,
) {
    let gname = scope_name(scope);
    let mut known: HashSet<String> = g.inputs.iter().map(|v| v.name.clone()).collect();
    known.extend(g.initializers.iter().map(|t| t.name().to_string()));
    known.extend(
        g.sparse_initializers
            .iter()
            .filter_map(|s| s.values.as_ref().and_then(|v| v.name.clone())),
    );
    for t in &g.initializers {
        if let Some(d) = t.dims().iter().find(|d| **d < 0) {
            out.push(Finding {
                severity: Severity::Error,
                graph: gname.clone(),
                node: None,
                message: format!("initializer `{}` declares a negative dim {d}", t.name()),
            });
        }
    }
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if n.op_type.trim().is_empty() {
            out.push(Finding {
                severity: Severity::Error,
                graph: gname.clone(),
                node: Some(label(n, i)),
                message: "node has an empty op type".into(),
            });
        } else if let Some(message) = arity_problem(n, opset) {
            out.push(Finding {
                severity: Severity::Error,
                graph: gname.clone(),
                node: Some(label(n, i)),
                message,
            });
        }
        for o in n.outputs.iter().filter(|o| !o.is_empty()) {
            if let Some(prev) = producer.insert(o, i) {
                out.push(Finding {
                    severity: Severity::Error,
                    graph: gname.clone(),
                    node: Some(label(n, i)),
                    message: format!(
                        "output `{o}` is also produced by {}",
                        label(&g.nodes[prev], prev)
                    ),
                });
            }
        }
    }
    let visible = |name: &str, outer: &Vec<HashSet<String>>| {
        known.contains(name)
            || producer.contains_key(name)
            || outer.iter().any(|s| s.contains(name))
    };
    for (i, n) in g.nodes.iter().enumerate() {
        for inp in n.inputs.iter().filter(|s| !s.is_empty()) {
            if !visible(inp, outer) {
                out.push(Finding {
                    severity: Severity::Error,
                    graph: gname.clone(),
                    node: Some(label(n, i)),
                    message: format!(
                        "input `{inp}` is not produced by any node, initializer or graph input"
                    ),
                });
            }
        }
    }
    for o in &g.outputs {
        if !visible(&o.name, outer) {
            out.push(Finding {
                severity: Severity::Error,
                graph: gname.clone(),
                node: None,
                message: format!("graph output `{}` is not produced by anything", o.name),
            });
        }
    }
    if let Some(cycle) = find_cycle(g, &producer) {
        out.push(Finding {
            severity: Severity::Error,
            graph: gname.clone(),
            node: Some(label(&g.nodes[cycle[0]], cycle[0])),
            message: format!(
                "the graph has a cycle: {}",
                cycle
                    .iter()
                    .map(|i| label(&g.nodes[*i], *i))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
        });
    }
    // Subgraphs see every name of this graph.
    let mut here: HashSet<String> = known.clone();
    here.extend(producer.keys().map(|s| s.to_string()));
    outer.push(here);
    for (i, n) in g.nodes.iter().enumerate() {
        for (attr, sub) in n.subgraphs() {
            let mut s = scope.clone();
            s.path.push(format!("{}.{}", label(n, i), attr));
            check_graph(sub, &s, opset, outer, out);
        }
    }
    outer.pop();
}

fn label(n: &Node, i: usize) -> String {
    if n.name.is_empty() {
        format!("#{i} ({})", n.op_type)
    } else {
        format!("`{}` ({})", n.name, n.op_type)
    }
}

/// A cycle among nodes (by index), if any: iterative DFS over producer edges.
fn find_cycle(g: &Graph, producer: &HashMap<&str, usize>) -> Option<Vec<usize>> {
    let preds: Vec<Vec<usize>> = g
        .nodes
        .iter()
        .map(|n| {
            n.inputs
                .iter()
                .filter_map(|i| producer.get(i.as_str()).copied())
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut state = vec![0u8; g.nodes.len()];
    for start in 0..g.nodes.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((node, next)) = stack.last().copied() {
            if next < preds[node].len() {
                if let Some(t) = stack.last_mut() {
                    t.1 += 1;
                }
                let p = preds[node][next];
                match state[p] {
                    0 => {
                        state[p] = 1;
                        stack.push((p, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _)| *n == p).unwrap_or(0);
                        let mut cyc: Vec<usize> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        cyc.reverse();
                        cyc.push(cyc[0]);
                        return Some(cyc);
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// Nodes of a graph in an order where producers come first (Kahn); `None` if there is a cycle.
pub fn topological_order(g: &Graph) -> Option<Vec<usize>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for o in &n.outputs {
            producer.insert(o, i);
        }
    }
    let mut indeg = vec![0usize; g.nodes.len()];
    let mut succ = vec![vec![]; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for inp in &n.inputs {
            if let Some(&p) = producer.get(inp.as_str()) {
                if p != i {
                    indeg[i] += 1;
                    succ[p].push(i);
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..g.nodes.len())
        .filter(|i| indeg[*i] == 0)
        .rev()
        .collect();
    let mut order = vec![];
    while let Some(i) = ready.pop() {
        order.push(i);
        for &s in &succ[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.push(s);
            }
        }
    }
    (order.len() == g.nodes.len()).then_some(order)
}
