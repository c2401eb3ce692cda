//! The second layer of a verdict on a runtime with an accelerator (LiteRT with XNNPACK, ONNX Runtime with an
//! execution provider such as OpenVINO or CUDA): which nodes the accelerator is predicted to take, from the
//! table's `[placement]` op list and rules, and into how many partitions.
//!
//! With `cpu_outputs` in the table, ONNX Runtime's CPU-preference pass is modelled (its `GetCpuPreferredNodes`,
//! core/framework/fallback_cpu_capability.cc, which the CUDA provider runs on the nodes it could take): starting
//! from the consumers of tensors the provider leaves in host memory (`Shape`, `Size`) and following the nodes
//! ONNX Runtime's CPU kernels run, in topological order, a node the provider could take moves to the CPU when
//! every input is a host tensor its kernel does not read from host memory anyway (`cpu_inputs`), a small
//! initializer or a graph input, and none is 16-bit float. Constant nodes count as initializers: ONNX Runtime
//! turns them into initializers before it partitions.

use crate::table::{PlacementRule, PlacementTable, SupportTable};
use edgebench_graph::{AttrValue, DataType, Model, Node};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Predicted placement of a model's main-graph nodes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacementPrediction {
    pub accelerator: String,
    /// Nodes predicted to run on the accelerator.
    pub accelerated: usize,
    /// Main-graph node indices (= LiteRT's node indices) predicted to run on the runtime's own kernels.
    pub on_cpu_kernels: Vec<usize>,
    /// Connected groups of accelerated nodes (edges: tensors between them), as delegates partition a graph.
    pub partitions: usize,
}

/// The prediction, when the table has a `[placement]` section.
pub fn predict(model: &Model, table: &SupportTable) -> Option<PlacementPrediction> {
    let p = table.placement.as_ref()?;
    let nodes = &model.graph.nodes;
    // Quasi-static tensors: constants, and the outputs of unpack ops (DEQUANTIZE, DENSIFY) of quasi-static ones,
    // followed in node order (TFLite nodes are topologically sorted).
    let mut quasi: std::collections::HashSet<&str> =
        model.graph.initializers.iter().map(|t| t.name()).collect();
    let mut unpacked = vec![false; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        if p.static_unpack.contains(&n.op_type)
            && n.inputs.first().is_some_and(|x| quasi.contains(x.as_str()))
        {
            unpacked[i] = true;
            quasi.extend(n.outputs.iter().map(String::as_str));
        }
    }
    let quasi_static = |name: &str| quasi.contains(name);
    let mut takes: Vec<bool> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if unpacked[i] {
                return true;
            }
            let listed = match n.domain.as_str() {
                edgebench_graph::tflite::DOMAIN => p.ops.contains(&n.op_type),
                edgebench_graph::tflite::CUSTOM_DOMAIN => p.custom_ops.contains(&n.op_type),
                // ONNX Runtime's providers list ONNX ops of the default domain.
                "" | "ai.onnx" => p.ops.contains(&n.op_type),
                _ => false,
            };
            listed
                && p.max_versions
                    .get(&n.op_type)
                    .is_none_or(|max| model.node_opset(n).is_none_or(|v| v <= *max))
                && !p.refuse.iter().any(|r| r.op == n.op_type && refuses(r, n))
                && p.static_inputs.get(&n.op_type).is_none_or(|idx| {
                    idx.iter().all(|i| {
                        n.inputs
                            .get(*i)
                            .is_none_or(|x| x.is_empty() || quasi_static(x))
                    })
                })
        })
        .collect();
    if !p.cpu_outputs.is_empty() {
        for i in cpu_preferred(model, p, &takes) {
            takes[i] = false;
        }
    }
    // Partitions: the groups of accelerated nodes joined by tensors (`node_groups`). ONNX Constant nodes
    // become initializers before ONNX Runtime partitions: they join no partition and are none of their own.
    let grouped: Vec<bool> = nodes
        .iter()
        .zip(&takes)
        .map(|(n, t)| {
            *t && !(n.op_type == "Constant" && matches!(n.domain.as_str(), "" | "ai.onnx"))
        })
        .collect();
    Some(PlacementPrediction {
        accelerator: p.accelerator.clone(),
        accelerated: takes.iter().filter(|t| **t).count(),
        on_cpu_kernels: (0..nodes.len()).filter(|i| !takes[*i]).collect(),
        partitions: edgebench_graph::node_groups(nodes, |i| grouped[i]),
    })
}

