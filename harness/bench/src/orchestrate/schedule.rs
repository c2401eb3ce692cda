//! Scheduling: which (site, backend) pairs run (the requested ones available there), the cells of this shard in
//! rows (one row per model and variant, the pairs in plan order), and the extra process rounds of
//! `--processes K`.

use super::pool::Part;
use super::{CellCtx, emit};
use crate::Error;
use crate::events::{Event, Reporter};
use crate::plan::{CellKey, Plan};
use edgebench_report::Cell;
use std::collections::HashMap;

/// The cells of this shard, row by row.
pub(super) struct Schedule<'a> {
    pub rows: Vec<Vec<CellCtx<'a>>>,
}

/// Processes of a cell that ran in the extra rounds, by cell.
pub(super) type Extra = HashMap<CellKey, Vec<Part>>;

impl<'a> Schedule<'a> {
    /// The requested backends available at each site (an unreachable board's are kept: its cells record why), with
    /// a warning for each one that is not and for each emulated site. No pair at all is an error.
    pub fn new(plan: &'a Plan, reporters: &mut [&mut dyn Reporter]) -> Result<Self, Error> {
        let mut pairs: Vec<(usize, &str)> = vec![];
        for (si, b) in &plan.requested {
            let s = &plan.sites[*si];
            match s.runner.facts().iter().find(|f| &f.name == b) {
                Some(f) if f.available => pairs.push((*si, b)),
                Some(f) => {
                    let why = f.reason.clone().unwrap_or_default();
                    let w = format!("{}: backend {b} is unavailable: {why}", s.name);
                    emit(reporters, Event::Warning(w))?;
                }
                None if s.runner.unreachable().is_some() => pairs.push((*si, b)),
                None => {}
            }
        }
        for s in plan.sites.iter().filter(|s| s.runner.emulated()) {
            let w = format!(
                "{}: runs under qemu-user emulation: its timings say nothing about the board",
                s.name
            );
            emit(reporters, Event::Warning(w))?;
        }
        if pairs.is_empty() {
            return Err(Error::Unavailable(
                "no requested backend is available on any requested target (see `edgebench doctor`)"
                    .into(),
            ));
        }
        let mut rows = vec![];
        for mi in 0..plan.models.len() {
            // A backend runs the models of the formats it reads (ONNX backends no .tflite, LiteRT no .onnx).
            let format = edgebench_graph::tflite::format_of(&plan.models[mi].path);
            let reads = |&&(si, b): &&(usize, &str)| {
                plan.sites[si]
                    .runner
                    .facts()
                    .iter()
                    .find(|f| f.name == b)
                    .is_none_or(|f| f.reads(format.as_str()))
            };
            for v in &plan.variants {
                // Variants of .tflite models are not made: their fp32 cells run alone.
                if format == edgebench_graph::Format::Tflite && v != "fp32" {
                    continue;
                }
                let row: Vec<CellCtx> = pairs
                    .iter()
                    .filter(reads)
                    .map(|&(si, b)| CellCtx::new(plan, si, mi, b, v))
                    .filter(|c| plan.in_shard(&c.key))
                    .collect();
                rows.push(row);
            }
        }
        Ok(Schedule { rows })
    }

    /// How many cells this shard has.
    pub fn count(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// With `--processes K`, processes 1..K of every cell, run first, round-robin over the whole plan, so that one
    /// cell's processes are spread over the run instead of back to back: this machine's speed changes over seconds,
    /// and processes that follow each other share its state. The main pass runs process 0 and pools.
    pub fn extra_rounds(
        &self,
        plan: &Plan,
        dir: &std::path::Path,
        kept: &[Cell],
        reporters: &mut [&mut dyn Reporter],
    ) -> Result<Extra, Error> {
        let mut extra = Extra::new();
        let k_procs = plan.settings.processes.max(1);
        for round in 1..k_procs {
            let w = format!(
                "process round {round} of {k_procs} (every cell once; the last round prints the cells)"
            );
            emit(reporters, Event::Warning(w))?;
            for c in self.rows.iter().flatten() {
                if kept.iter().any(|k| CellKey::of(k) == c.key) || crate::interrupted() {
                    continue;
                }
                let parts = extra.entry(c.key.clone()).or_default();
                // A cell that failed once is not tried again: the main pass records its outcome.
                if parts.iter().any(|p| p.is_err()) {
                    continue;
                }
                parts.push(c.one_process(dir, &c.outputs(dir), round));
            }
        }
        Ok(extra)
    }
}
