//! Executes a plan: opens (or resumes) a run folder, stages the runners, runs every cell of this shard through its
//! target's runner, adds the roofline and the agreement with the reference backend, and emits events all along.
//!
//! Split the way nextest splits dispatch from execution: [`folder`] (the run folder, resume, side b's folder, the
//! results written into them), [`schedule`] (which cells run and in which order, the extra process rounds),
//! [`ab`] (the interleaved A/B protocol), [`pool`] (a cell's processes joined), [`finish`] (a cell's record from
//! its measurement). This file holds the loop and [`CellCtx`], the one value every step of a cell takes.

mod ab;
mod confirm;
mod finish;
mod folder;
mod pool;
mod profiled;
mod schedule;

pub use folder::Start;

use crate::Error;
use crate::cell::{CellRequest, Measured, cell_files};
use crate::events::{Event, Reporter};
use crate::plan::{CellKey, Plan, PlanModel, Site};
use crate::runner::RunnerError;
use edgebench_measure::targets::SensorChoice;
use edgebench_report::{self as report, Cell, Machine, Outcome, Results};
use finish::Row;
use folder::{Recorder, RunFolder, SideB};
use pool::Part;
use schedule::{Extra, Schedule};
use std::path::{Path, PathBuf};

/// Facts of this process recorded in results.json.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub machine: Machine,
    pub edgebench_version: String,
    pub git_commit: String,
}

fn emit(reporters: &mut [&mut dyn Reporter], e: Event<'_>) -> Result<(), Error> {
    for r in reporters.iter_mut() {
        r.report(&e)?;
    }
    Ok(())
}

/// One cell of the plan being run: what every step of running it needs.
pub(crate) struct CellCtx<'a> {
    plan: &'a Plan,
    /// Index of its site in `plan.sites`.
    site: usize,
    /// Index of its model in `plan.models`.
    model: usize,
    key: CellKey,
    /// Its samples file, relative to a run folder.
    samples_rel: String,
}

impl<'a> CellCtx<'a> {
    fn new(plan: &'a Plan, site: usize, model: usize, backend: &str, variant: &str) -> Self {
        let key = CellKey {
            target: plan.sites[site].name.clone(),
            backend: backend.to_string(),
            model: plan.models[model].name.clone(),
            variant: variant.to_string(),
        };
        let (samples_rel, _) = cell_files(Path::new(""), &key.target, backend, &key.model, variant);
        CellCtx {
            plan,
            site,
            model,
            key,
            samples_rel,
        }
    }

