//! Per-op profiles in results.json (`cells[].profile`) and in `edgebench profile --json`: one row per ONNX node with
//! its time, its FLOPs and bytes, where it sits under the machine's roofs and whether the backend's table supports
//! it. Diagnostics: the gate ignores them. Format: docs/profile.md.

use serde::{Deserialize, Serialize};

/// How a node's time was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeTiming {
    /// The backend's profiler timed the node (tract: the plan nodes carrying its name, summed).
    Measured,
    /// The node ran inside a fused kernel; its share of the kernel's time was split off by an unfused pass.
    Attributed,
    /// The backend removed the node when it loaded the model (constant-folded or eliminated): nothing per run.
    Folded,
    /// No time could be given (the backend's profile has no row that stands for it).
    Missing,
}

/// One ONNX node of a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileNode {
    pub node: String,
    pub op: String,
    pub timing: NodeTiming,
    /// Median over the profiled runs, and the 10th / 90th percentiles (microseconds).
    pub p50_us: f64,
    pub p10_us: f64,
    pub p90_us: f64,
    /// p50 over the sum of node p50s.
    pub share: f64,
    /// FLOPs (2 x MACs for Conv/Gemm/MatMul, one per element for element-wise ops) and bytes read and written
    /// (weights and activations), from the shapes inferred for the feed; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbs: Option<f64>,
    /// `compute` or `memory`: which roof bounds the node at its FLOPs per byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<String>,
    /// The roof's time for the node's work over its measured time, in % (100: at the roof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roof_pct: Option<f64>,
    /// Measured time minus the roof's time: what a perfect kernel would save (microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom_us: Option<f64>,
    /// The backend's support table on this node: `runs`, `unknown`, or the blocking reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<String>,
    /// For a cell that ran a verified rewrite: a node the rewrite made (absent from the original model), with the
    /// rules applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<String>,
    /// The backend nodes whose time is in this row (fused kernels: the kernel's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_nodes: Vec<String>,
    /// Where those backend nodes ran (ONNX Runtime's execution provider), when the backend says; several joined
    /// by `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// Totals of one op type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpTotal {
    pub op: String,
    pub nodes: usize,
    pub p50_us: f64,
    pub share: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<u64>,
}

/// A backend row that stands for no ONNX node (a copy, a layout change the backend added).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtraRow {
    pub name: String,
    pub op: String,
    pub p50_us: f64,
}

/// The per-op profile of one model on one backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub backend: String,
    pub runs: usize,
    /// Whole-run p50 with the profiler on, and without it (the timed pass or a plain pass), microseconds.
    pub profiled_p50_us: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprofiled_p50_us: Option<f64>,
    /// profiled / unprofiled: the profiler's own cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead: Option<f64>,
    /// Sum of the node p50s (extra rows included), and the part of the profiled run no row accounts for.
    pub nodes_p50_sum_us: f64,
    pub unaccounted_us: f64,
    /// ONNX main-graph nodes, those with a measured or attributed time, and those the backend folded away.
    pub onnx_nodes: usize,
    pub timed_nodes: usize,
    pub folded_nodes: usize,
    /// Slowest first.
    pub nodes: Vec<ProfileNode>,
    pub by_op: Vec<OpTotal>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<ExtraRow>,
    /// The roofs used: peak GFLOP/s, GB/s, and where they come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofs: Option<crate::Roofs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A profile that could not be made: the backend has no per-op timing, or the profiled pass failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ProfileOutcome {
    Profiled(Box<Profile>),
    NotAvailable { backend: String, reason: String },
    Failed { backend: String, error: String },
}

impl Profile {
    /// The `n` op types that took longest: `Conv x32 1.57 ms (63 %), ...`.
    pub fn by_op_line(&self, n: usize) -> String {
        let ops: Vec<String> = self
            .by_op
            .iter()
            .take(n)
            .map(|t| {
                format!(
                    "{} x{} {} ({:.0} %)",
                    t.op,
                    t.nodes,
                    us(t.p50_us),
                    t.share * 100.0
                )
            })
            .collect();
        ops.join(", ")
    }

    /// One line: runs, profiled p50 and the profiler's cost, the node sum and what no node accounts for, coverage.
    pub fn headline(&self) -> String {
        format!(
            "{} runs, p50 {} profiled{}; nodes sum {}, unaccounted {}; {} of {} model nodes timed, {} folded",
            self.runs,
            us(self.profiled_p50_us),
            match (self.unprofiled_p50_us, self.overhead) {
                (Some(u), Some(o)) => format!(" ({} without the profiler: x{o:.2})", us(u)),
                _ => String::new(),
            },
            us(self.nodes_p50_sum_us),
            us(self.unaccounted_us),
            self.timed_nodes,
            self.onnx_nodes,
            self.folded_nodes
        )
    }
}

