//! The event stream of a run, in the spirit of nextest's reporter events: the orchestrator emits, reporters consume
//! (the CLI's terminal table and progress bar, [`ResultsWriter`] here). Reporters never change what is measured.

use crate::Error;
use crate::plan::CellKey;
use edgebench_report::{Cell, Results};
use std::path::{Path, PathBuf};

/// Something that happened during a run.
#[derive(Debug)]
pub enum Event<'a> {
    /// A condition the user should know about: a backend unavailable at a target, an unreachable board,
    /// emulation, a board folder that could not be removed.
    Warning(String),
    /// Cells are about to run: `cells` of them (kept cells of a resumed run included).
    PlanStarted {
        run_id: &'a str,
        dir: &'a Path,
        cells: usize,
        targets: usize,
    },
    CellStarted {
        key: &'a CellKey,
    },
    /// A cell ended (or was kept from the run being resumed); `so_far` is the whole results file at this point.
    CellFinished {
        cell: &'a Cell,
        so_far: &'a Results,
    },
    /// Every cell of one model and variant ended and was compared with the reference backend.
    RowFinished {
        cells: &'a [Cell],
    },
    RunFinished {
        results: &'a Results,
    },
    /// A stage of the run begins (e.g. the confirmation of an interleaved session's flagged cells): one line.
    Stage(String),
}

/// Consumes events.
pub trait Reporter {
    fn report(&mut self, event: &Event<'_>) -> Result<(), Error>;
}

/// Saves results.json atomically after every cell and at the end, so an interrupted run can be resumed and a
/// killed one never leaves a half-written file.
#[derive(Debug, Default)]
pub struct ResultsWriter {
    dir: Option<PathBuf>,
    /// The file written last.
    pub path: Option<PathBuf>,
}

impl ResultsWriter {
    fn save(&mut self, r: &Results) -> Result<(), Error> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| Error::Usage("results writer: no run folder".into()))?;
        self.path = Some(edgebench_report::save(dir, r).map_err(|e| Error::Usage(e.to_string()))?);
        Ok(())
    }
}

impl Reporter for ResultsWriter {
    fn report(&mut self, event: &Event<'_>) -> Result<(), Error> {
        match event {
            Event::PlanStarted { dir, .. } => self.dir = Some(dir.to_path_buf()),
            Event::CellFinished { so_far, .. } => self.save(so_far)?,
            Event::RunFinished { results } => self.save(results)?,
            _ => {}
        }
        Ok(())
    }
}