    fn site(&self) -> &'a Site {
        &self.plan.sites[self.site]
    }

    fn model(&self) -> &'a PlanModel {
        &self.plan.models[self.model]
    }

    /// The file this cell runs (the variant's, the verified rewrite's, or the model's).
    fn file(&self) -> &'a Path {
        self.model().file(&self.key.variant, &self.key.backend)
    }

    /// Where the cell's outputs go in run folder `dir`.
    fn outputs(&self, dir: &Path) -> PathBuf {
        let k = &self.key;
        cell_files(dir, &k.target, &k.backend, &k.model, &k.variant).1
    }

    /// The cell's record before anything ran.
    fn blank(&self) -> Cell {
        let site = self.site();
        let k = &self.key;
        Cell {
            target: k.target.clone(),
            emulated: site.runner.emulated(),
            backend: k.backend.clone(),
            backend_version: site
                .runner
                .facts()
                .iter()
                .find(|f| f.name == k.backend)
                .and_then(|f| f.version.clone()),
            model: k.model.clone(),
            variant: k.variant.clone(),
            outcome: Outcome::Ok,
            cold_start: None,
            latency: None,
            stopped_by: None,
            warmup_iterations: None,
            samples_file: None,
            memory: None,
            cpu_user_s: None,
            cpu_sys_s: None,
            energy: None,
            roofline: None,
            agreement: None,
            split: vec![],
            delta: None,
            processes: vec![],
            turns: vec![],
            rewrite: None,
            profile: None,
        }
    }

    /// The child's request, writing into run folder `dir`.
    fn request(&self, dir: &Path, outputs: &Path) -> CellRequest {
        let site = self.site();
        let model = self.model();
        let s = &self.plan.settings;
        CellRequest {
            label: model.name.clone(),
            model: self.file().display().to_string(),
            feed: model.feed.clone(),
            backend: self.key.backend.clone(),
            variant: self.key.variant.clone(),
            seed: s.seed,
            target_rel_ci: s.target_rel_ci,
            max_time_s: s.max_time_s,
            warmup_s: s.warmup_s,
            power: site.target.power.clone(),
            sensor: site.target.sensor == SensorChoice::Auto && !site.runner.emulated(),
            target: self.key.target.clone(),
            samples: dir.join(&self.samples_rel).display().to_string(),
            outputs: outputs.display().to_string(),
            // qemu-user reserves the guest's address space up front: no limit under emulation.
            address_space_bytes: s
                .cell_address_space_bytes
                .filter(|_| !site.runner.emulated()),
            turns: false,
            threads: s.threads,
        }
    }

    /// Runs process `p` of the cell through its site's runner (its share of the cell's time) and reads its samples
    /// back; process p > 0 writes its samples and outputs beside the cell's, removed once read.
    fn one_process(&self, dir: &Path, outputs: &Path, p: usize) -> Part {
        let site = self.site();
        let s = &self.plan.settings;
        let mut r = self.request(dir, outputs);
        r.max_time_s = s.max_time_s / s.processes.max(1) as f64;
        if p > 0 {
            r.samples = format!("{}.p{p}", r.samples);
            r.outputs = format!("{}.p{p}", r.outputs);
        }
        let finished = site
            .runner
            .run_cell(&r, self.model, s.cell_timeout_s)
            .map_err(|e: RunnerError| Outcome::Failed {
                exit_code: RunnerError::EXIT_CODE,
                message: e.to_string(),
            })?;
        let x = finished.report::<Measured>()?;
        let samples = report::samples::read(Path::new(&r.samples));
        if p > 0 {
            let _ = std::fs::remove_file(&r.samples);
            let _ = std::fs::remove_file(&r.outputs);
        }
        let samples = samples.map_err(|message| Outcome::Failed {
            exit_code: 1,
            message,
        })?;
        Ok((x, samples))
    }

    /// Runs the cell (process 0 now, the others ran in the extra rounds) and pools its processes.
    fn run(&self, dir: &Path, rest: Vec<Part>) -> Cell {
        let mut cell = self.blank();
        let outputs = self.outputs(dir);
        let first = self.one_process(dir, &outputs, 0);
        let parts = match std::iter::once(first)
            .chain(rest)
            .collect::<Result<Vec<_>, Outcome>>()
        {
            Ok(p) => p,
            Err(o) => {
                cell.outcome = o;
                return cell;
            }
        };
        match pool::pool(parts, &dir.join(&self.samples_rel)) {
            Ok((m, processes)) => {
                cell.processes = processes;
                finish::finish(self, cell, m)
            }
            Err(message) => {
                cell.outcome = Outcome::Failed {
                    exit_code: 1,
                    message,
                };
                cell
            }
        }
    }
}