/// Whether `rule` leaves node `n` to the runtime's kernels.
fn refuses(rule: &PlacementRule, n: &Node) -> bool {
    if let Some(i) = rule.absent_input
        && n.inputs.get(i).is_some_and(|x| !x.is_empty())
    {
        return true;
    }
    let given = n.attr(&rule.attr);
    if rule.present && given.is_some() {
        return true;
    }
    match given {
        Some(AttrValue::Int(v)) => {
            rule.refused.contains(v) || (!rule.allowed.is_empty() && !rule.allowed.contains(v))
        }
        None => rule
            .default
            .is_some_and(|d| !rule.allowed.is_empty() && !rule.allowed.contains(&d)),
        Some(AttrValue::String(v)) => {
            let v = String::from_utf8_lossy(v);
            rule.refused_strings.iter().any(|r| *r == v)
        }
        Some(AttrValue::Strings(list)) if !rule.allowed_sequence.is_empty() => {
            list.iter().enumerate().any(|(i, a)| {
                rule.allowed_sequence
                    .get(i)
                    .is_none_or(|want| !String::from_utf8_lossy(a).eq_ignore_ascii_case(want))
            })
        }
        Some(AttrValue::Ints(v)) if rule.symmetric => {
            let half = v.len() / 2;
            v[..half] != v[half..]
        }
        _ => false,
    }
}

/// The nodes ONNX Runtime's CPU-preference pass moves off the provider (indices into the main graph's nodes):
/// see the module's documentation.
fn cpu_preferred(model: &Model, p: &PlacementTable, takes: &[bool]) -> BTreeSet<usize> {
    let g = &model.graph;
    let nodes = &g.nodes;
    let types = crate::check::dtypes(model);
    let limit = p.small_initializer.unwrap_or(0);
    let mut small: HashSet<&str> = g
        .initializers
        .iter()
        .filter(|t| t.dims().iter().product::<i64>() <= limit)
        .map(|t| t.name())
        .collect();
    for n in nodes.iter().filter(|n| n.op_type == "Constant") {
        let elements = match n.attributes.first().map(|a| &a.value) {
            Some(AttrValue::Tensor(t)) => t.dims().iter().product::<i64>(),
            Some(AttrValue::Ints(v)) => v.len() as i64,
            Some(AttrValue::Floats(v)) => v.len() as i64,
            _ => 1,
        };
        if elements <= limit {
            small.extend(n.outputs.iter().map(String::as_str));
        }
    }
    let fed: HashSet<&str> = g.runtime_inputs().iter().map(|v| v.name.as_str()).collect();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for x in n.inputs.iter().filter(|x| !x.is_empty()) {
            consumers.entry(x.as_str()).or_default().push(i);
        }
    }
    let users = |out: &str| consumers.get(out).into_iter().flatten().copied();
    let mut host: HashSet<&str> = HashSet::new();
    // Node indices in the model's order, which ONNX requires to be topological.
    let mut queue: BTreeSet<usize> = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate() {
        for &k in p.cpu_outputs.get(&n.op_type).into_iter().flatten() {
            if let Some(out) = n.outputs.get(k).filter(|o| takes[i] && !o.is_empty()) {
                host.insert(out.as_str());
                queue.extend(users(out));
            }
        }
    }
    let half = |x: &str| {
        types.get(x).is_some_and(|d| {
            matches!(d, DataType::Float16 | DataType::Bfloat16) || d.name().starts_with("float8")
        })
    };
    let mut visited: HashSet<usize> = HashSet::new();
    let mut moved = BTreeSet::new();
    while let Some(cur) = queue.pop_first() {
        if !visited.insert(cur) {
            continue;
        }
        let n = &nodes[cur];
        let on_cpu = if !takes[cur] {
            // A node the provider does not take runs on ONNX Runtime's CPU kernels: its outputs are host tensors.
            true
        } else {
            let host_inputs = p.cpu_inputs.get(&n.op_type);
            let ok = n.inputs.iter().enumerate().all(|(k, x)| {
                if half(x) {
                    return false;
                }
                if small.contains(x.as_str()) || fed.contains(x.as_str()) {
                    return true;
                }
                host.contains(x.as_str()) && !host_inputs.is_some_and(|h| h.contains(&k))
            });
            if ok {
                moved.insert(cur);
            }
            ok
        };
        if on_cpu {
            for out in n.outputs.iter().filter(|o| !o.is_empty()) {
                host.insert(out.as_str());
                queue.extend(users(out));
            }
        }
    }
    moved
}
