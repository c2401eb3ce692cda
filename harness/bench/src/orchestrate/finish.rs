//! A cell's record from its measurement: the measured fields and the roofline, the verified rewrite it ran, and
//! once its row is done, the agreement with the reference backend and a variant's ratios to its fp32 cell.

use super::CellCtx;
use crate::cell::Measured;
use crate::plan::{CellKey, Plan, PlanModel};
use edgebench_report::{self as report, Cell, Outcome, Roofline};
use std::path::PathBuf;

/// The cell from its pooled measurement: roofline (against the peak of the device its backend computes on, as
/// the backend reports it; none for a GPU cell when the target gives no GPU peak) and the measured fields.
pub(super) fn finish(c: &CellCtx, mut cell: Cell, x: Measured) -> Cell {
    let site = c.site();
    let model = c.model();
    let on_gpu = site
        .runner
        .facts()
        .iter()
        .any(|f| f.name == c.key.backend && f.on_gpu());
    // A GPU cell on a target that gives no GPU peak has no roofline: the CPU's peak is not its roof.
    let peak = match (on_gpu, site.target.gpu_peak_gflops) {
        (true, g) => g,
        (false, _) => Some(site.target.peak_gflops),
    };
    // No roofline when the model's FLOPs are unknown (shapes could not be inferred).
    if let Some(peak) = peak
        && model.flops > 0
        && x.latency.p50_ns > 0.0
    {
        let achieved = model.flops as f64 / x.latency.p50_ns;
        cell.roofline = Some(Roofline {
            model_flops: model.flops,
            achieved_gflops: achieved,
            peak_gflops: peak,
            share_of_peak: achieved / peak,
            mem_bandwidth_gbs: Some(site.target.mem_bandwidth_gbs),
            roof_source: Some(roof_source(&site.target).into()),
            model_bytes: std::fs::metadata(c.file()).ok().map(|m| m.len()),
        });
    }
    cell.backend_version = Some(x.backend_version);
    cell.cold_start = Some(x.cold_start);
    cell.latency = Some(x.latency);
    cell.stopped_by = Some(x.stopped_by);
    cell.warmup_iterations = Some(x.warmup_iterations);
    cell.samples_file = Some(c.samples_rel.clone());
    cell.memory = Some(x.memory);
    cell.cpu_user_s = Some(x.cpu_user_s);
    cell.cpu_sys_s = Some(x.cpu_sys_s);
    cell.energy = Some(x.energy);
    cell.split = x.split;
    cell
}

/// `measured` when the target's roofs were measured where the run happens, else `nominal`.
pub(super) fn roof_source(t: &edgebench_measure::targets::Target) -> &'static str {
    if t.measured_roofs.is_some() {
        "measured"
    } else {
        "nominal"
    }
}

/// An fp32 cell of a backend that has a verified rewrite of the model records it; a cell that failed although
/// its rewrite could not be used says why next to the original error.
pub(super) fn with_rewrite(mut cell: Cell, model: &PlanModel) -> Cell {
    if cell.variant != "fp32" {
        return cell;
    }
    let Some(r) = model.rewrites.get(&cell.backend) else {
        return cell;
    };
    if let Outcome::Failed { message, .. } = &mut cell.outcome
        && !r.used
    {
        message.push_str(&format!(" ({})", r.summary()));
    }
    cell.rewrite = Some(r.clone());
    cell
}

/// A row of cells (one model and variant) with the outputs each saved, once all of them ran.
pub(super) type Row = Vec<(Cell, Option<PathBuf>)>;

/// Compares each cell's outputs with the reference. Emulated cells never serve as the reference.
pub(super) fn agree(row: &mut Row) {
    let saved: Vec<(String, bool, Option<PathBuf>)> = row
        .iter()
        .map(|(c, p)| (c.backend.clone(), !c.emulated, p.clone()))
        .collect();
    for ((cell, p), ag) in row.iter_mut().zip(crate::agreement::row(&saved)) {
        if p.is_some() {
            cell.agreement = ag;
        }
    }
}

