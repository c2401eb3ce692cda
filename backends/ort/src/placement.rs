//! Where ONNX Runtime put each node: its EP graph assignment info (ONNX Runtime >= 1.24: the session option
//! `session.record_ep_graph_assignment_info`, then `Session_GetEpGraphAssignmentInfo`), read through the raw C API
//! (`ort` exposes only the binding). The session is made with graph optimisation off, so the nodes keep the model's
//! names and the assignment is of the model's own nodes, as a support table predicts it.

use edgebench_backend_api::ObservedPlacement;
use ort::AsPointer;
use ort::session::Session;
use ort::sys::{OrtEpAssignedNode, OrtEpAssignedSubgraph, OrtStatusPtr};
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

/// The placement of a model's main-graph nodes (`node_names`, in the model's order) from the assignment: nodes in
/// `ep`'s subgraphs ran on it, every other node on ONNX Runtime's own CPU kernels; `partitions` counts `ep`'s
/// subgraphs. A node the assignment does not name (ONNX Runtime removed it, e.g. a constant it folded) counts as
/// on neither.
pub fn placement(assigned: &[Assigned], ep: &str, node_names: &[String]) -> ObservedPlacement {
    let on_ep: std::collections::HashSet<&str> = assigned
        .iter()
        .filter(|a| a.ep == ep)
        .flat_map(|a| a.nodes.iter().map(String::as_str))
        .collect();
    let elsewhere: std::collections::HashSet<&str> = assigned
        .iter()
        .filter(|a| a.ep != ep)
        .flat_map(|a| a.nodes.iter().map(String::as_str))
        .collect();
    let on_cpu_kernels: Vec<usize> = node_names
        .iter()
        .enumerate()
        .filter(|(_, n)| elsewhere.contains(n.as_str()) && !on_ep.contains(n.as_str()))
        .map(|(i, _)| i)
        .collect();
    ObservedPlacement {
        accelerator: ep.to_string(),
        partitions: assigned.iter().filter(|a| a.ep == ep).count(),
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
        let names: Vec<String> = ["conv", "relu", "nms", "head", "folded"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = placement(&assigned, "OpenVINOExecutionProvider", &names);
        assert_eq!(p.on_cpu_kernels, vec![2]);
        assert_eq!((p.partitions, p.accelerator_ops), (2, 3));
        assert!(!p.fully_accelerated);
    }
}
