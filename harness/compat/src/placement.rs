//! The second layer of a verdict on a runtime with an accelerator (LiteRT with XNNPACK, ONNX Runtime with an
//! execution provider such as OpenVINO): which nodes the accelerator is predicted to take, from the table's
//! `[placement]` op list, and into how many partitions.

use crate::table::SupportTable;
use edgebench_graph::Model;
use serde::Serialize;
use std::collections::HashMap;

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
    let takes: Vec<bool> = nodes
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
                    .is_none_or(|max| n.version.is_none_or(|v| v <= *max))
                && p.static_inputs.get(&n.op_type).is_none_or(|idx| {
                    idx.iter().all(|i| {
                        n.inputs
                            .get(*i)
                            .is_none_or(|x| x.is_empty() || quasi_static(x))
                    })
                })
        })
        .collect();
    // Union-find over accelerated nodes joined by a tensor one produces and another consumes.
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let producer: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i)))
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        if !takes[i] {
            continue;
        }
        for input in &n.inputs {
            if let Some(&j) = producer.get(input.as_str())
                && takes[j]
            {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|i| takes[*i])
        .map(|i| root(&mut parent, i))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    Some(PlacementPrediction {
        accelerator: p.accelerator.clone(),
        accelerated: takes.iter().filter(|t| **t).count(),
        on_cpu_kernels: (0..nodes.len()).filter(|i| !takes[*i]).collect(),
        partitions: roots.len(),
    })
}
