//! What LiteRT did with each node, from its profiler: which ran on the interpreter's own kernels and which an
//! accelerator (XNNPACK, the GPU) took, and per-op times.
//!
//! Operator-invoke events carry the execution-plan node index: an index below the model's op count is a TFLite node
//! on the interpreter's kernels; a delegate kernel (`TfLiteXNNPackDelegate`, the GPU's) is a node appended after them,
//! standing for one partition. Delegate-operator events are the accelerator's own operators (XNNPACK's names, its own
//! index). Telemetry and runtime-instrumentation events are dropped: their durations are not times.

use crate::{Compiled, ffi};
use edgebench_backend_api::{HostTensor, NodeTime, ObservedPlacement, OpProfile};
use std::collections::BTreeMap;
use std::time::Instant;

/// A main-graph node as the profiler's rows need it.
#[derive(Clone, Debug)]
pub(crate) struct ModelNode {
    pub name: String,
    pub op: String,
    /// A DEQUANTIZE or DENSIFY of a constant: an accelerator unpacks it into the weights (no operator of its own).
    pub folded: bool,
}

pub(crate) fn model_nodes(m: &edgebench_graph::Model) -> Vec<ModelNode> {
    // DEQUANTIZE and DENSIFY of constants (and chains of them): XNNPACK unpacks them at load.
    let mut quasi: std::collections::HashSet<&str> =
        m.graph.initializers.iter().map(|t| t.name()).collect();
    m.graph
        .nodes
        .iter()
        .map(|n| {
            let folded = matches!(n.op_type.as_str(), "DEQUANTIZE" | "DENSIFY")
                && n.inputs.first().is_some_and(|i| quasi.contains(i.as_str()));
            if folded {
                quasi.extend(n.outputs.iter().map(String::as_str));
            }
            ModelNode {
                name: n.name.clone(),
                op: n.op_type.clone(),
                folded,
            }
        })
        .collect()
}

/// The TFLite ops an XNNPACK operator (named by its kind, the part of its name before ` (`) can stand for.
const XNNPACK_KINDS: &[(&str, &[&str])] = &[
    ("Convolution", &["CONV_2D", "DEPTHWISE_CONV_2D"]),
    (
        "Deconvolution",
        &["TRANSPOSE_CONV", "Convolution2DTransposeBias"],
    ),
    (
        "Fully Connected",
        &["FULLY_CONNECTED", "CONV_2D", "BATCH_MATMUL"],
    ),
    ("Batch Matrix Multiply", &["BATCH_MATMUL"]),
    ("Add", &["ADD"]),
    ("Subtract", &["SUB"]),
    ("Multiply", &["MUL"]),
    ("Divide", &["DIV"]),
    ("Maximum", &["MAXIMUM"]),
    ("Minimum", &["MINIMUM"]),
    ("Squared Difference", &["SQUARED_DIFFERENCE"]),
    ("Max Pooling", &["MAX_POOL_2D"]),
    ("Average Pooling", &["AVERAGE_POOL_2D"]),
    ("Mean", &["MEAN"]),
    ("Sum", &["SUM"]),
    ("Sigmoid", &["LOGISTIC"]),
    ("HardSwish", &["HARD_SWISH"]),
    ("Clamp", &["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"]),
    ("Tanh", &["TANH"]),
    ("ELU", &["ELU"]),
    ("Leaky ReLU", &["LEAKY_RELU"]),
    ("PReLU", &["PRELU"]),
    ("GELU", &["GELU"]),
    ("Static Reshape", &["RESHAPE", "SQUEEZE", "EXPAND_DIMS"]),
    ("Copy", &["RESHAPE", "SQUEEZE", "EXPAND_DIMS"]),
    ("Constant Pad", &["PAD", "PADV2"]),
    ("Resize Bilinear", &["RESIZE_BILINEAR"]),
    ("Softmax", &["SOFTMAX"]),
    ("Transpose", &["TRANSPOSE"]),
    ("Concatenate", &["CONCATENATION"]),
    ("Slice", &["SLICE", "STRIDED_SLICE"]),
    ("Convert", &["QUANTIZE", "DEQUANTIZE"]),
    ("Depth To Space", &["DEPTH_TO_SPACE"]),
    ("Space To Depth", &["SPACE_TO_DEPTH"]),
];