/// Each variant cell's ratios to its fp32 cell among `cells`.
pub(super) fn deltas(row: &mut Row, cells: &[Cell], plan: &Plan) {
    for (c, _) in row.iter_mut().filter(|(c, _)| c.variant != "fp32") {
        let fp32 = CellKey {
            variant: "fp32".into(),
            ..CellKey::of(c)
        };
        let base = cells.iter().find(|b| CellKey::of(b) == fp32);
        let record = plan
            .variant_records
            .iter()
            .find(|r| r.model == c.model && r.kind == c.variant);
        c.delta = Some(delta(c, base, record));
    }
}

/// A variant cell's ratios to its fp32 cell.
fn delta(c: &Cell, base: Option<&Cell>, record: Option<&report::VariantRecord>) -> report::Delta {
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => Some(a / b),
        _ => None,
    };
    let ok = |x: &Cell| x.outcome == Outcome::Ok;
    let base = base.filter(|b| ok(b) && ok(c));
    report::Delta {
        latency_ratio: ratio(
            c.latency.as_ref().map(|l| l.p50_ns),
            base.and_then(|b| b.latency.as_ref()).map(|l| l.p50_ns),
        ),
        peak_memory_ratio: ratio(
            c.memory.as_ref().map(|m| m.peak_rss_bytes as f64),
            base.and_then(|b| b.memory.as_ref())
                .map(|m| m.peak_rss_bytes as f64),
        ),
        energy_ratio: ratio(
            c.energy.as_ref().map(|e| e.joules_per_inference),
            base.and_then(|b| b.energy.as_ref())
                .map(|e| e.joules_per_inference),
        ),
        size_ratio: record.map(|r| r.size_ratio),
        drift: record.map(|r| r.drift.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_rewrite;
    use edgebench_report::{Cell, Outcome, RewriteRecord};

    fn failed_cell(variant: &str) -> Cell {
        serde_json::from_value(serde_json::json!({
            "target": "host", "emulated": false, "backend": "wonnx", "backend_version": null,
            "model": "m", "variant": variant,
            "outcome": { "status": "failed", "exit_code": 5, "message": "output has no static shape" },
            "cold_start": null, "latency": null, "stopped_by": null, "warmup_iterations": null,
            "samples_file": null, "memory": null, "cpu_user_s": null, "cpu_sys_s": null, "energy": null,
            "roofline": null, "agreement": null
        }))
        .unwrap()
    }

    #[test]
    fn a_failed_cell_whose_rewrite_was_rolled_back_keeps_its_error_and_says_why() {
        let mut m = crate::plan::PlanModel {
            name: "m".into(),
            path: "m.onnx".into(),
            feed: vec![],
            notes: vec![],
            flops: 0,
            variants: Default::default(),
            rewrites: Default::default(),
        };
        let r = RewriteRecord {
            rules: vec!["static-shapes".into()],
            used: false,
            reference: "ort".into(),
            tolerance: "t".into(),
            drift: None,
            rolled_back: vec!["decompose-x (n1): outside the tolerance: max abs 1e0".into()],
            error: None,
            file: None,
        };
        m.rewrites.insert("wonnx".into(), r.clone());
        let c = with_rewrite(failed_cell("fp32"), &m);
        let Outcome::Failed { message, .. } = &c.outcome else {
            panic!("still failed")
        };
        assert!(
            message.starts_with("output has no static shape"),
            "{message}"
        );
        assert!(
            message.contains("decompose-x (n1): outside the tolerance"),
            "{message}"
        );
        assert_eq!(c.rewrite.as_ref(), Some(&r));
        // Variant cells run their own files: no rewrite is recorded on them.
        assert!(with_rewrite(failed_cell("fp16"), &m).rewrite.is_none());
        // A used rewrite is recorded, and the file is what the fp32 cell (only) runs.
        let mut used = r;
        used.used = true;
        used.file = Some("m.wonnx.onnx".into());
        m.rewrites.insert("wonnx".into(), used);
        assert_eq!(
            m.file("fp32", "wonnx"),
            std::path::Path::new("m.wonnx.onnx")
        );
        assert_eq!(m.file("fp32", "ort"), std::path::Path::new("m.onnx"));
        assert_eq!(m.file("fp16", "wonnx"), std::path::Path::new("m.onnx"));
    }
}
