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
    let mut outer: Vec<HashSet<String>> = vec![];
    check_graph(&model.graph, &Scope::default(), &mut outer, &mut out);
    out
}

fn check_graph(g: &Graph, scope: &Scope, outer: &mut Vec<HashSet<String>>, out: &mut Vec<Finding>) {
    let gname = scope_name(scope);
    let mut known: HashSet<String> = g.inputs.iter().map(|v| v.name.clone()).collect();
    known.extend(g.initializers.iter().map(|t| t.name().to_string()));
    known.extend(
        g.sparse_initializers
            .iter()
            .filter_map(|s| s.values.as_ref().and_then(|v| v.name.clone())),
    );
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if n.op_type.trim().is_empty() {
            out.push(Finding {
                severity: Severity::Error,
                graph: gname.clone(),
                node: Some(label(n, i)),
                message: "node has an empty op type".into(),
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
            check_graph(sub, &s, outer, out);
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
