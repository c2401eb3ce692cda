//! A cell's processes (or an interleaved side's children) joined into one measurement.

use crate::cell::Measured;
use edgebench_measure::sampling::StoppedBy;
use edgebench_report::{self as report, Outcome};
use std::path::Path;

/// One process of a cell with its samples, or the outcome that ended it.
pub(super) type Part = Result<(Measured, Vec<f64>), Outcome>;

/// Joins the processes of one cell: samples concatenated (written to `samples`), statistics of the pool, cold start
/// of the first process, the highest peak memory, CPU time and energy summed. Returns the per-process medians
/// (none for a single process, whose file is already the child's).
pub(super) fn pool(
    parts: Vec<(Measured, Vec<f64>)>,
    samples: &Path,
) -> Result<(Measured, Vec<report::ProcessRecord>), String> {
    let n_parts = parts.len();
    let mut it = parts.into_iter();
    let (mut first, mut all) = it.next().ok_or("no process ran")?;
    let mut records = vec![record_of(&all)];
    if n_parts == 1 {
        return Ok((first, vec![]));
    }
    let (mut joules, mut inferences, mut watts) = (
        first.energy.joules,
        first.latency.count as f64,
        first.energy.average_watts,
    );
    for (m, s) in it {
        records.push(record_of(&s));
        all.extend_from_slice(&s);
        first.memory.peak_rss_bytes = first.memory.peak_rss_bytes.max(m.memory.peak_rss_bytes);
        first.cpu_user_s += m.cpu_user_s;
        first.cpu_sys_s += m.cpu_sys_s;
        joules += m.energy.joules;
        inferences += m.latency.count as f64;
        watts += m.energy.average_watts;
        first.warmup_iterations += m.warmup_iterations;
        if m.stopped_by != StoppedBy::Precision {
            first.stopped_by = m.stopped_by;
        }
    }
    first.energy.joules = joules;
    first.energy.joules_per_inference = if inferences > 0.0 {
        joules / inferences
    } else {
        0.0
    };
    first.energy.average_watts = watts / n_parts as f64;
    first.latency = edgebench_measure::stats::Stats::from_samples(&all);
    report::samples::write(samples, &all).map_err(|e| e.to_string())?;
    Ok((first, records))
}

/// The sample count and median of one process or turn.
pub(super) fn record_of(s: &[f64]) -> report::ProcessRecord {
    let mut v = s.to_vec();
    v.sort_by(f64::total_cmp);
    report::ProcessRecord {
        samples: v.len(),
        p50_ns: edgebench_measure::stats::percentile(&v, 50.0),
    }
}
