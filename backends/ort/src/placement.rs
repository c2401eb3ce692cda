//! Where ONNX Runtime put each node: its EP graph assignment info (ONNX Runtime >= 1.24: the session option
//! `session.record_ep_graph_assignment_info`, then `Session_GetEpGraphAssignmentInfo`), read through the raw C API
//! (`ort` exposes only the binding). The session is made with graph optimisation off, so the nodes keep the model's
//! names and the assignment is of the model's own nodes, as a support table predicts it.

use edgebench_backend_api::ObservedPlacement;
use edgebench_graph::Node;
use ort::AsPointer;
use ort::session::Session;
use ort::sys::{OrtEpAssignedNode, OrtEpAssignedSubgraph, OrtStatusPtr};
use std::collections::HashSet;
use std::ffi::{CStr, c_char};

/// The session option that makes ONNX Runtime record the assignment.
pub const RECORD_OPTION: &str = "session.record_ep_graph_assignment_info";

/// One subgraph as ONNX Runtime assigned it: the provider and its nodes' names.
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    pub ep: String,
    pub nodes: Vec<String>,
}

fn check(status: OrtStatusPtr, what: &str) -> Result<(), String> {
    if status.0.is_null() {
        return Ok(());
    }
    let api = ort::api();
    // SAFETY: a non-null status from the C API; its message lives until it is released, after the copy.
    let msg = unsafe {
        let m = (api.GetErrorMessage)(status.0);
        let s = if m.is_null() {
            "(no message)".to_string()
        } else {
            CStr::from_ptr(m).to_string_lossy().into_owned()
        };
        (api.ReleaseStatus)(status.0);
        s
    };
    Err(format!("{what}: {msg}"))
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string owned by the session, valid while it lives.
    unsafe { CStr::from_ptr(p).to_string_lossy().into_owned() }
}

/// The session's assignment, subgraph by subgraph, in ONNX Runtime's order.
pub fn assignment(session: &Session) -> Result<Vec<Assigned>, String> {
    let api = ort::api();
    let mut subs: *const *const OrtEpAssignedSubgraph = std::ptr::null();
    let mut n = 0usize;
    // SAFETY: the session pointer is live for the call; ONNX Runtime owns the returned arrays (valid while the
    // session lives), and we only read them here.
    unsafe {
        check(
            (api.Session_GetEpGraphAssignmentInfo)(session.ptr(), &mut subs, &mut n),
            "Session_GetEpGraphAssignmentInfo",
        )?;
        let mut out = vec![];
        for i in 0..n {
            let sub = *subs.add(i);
            let mut ep: *const c_char = std::ptr::null();
            check(
                (api.EpAssignedSubgraph_GetEpName)(sub, &mut ep),
                "EpAssignedSubgraph_GetEpName",
            )?;
            let mut nodes: *const *const OrtEpAssignedNode = std::ptr::null();
            let mut m = 0usize;
            check(
                (api.EpAssignedSubgraph_GetNodes)(sub, &mut nodes, &mut m),
                "EpAssignedSubgraph_GetNodes",
            )?;
            let mut names = vec![];
            for j in 0..m {
                let mut name: *const c_char = std::ptr::null();
                check(
                    (api.EpAssignedNode_GetName)(*nodes.add(j), &mut name),
                    "EpAssignedNode_GetName",
                )?;
                names.push(text(name));
            }
            out.push(Assigned {
                ep: text(ep),
                nodes: names,
            });
        }
        Ok(out)
    }
}

/// The placement of a model's main-graph nodes (`nodes`, in the model's order) from the assignment: nodes in
/// `ep`'s subgraphs ran on it, every other node on ONNX Runtime's own CPU kernels. A node the assignment does not
/// name (ONNX Runtime removed it, e.g. a constant it folded) counts as on neither. `partitions` counts `ep`'s
/// subgraphs; a provider that takes nodes one by one (CUDA: every subgraph one node) has its partitions counted
/// as the prediction counts them, groups of its nodes joined by a tensor one produces and another consumes.
pub fn placement(assigned: &[Assigned], ep: &str, nodes: &[Node]) -> ObservedPlacement {
    let on_ep: HashSet<&str> = assigned
        .iter()
        .filter(|a| a.ep == ep)
        .flat_map(|a| a.nodes.iter().map(String::as_str))
        .collect();
    let elsewhere: HashSet<&str> = assigned
        .iter()
        .filter(|a| a.ep != ep)
        .flat_map(|a| a.nodes.iter().map(String::as_str))
        .collect();
    let on_cpu_kernels: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| elsewhere.contains(n.name.as_str()) && !on_ep.contains(n.name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let subgraphs: Vec<&Assigned> = assigned.iter().filter(|a| a.ep == ep).collect();
    let partitions = if subgraphs.len() > 1 && subgraphs.iter().all(|a| a.nodes.len() == 1) {
        edgebench_graph::node_groups(nodes, |i| on_ep.contains(nodes[i].name.as_str()))
    } else {
        subgraphs.len()
    };
    ObservedPlacement {
        accelerator: ep.to_string(),
        partitions,
        accelerator_ops: on_ep.len(),
        fully_accelerated: on_cpu_kernels.is_empty() && !on_ep.is_empty(),
        on_cpu_kernels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_outside_the_providers_subgraphs_ran_on_the_cpu_kernels() {
        let a = |ep: &str, n: &[&str]| Assigned {
            ep: ep.into(),
            nodes: n.iter().map(|s| s.to_string()).collect(),
        };
        let assigned = [
            a("OpenVINOExecutionProvider", &["conv", "relu"]),
            a("CPUExecutionProvider", &["nms"]),
            a("OpenVINOExecutionProvider", &["head"]),
        ];
        let node = |name: &str, i: &[&str], o: &[&str]| Node {
            name: name.into(),
            inputs: i.iter().map(|s| s.to_string()).collect(),
            outputs: o.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let nodes = [
            node("conv", &["x"], &["c"]),
            node("relu", &["c"], &["r"]),
            node("nms", &["r"], &["n"]),
            node("head", &["n"], &["y"]),
            node("folded", &[], &["k"]),
        ];
        let p = placement(&assigned, "OpenVINOExecutionProvider", &nodes);
        assert_eq!(p.on_cpu_kernels, vec![2]);
        assert_eq!((p.partitions, p.accelerator_ops), (2, 3));
        assert!(!p.fully_accelerated);
        // CUDA assigns node by node: its partitions are the connected groups of its nodes.
        let cuda = [
            a("CUDAExecutionProvider", &["conv"]),
            a("CUDAExecutionProvider", &["relu"]),
            a("CPUExecutionProvider", &["nms"]),
            a("CUDAExecutionProvider", &["head"]),
        ];
        let p = placement(&cuda, "CUDAExecutionProvider", &nodes);
        assert_eq!(p.on_cpu_kernels, vec![2]);
        assert_eq!((p.partitions, p.accelerator_ops), (2, 3));
        assert!(!p.fully_accelerated);
    }
}
