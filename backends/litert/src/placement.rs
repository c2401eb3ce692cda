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

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    delegate_internal: bool,
    index: u64,
    tag: String,
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
    let node_count = ops_in_main(c)?;
    let mut times: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut on_cpu = std::collections::BTreeSet::new();
    let mut partitions = BTreeMap::new();
    // Accelerator operators of the first profiled run: their index restarts at 0 in each partition.
    let per_run = |n: usize| n / runs;
    let delegate_events: Vec<u64> = events
        .iter()
        .filter(|(ty, ..)| {
            matches!(
                *ty,
                ffi::EVENT_DELEGATE_OPERATOR_INVOKE | ffi::EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE
            )
        })
        .map(|(_, _, meta, _)| *meta)
        .collect();
    let first_run = &delegate_events[..per_run(delegate_events.len())];
    let delegate_partitions = first_run
        .iter()
        .enumerate()
        .filter(|(i, m)| *i == 0 || **m <= first_run[i - 1])
        .count();
    for (ty, tag, meta, us) in events {
        let delegate_internal = match ty {
            ffi::EVENT_OPERATOR_INVOKE => false,
            ffi::EVENT_DELEGATE_OPERATOR_INVOKE | ffi::EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE => {
                true
            }
            _ => continue,
        };
        if !delegate_internal {
            if (meta as usize) < node_count {
                on_cpu.insert(meta as usize);
            } else {
                partitions.insert(meta, tag.clone());
            }
        }
        times
            .entry(Key {
                delegate_internal,
                index: meta,
                tag,
            })
            .or_default()
            .push(us as f64);
    }
    let nodes = times
        .into_iter()
        .map(|(k, v)| {
            // Events of one node, run after run: fold them into `runs` values.
            let per = v.len().div_ceil(runs).max(1);
            let us: Vec<f64> = v.chunks(per).map(|c| c.iter().sum()).collect();
            let (name, onnx) = if k.delegate_internal {
                (format!("{}#{} (delegate op)", k.tag, k.index), vec![])
            } else if (k.index as usize) < node_count {
                let n = format!("{}#{}", k.tag, k.index);
                (n.clone(), vec![n])
            } else {
                (format!("{}#{} (partition)", k.tag, k.index), vec![])
            };
            NodeTime {
                name,
                op: k.tag,
                onnx,
                us,
            }
        })
        .collect();
    let placement = ObservedPlacement {
        accelerator: match c.accel {
            crate::Accel::Cpu => "XNNPACK".into(),
            crate::Accel::Gpu => "GPU".into(),
            crate::Accel::Reference => "none".into(),
        },
        on_cpu_kernels: on_cpu.into_iter().collect(),
        partitions: delegate_partitions.max(partitions.len()),
        accelerator_ops: first_run.len(),
        fully_accelerated: c.fully_accelerated()?,
    };
    let profile = OpProfile {
        run_us,
        nodes,
        notes: vec![format!(
            "LiteRT profiler: operator-invoke events of the interpreter's kernels (named OP#index); the accelerator's \
             own operators ({} in {} partitions, named as {} names them) are listed apart",
            placement.accelerator_ops, placement.partitions, placement.accelerator
        )],
        ..Default::default()
    };
    Ok((placement, profile))
}

/// The number of operators in subgraph 0, read from the model file's IR.
fn ops_in_main(c: &Compiled) -> Result<usize, String> {
    Ok(c.ops)
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