/// Runs the plan; returns the results and the run folder.
pub fn execute(
    plan: &mut Plan,
    start: Start,
    info: RunInfo,
    reporters: &mut [&mut dyn Reporter],
) -> Result<(Results, PathBuf), Error> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let folder = folder::open(plan, start, started)?;
    let side_b = folder::side_b(plan, &folder)?;
    let files: Vec<Vec<&Path>> = plan.models.iter().map(|m| m.files()).collect();
    for s in plan.sites.iter_mut() {
        s.runner.stage(&folder.run_id, &files);
        if let Some(why) = s.runner.unreachable() {
            let w = format!("{}: cannot use the board: {why}", s.name);
            emit(reporters, Event::Warning(w))?;
        }
    }
    let plan: &Plan = plan;
    let schedule = Schedule::new(plan, reporters)?;
    emit(
        reporters,
        Event::PlanStarted {
            run_id: &folder.run_id,
            dir: &folder.dir,
            cells: schedule.count(),
            targets: plan.sites.len(),
        },
    )?;
    let rec = Recorder {
        plan,
        info,
        plan_id: plan.id(),
        started,
    };
    let mut extra = schedule.extra_rounds(plan, &folder.dir, &folder.kept, reporters)?;
    let mut cells: Vec<Cell> = vec![];
    let mut cells_b: Vec<Cell> = vec![];
    let confirming = plan.ab.as_ref().is_some_and(|ab| ab.confirm);
    // The rows of an interleaved session as they ended, with their outputs, for the confirmation stage.
    let mut rows: Vec<(Row, Row)> = vec![];
    for row in &schedule.rows {
        let mut done: Row = vec![];
        let mut done_b: Row = vec![];
        for c in row {
            let (cell, b) = run_cell(c, &folder, side_b.as_ref(), &mut extra, reporters)?;
            done.push(saved(cell, c.outputs(&folder.dir)));
            if let (Some(b), Some(side)) = (b, &side_b) {
                done_b.push(saved(b, c.outputs(&side.dir)));
            }
            let so_far = cells.iter().chain(done.iter().map(|(c, _)| c)).cloned();
            let so_far = rec.results(&folder.run_id, &plan.settings, so_far.collect());
            let cell = &done[done.len() - 1].0;
            emit(
                reporters,
                Event::CellFinished {
                    cell,
                    so_far: &so_far,
                },
            )?;
        }
        finish::agree(&mut done);
        finish::deltas(&mut done, &cells, plan);
        if let Some(side) = &side_b {
            finish::agree(&mut done_b);
            finish::deltas(&mut done_b, &cells_b, plan);
            if confirming {
                rows.push((done.clone(), done_b.clone()));
            }
            cells_b.extend(done_b.into_iter().map(|(c, _)| c));
            let results = rec.results(&side.run_id, &side.settings, cells_b.clone());
            report::save(&side.dir, &results).map_err(|e| Error::Usage(e.to_string()))?;
        }
        let done: Vec<Cell> = done.into_iter().map(|(c, _)| c).collect();
        emit(reporters, Event::RowFinished { cells: &done })?;
        cells.extend(done);
    }
    for s in &plan.sites {
        if let Err(e) = s.runner.finish() {
            emit(reporters, Event::Warning(format!("{}: {e}", s.name)))?;
        }
    }
    let mut settings = plan.settings.clone();
    if let Some(side) = side_b.as_ref().filter(|_| confirming) {
        let s = confirm::Session {
            folder: &folder,
            side,
            settings_a: &plan.settings,
            rows: &rows,
        };
        if let Some(name) = confirm::run(&schedule, &s, &rec, reporters)? {
            // Both sides name their confirmation, so the gate finds it from either.
            if let Some(p) = settings.paired.as_mut() {
                p.confirmation = Some(name.clone());
            }
            let mut sb = side.settings.clone();
            if let Some(p) = sb.paired.as_mut() {
                p.confirmation = Some(name);
            }
            let results = rec.results(&side.run_id, &sb, cells_b.clone());
            report::save(&side.dir, &results).map_err(|e| Error::Usage(e.to_string()))?;
        }
    }
    let results = rec.results(&folder.run_id, &settings, cells);
    emit(reporters, Event::RunFinished { results: &results })?;
    if crate::interrupted() {
        let n = results
            .cells
            .iter()
            .filter(|c| c.outcome == Outcome::Interrupted)
            .count();
        return Err(Error::Interrupted(format!(
            "interrupted: {n} cell(s) did not finish; {} holds the rest; finish with --resume {}",
            folder.dir.join("results.json").display(),
            folder.dir.display()
        )));
    }
    Ok((results, folder.dir))
}

/// A cell with the outputs it saved (only an `ok` cell's count).
fn saved(cell: Cell, outputs: PathBuf) -> (Cell, Option<PathBuf>) {
    let ok = cell.outcome == Outcome::Ok && outputs.is_file();
    (cell, ok.then_some(outputs))
}

/// Runs one cell, or takes it from the resumed run, or records it interrupted; in an interleaved session, also
/// side b's cell.
fn run_cell(
    c: &CellCtx,
    folder: &RunFolder,
    side_b: Option<&SideB>,
    extra: &mut Extra,
    reporters: &mut [&mut dyn Reporter],
) -> Result<(Cell, Option<Cell>), Error> {
    if crate::interrupted() {
        let mut cell = c.blank();
        cell.outcome = Outcome::Interrupted;
        return Ok((cell, None));
    }
    if let Some(done) = folder.kept.iter().find(|k| CellKey::of(k) == c.key) {
        // Its outputs stay in the run folder, so cells re-run now are still compared with it.
        return Ok((done.clone(), None));
    }
    emit(reporters, Event::CellStarted { key: &c.key })?;
    let model = c.model();
    Ok(match side_b {
        Some(side) => {
            let dirs = [folder.dir.as_path(), side.dir.as_path()];
            let outs = [c.outputs(dirs[0]), c.outputs(dirs[1])];
            let (a, b) = ab::run_pair(c, dirs, [&outs[0], &outs[1]], ab::Round::First);
            (
                finish::with_rewrite(a, model),
                Some(finish::with_rewrite(b, model)),
            )
        }
        None => {
            let rest = extra.remove(&c.key).unwrap_or_default();
            let mut cell = finish::with_rewrite(c.run(&folder.dir, rest), model);
            if c.plan.settings.profile {
                cell.profile = profiled::profile(c, &cell);
            }
            (cell, None)
        }
    })
}
