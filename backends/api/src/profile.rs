//! Per-op profiles: what a backend's own profiler measured, node by node, before the harness maps it onto the ONNX
//! graph and joins it with FLOPs, bytes, roofs and support verdicts.

use serde::{Deserialize, Serialize};

/// How a row's time was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// The profiler timed this node itself.
    Measured,
    /// Split off a measured node that stands for several (a fused kernel), in proportion to an unfused pass.
    Attributed,
}

/// One node as the backend ran it, with its time in each profiled run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeTime {
    /// The backend's node name (tract: the ONNX name, with dotted suffixes for the nodes it lowered it into).
    pub name: String,
    /// The backend's op (ORT: the kernel's op, e.g. `FusedConv`).
    pub op: String,
    /// The ONNX main-graph nodes this time belongs to, when the backend knows; empty otherwise (the harness maps it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub onnx: Vec<String>,
    /// Microseconds in each profiled run (as many as [`OpProfile::run_us`]).
    pub us: Vec<f64>,
    /// Where the node ran, as the runtime names it (ONNX Runtime's execution provider, e.g.
    /// `OpenVINOExecutionProvider`); absent when the backend has one place only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A node of the graph the backend ran (after its own optimisation), with its tensors: how fused kernels map back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RanNode {
    pub name: String,
    pub op: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// What a backend's profiler saw over the profiled runs (warm-up excluded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpProfile {
    /// Whole-run time of each profiled run, microseconds, profiler on.
    pub run_us: Vec<f64>,
    pub nodes: Vec<NodeTime>,
    /// The graph that ran, when it differs from the model's (ORT's optimised model): fused nodes map back through
    /// their tensors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ran: Vec<RanNode>,
    /// A second profiled pass with the backend's graph optimisation off (ORT), per ONNX node: the weights that split
    /// a fused kernel's time among the nodes it replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfused: Vec<NodeTime>,
    /// What the reader should know (the profiler's resolution, passes made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The p50 of a sample (0 for none).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Where a runtime with an accelerator (LiteRT and XNNPACK or its GPU) ran a model's nodes, as its profiler saw it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedPlacement {
    /// `XNNPACK`, `GPU`.
    pub accelerator: String,
    /// Main-graph node indices that ran on the runtime's own kernels (not on the accelerator).
    pub on_cpu_kernels: Vec<usize>,
    /// Partitions handed to the accelerator that ran operators in the observed run.
    pub partitions: usize,
    /// Operators the accelerator ran (its own names, e.g. XNNPACK's `Convolution (NHWC, F32) IGEMM`).
    pub accelerator_ops: usize,
    /// The runtime's own word (`LiteRtCompiledModelIsFullyAccelerated`).
    pub fully_accelerated: bool,
}