/// Microseconds as the report writes durations.
pub(crate) fn us(x: f64) -> String {
    crate::html::fmt_ns(x * 1e3)
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.filter(|v| v.is_finite())
        .map(f)
        .unwrap_or_else(|| "-".into())
}

fn timing_name(t: NodeTiming) -> &'static str {
    match t {
        NodeTiming::Measured => "measured",
        NodeTiming::Attributed => "attributed",
        NodeTiming::Folded => "folded",
        NodeTiming::Missing => "missing",
    }
}

/// The terminal text of one model's profiles: per backend the top nodes, the totals by op type and what no node
/// accounts for; then the same nodes across backends side by side.
pub fn text(model: &str, outcomes: &[ProfileOutcome], top: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut profiled = vec![];
    for o in outcomes {
        match o {
            ProfileOutcome::NotAvailable { backend, reason } => {
                let _ = writeln!(s, "{model} on {backend}: {reason}");
            }
            ProfileOutcome::Failed { backend, error } => {
                let _ = writeln!(s, "{model} on {backend}: profile failed: {error}");
            }
            ProfileOutcome::Profiled(p) => {
                profiled.push(p.as_ref());
                let _ = writeln!(s, "{model} on {}: {}", p.backend, p.headline());
                if p.timed_nodes == 0 {
                    for e in &p.extra {
                        let _ = writeln!(s, "  {:<60} {:>10}", e.name, us(e.p50_us));
                    }
                    let _ = writeln!(
                        s,
                        "  no per-node times on this backend: {}",
                        p.notes.join("; ")
                    );
                    continue;
                }
                let _ = writeln!(
                    s,
                    "  {:<28} {:<18} {:<10} {:>10} {:>21} {:>6} {:>8} {:>7} {:<7} {:>6} {:>10}  support [provider]",
                    "node",
                    "op",
                    "timing",
                    "p50",
                    "p10..p90",
                    "share",
                    "GFLOP/s",
                    "GB/s",
                    "bound",
                    "%roof",
                    "headroom"
                );
                for r in p.nodes.iter().take(top) {
                    let name: String = r.node.chars().take(28).collect();
                    let op: String = r.op.chars().take(18).collect();
                    let _ = writeln!(
                        s,
                        "  {name:<28} {op:<18} {:<10} {:>10} {:>21} {:>5.1}% {:>8} {:>7} {:<7} {:>6} {:>10}  {}",
                        timing_name(r.timing),
                        us(r.p50_us),
                        format!("{}..{}", us(r.p10_us), us(r.p90_us)),
                        r.share * 100.0,
                        opt(r.gflops, |x| format!("{x:.2}")),
                        opt(r.gbs, |x| format!("{x:.2}")),
                        r.bound.as_deref().unwrap_or("-"),
                        opt(r.roof_pct, |x| format!("{x:.0}%")),
                        opt(r.headroom_us, us),
                        match &r.provider {
                            Some(p) => format!("{} [{p}]", r.support.as_deref().unwrap_or("-")),
                            None => r.support.as_deref().unwrap_or("-").to_string(),
                        }
                    );
                }
                if p.nodes.len() > top {
                    let _ = writeln!(
                        s,
                        "  ... {} more nodes (--top, --json)",
                        p.nodes.len() - top
                    );
                }
                let _ = writeln!(s, "  by op: {}", p.by_op_line(8));
                if !p.extra.is_empty() {
                    let extra: Vec<String> = p
                        .extra
                        .iter()
                        .take(5)
                        .map(|e| format!("{} ({}) {}", e.name, e.op, us(e.p50_us)))
                        .collect();
                    let _ = writeln!(s, "  rows of no ONNX node: {}", extra.join(", "));
                }
            }
        }
    }
    if profiled.len() > 1 {
        let mut worst: Vec<(&str, f64)> = profiled[0]
            .nodes
            .iter()
            .map(|r| {
                let max = profiled
                    .iter()
                    .filter_map(|p| p.nodes.iter().find(|x| x.node == r.node))
                    .map(|x| x.p50_us)
                    .fold(0.0, f64::max);
                (r.node.as_str(), max)
            })
            .collect();
        worst.sort_by(|a, b| b.1.total_cmp(&a.1));
        let _ = write!(s, "{model}, side by side: {:<28}", "node");
        for p in &profiled {
            let _ = write!(s, " {:>12}", p.backend);
        }
        let _ = writeln!(s);
        for (node, _) in worst.iter().take(top) {
            let name: String = node.chars().take(28).collect();
            let _ = write!(s, "  {name:<28}");
            for p in &profiled {
                let t = p.nodes.iter().find(|x| x.node == *node);
                let _ = write!(s, " {:>12}", t.map(|x| us(x.p50_us)).unwrap_or("-".into()));
            }
            let _ = writeln!(s);
        }
    }
    s
}