/// Matches the accelerator's operators of one run (in order) to the delegated nodes (in order) by kind: each
/// operator takes the next node of a kind it can stand for; nodes passed over were fused or elided (a RELU into its
/// convolution). `None` where no node fits.
fn align(ops: &[String], nodes: &[ModelNode], delegated: &[usize]) -> Vec<Option<usize>> {
    let mut j = 0;
    ops.iter()
        .map(|tag| {
            let kind = tag.split(" (").next().unwrap_or(tag);
            let fits = XNNPACK_KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, ops)| *ops)?;
            let at = delegated[j..]
                .iter()
                .position(|&n| fits.contains(&nodes[n].op.as_str()))?;
            let n = delegated[j + at];
            j += at + 1;
            Some(n)
        })
        .collect()
}

/// Runs `warmup` unprofiled and `runs` profiled inferences; the placement and the per-op rows.
pub(crate) fn observe(
    c: &mut Compiled,
    feed: &[(String, HostTensor)],
    warmup: usize,
    runs: usize,
) -> Result<(ObservedPlacement, OpProfile), String> {
    let runs = runs.max(1);
    let a = &c.rt.api;
    let mut profiler: ffi::Handle = std::ptr::null_mut();
    // SAFETY: a live compiled model made with profiling on; the profiler is owned by it.
    unsafe {
        crate::check(
            (a.LiteRtCompiledModelGetProfiler)(c.compiled, &mut profiler),
            "LiteRtCompiledModelGetProfiler (was profiling enabled?)",
        )?;
    }
    if profiler.is_null() {
        return Err("LiteRT returned no profiler".into());
    }
    for _ in 0..warmup {
        c.run(feed)?;
    }
    // SAFETY: the profiler handle stays valid while the compiled model lives.
    unsafe {
        crate::check((a.LiteRtResetProfiler)(profiler), "LiteRtResetProfiler")?;
        crate::check((a.LiteRtStartProfiler)(profiler), "LiteRtStartProfiler")?;
    }
    let mut run_us = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        c.run(feed)?;
        run_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let events = unsafe {
        // SAFETY: as above; the events buffer has room for `n` events and their tags are owned by the profiler
        // (copied out before it is reset or stopped again).
        crate::check((a.LiteRtStopProfiler)(profiler), "LiteRtStopProfiler")?;
        let mut n = 0;
        crate::check(
            (a.LiteRtGetNumProfilerEvents)(profiler, &mut n),
            "LiteRtGetNumProfilerEvents",
        )?;
        let mut ev = vec![std::mem::zeroed::<ffi::ProfiledEvent>(); n.max(0) as usize];
        if n > 0 {
            crate::check(
                (a.LiteRtGetProfilerEvents)(profiler, n, ev.as_mut_ptr()),
                "LiteRtGetProfilerEvents",
            )?;
        }
        ev.into_iter()
            .map(|e| (e.event_type, crate::cstr(e.tag), e.metadata1, e.elapsed_us))
            .collect::<Vec<_>>()
    };
    let nodes = &c.nodes;
    let node_count = nodes.len();
    let is_delegate_op = |ty: u32| {
        matches!(
            ty,
            ffi::EVENT_DELEGATE_OPERATOR_INVOKE | ffi::EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE
        )
    };
    // The interpreter's nodes by index; the accelerator's operators by their place in a run (their own index
    // restarts at 0 in each partition).
    let mut cpu: BTreeMap<usize, (String, Vec<f64>)> = BTreeMap::new();
    let mut partitions = std::collections::BTreeSet::new();
    let delegate: Vec<(String, u64, f64)> = events
        .iter()
        .filter(|(ty, ..)| is_delegate_op(*ty))
        .map(|(_, tag, meta, us)| (tag.clone(), *meta, *us as f64))
        .collect();
    for (ty, tag, meta, us) in &events {
        if *ty != ffi::EVENT_OPERATOR_INVOKE {
            continue;
        }
        if (*meta as usize) < node_count {
            cpu.entry(*meta as usize)
                .or_insert_with(|| (tag.clone(), vec![]))
                .1
                .push(*us as f64);
        } else {
            partitions.insert(*meta);
        }
    }
    let per_run = delegate.len() / runs;
    let first_run = &delegate[..per_run];
    let delegate_partitions = first_run
        .iter()
        .enumerate()
        .filter(|(i, (_, m, _))| *i == 0 || *m <= first_run[i - 1].1)
        .count();
    let delegated: Vec<usize> = (0..node_count)
        .filter(|i| !cpu.contains_key(i) && !nodes[*i].folded)
        .collect();
    let tags: Vec<String> = first_run.iter().map(|(t, ..)| t.clone()).collect();
    let matched = align(&tags, nodes, &delegated);
    let on_cpu: Vec<usize> = cpu.keys().copied().collect();
    let mut rows: Vec<NodeTime> = cpu
        .into_iter()
        .map(|(i, (tag, v))| {
            let per = v.len().div_ceil(runs).max(1);
            NodeTime {
                name: nodes[i].name.clone(),
                op: tag,
                onnx: vec![nodes[i].name.clone()],
                us: v.chunks(per).map(|c| c.iter().sum()).collect(),
                provider: None,
            }
        })
        .collect();
    for (k, (tag, index, _)) in first_run.iter().enumerate() {
        let us: Vec<f64> = delegate
            .iter()
            .skip(k)
            .step_by(per_run.max(1))
            .map(|(.., us)| *us)
            .collect();
        rows.push(NodeTime {
            name: format!("{tag}#{index} (XNNPACK operator {k})"),
            op: tag.clone(),
            onnx: matched[k]
                .map(|n| vec![nodes[n].name.clone()])
                .unwrap_or_default(),
            us,
            provider: None,
        });
    }
    let nodes = rows;
    let matched_ops = matched.iter().filter(|m| m.is_some()).count();
    let placement = ObservedPlacement {
        accelerator: match c.accel {
            crate::Accel::Cpu => "XNNPACK".into(),
            crate::Accel::Gpu => "GPU".into(),
            crate::Accel::Reference => "none".into(),
        },
        on_cpu_kernels: on_cpu,
        partitions: delegate_partitions.max(partitions.len()),
        accelerator_ops: first_run.len(),
        fully_accelerated: c.fully_accelerated()?,
    };
    let profile = OpProfile {
        run_us,
        nodes,
        notes: vec![format!(
            "LiteRT profiler: the interpreter's kernels timed per node (OP#index); the accelerator's own operators ({} \
             in {} partitions, named as {} names them), {matched_ops} matched to the model's nodes by kind and order \
             (fused nodes such as a RELU in its convolution get no time of their own; DEQUANTIZE of constants is \
             folded into the weights)",
            placement.accelerator_ops, placement.partitions, placement.accelerator
        )],
        ..Default::default()
    };
    Ok((placement, profile))
}

/// A one-op model (ADD of two float32 [1, 8] inputs) to see whether an accelerator starts.
pub(crate) fn one_op_model() -> Vec<u8> {
    use edgebench_graph::tflite::write::{ModelSpec, OpSpec, TensorSpec};
    let t = |name: &str| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape: vec![1, 8],
        ..Default::default()
    };
    ModelSpec {
        description: "edgebench accelerator check".into(),
        tensors: vec![t("a"), t("b"), t("y")],
        ops: vec![OpSpec {
            builtin: 0,
            version: 1,
            inputs: vec![0, 1],
            outputs: vec![2],
            ..Default::default()
        }],
        inputs: vec![0, 1],
        outputs: vec![2],
    }
    .encode()
}
