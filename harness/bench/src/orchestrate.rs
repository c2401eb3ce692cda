//! Executes a plan: opens (or resumes) a run folder, stages the runners, runs every cell of this shard through its
//! target's runner, adds the roofline and the agreement with the reference backend, and emits events all along.

use crate::Error;
use crate::cell::{self, CellRequest, Measured, cell_files};
use crate::events::{Event, Reporter};
use crate::plan::{CellKey, Plan};
use crate::runner::ssh::SSH_CONNECTION_FAILED;
use edgebench_measure::sampling::StoppedBy;
use edgebench_measure::targets::SensorChoice;
use edgebench_report::{self as report, Cell, Machine, Outcome, Results, Roofline};
use std::path::{Path, PathBuf};

/// Where the run lands.
#[derive(Clone, Debug)]
pub enum Start {
    /// A new folder under this root.
    New { root: PathBuf },
    /// A previous run folder of the same plan: only cells that did not end `ok` run again.
    Resume { dir: PathBuf },
}

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

/// Runs the plan; returns the results and the run folder.
pub fn execute(
    plan: &mut Plan,
    start: Start,
    info: RunInfo,
    reporters: &mut [&mut dyn Reporter],
) -> Result<(Results, PathBuf), Error> {
    let plan_id = plan.id();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let usage = |e: report::ReportError| Error::Usage(e.to_string());
    let (dir, run_id, kept) = match start {
        Start::Resume { dir } => {
            let prev = report::load(&dir.join("results.json")).map_err(usage)?;
            if prev.plan_id != plan_id || prev.partition != plan.partition {
                return Err(Error::Usage(format!(
                    "{}: a run of another plan; resume it with the same models, targets, backends and settings",
                    dir.display()
                )));
            }
            let done: Vec<Cell> = prev
                .cells
                .into_iter()
                .filter(|c| c.outcome == Outcome::Ok)
                .collect();
            (dir, prev.run_id, done)
        }
        Start::New { root } => {
            let name = format!("{started}-{}", plan.settings.targets.join("+"));
            let (d, id) = if plan.ab.is_some() {
                report::new_run_dir(&root, &format!("{name}-a"))
            } else {
                report::new_run_dir(&root, &name)
            }
            .map_err(usage)?;
            (d, id, vec![])
        }
    };
    // Side b of an interleaved session: a second run folder beside the first, whose cells took turns with its.
    let side_b = match &plan.ab {
        None => None,
        Some(ab) => {
            if !kept.is_empty() || plan.settings.processes > 1 {
                return Err(Error::Usage(
                    "bench --ab: neither --resume nor --processes applies to an interleaved session".into(),
                ));
            }
            if let Some(s) = plan.sites.iter().find(|s| s.runner.kind() != "local") {
                return Err(Error::Usage(format!(
                    "bench --ab: target {} runs cells through {} ({}); an interleaved session drives both sides' \
                     children from here, so it takes targets of this machine (runner = \"local\")",
                    s.name,
                    s.runner.kind(),
                    if s.runner.emulated() {
                        "emulated, not timed anyway"
                    } else {
                        "another machine"
                    }
                )));
            }
            let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            let session = run_id.strip_suffix("-a").unwrap_or(&run_id).to_string();
            let (db, idb) = report::new_run_dir(&root, &format!("{session}-b")).map_err(usage)?;
            for sub in ["samples", "outputs"] {
                std::fs::create_dir_all(db.join(sub))
                    .map_err(|e| Error::Usage(format!("{}: {e}", db.display())))?;
            }
            let paired = |side: &str, other: &str| report::Paired {
                session: session.clone(),
                side: side.into(),
                other_run: other.into(),
                turn_ms: ab.turn_ms,
                b_exe: ab.exe.as_ref().map(|p| p.display().to_string()),
                b_env: ab.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                b_model: ab.model.as_ref().map(|p| p.display().to_string()),
                threshold: ab.threshold,
            };
            let mut settings_b = plan.settings.clone();
            settings_b.paired = Some(paired("b", &run_id));
            plan.settings.paired = Some(paired("a", &idb));
            Some((db, idb, settings_b))
        }
    };
    for sub in ["samples", "outputs"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    }
    for s in plan.sites.iter_mut() {
        s.runner.stage(&run_id, &plan.models);
        if let Some(why) = s.runner.unreachable() {
            let w = format!("{}: cannot use the board: {why}", s.name);
            emit(reporters, Event::Warning(w))?;
        }
    }
    // What runs: the requested backends available at each site; an unreachable board's cells are recorded.
    let mut pairs: Vec<(usize, String)> = vec![];
    for (si, b) in &plan.requested {
        let s = &plan.sites[*si];
        match s.runner.facts().iter().find(|f| &f.name == b) {
            Some(f) if f.available => pairs.push((*si, b.clone())),
            Some(f) => {
                let why = f.reason.clone().unwrap_or_default();
                emit(
                    reporters,
                    Event::Warning(format!("{}: backend {b} is unavailable: {why}", s.name)),
                )?;
            }
            None if s.runner.unreachable().is_some() => pairs.push((*si, b.clone())),
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
    let key = |si: usize, b: &str, mi: usize, v: &str| CellKey {
        target: plan.sites[si].name.clone(),
        backend: b.to_string(),
        model: plan.models[mi].name.clone(),
        variant: v.to_string(),
    };
    let mut total = 0;
    for mi in 0..plan.models.len() {
        for v in &plan.variants {
            total += pairs
                .iter()
                .filter(|(si, b)| plan.in_shard(&key(*si, b, mi, v)))
                .count();
        }
    }
    emit(
        reporters,
        Event::PlanStarted {
            run_id: &run_id,
            dir: &dir,
            cells: total,
            targets: plan.sites.len(),
        },
    )?;
    let results_of = |run_id: &str, settings: &report::Settings, cells: Vec<Cell>| Results {
        format_version: report::FORMAT_VERSION,
        run_id: run_id.to_string(),
        started_unix: started,
        edgebench_version: info.edgebench_version.clone(),
        git_commit: info.git_commit.clone(),
        machine: info.machine.clone(),
        targets: plan
            .sites
            .iter()
            .map(|s| report::TargetRecord {
                name: s.name.clone(),
                triple: s.target.triple.clone(),
                runner: s.runner.kind().into(),
                emulated: s.runner.emulated(),
                backends: s.runner.facts().to_vec(),
                roofs: Some(report::Roofs {
                    peak_gflops: s.target.peak_gflops,
                    mem_bandwidth_gbs: s.target.mem_bandwidth_gbs,
                    source: roof_source(&s.target).into(),
                    detail: s
                        .target
                        .measured_roofs
                        .clone()
                        .unwrap_or_else(|| s.target.source.clone()),
                }),
            })
            .collect(),
        settings: settings.clone(),
        plan_id: plan_id.clone(),
        partition: plan.partition,
        merged_from: vec![],
        variants: plan.variant_records.clone(),
        compat: plan.compat.clone(),
        feeds: plan
            .models
            .iter()
            .map(|m| report::ModelFeed {
                model: m.name.clone(),
                feed: m.feed.clone(),
                notes: m.notes.clone(),
            })
            .collect(),
        cells,
    };
    let results = |cells: Vec<Cell>| results_of(&run_id, &plan.settings, cells);
    let mut cells_b: Vec<Cell> = vec![];
    // With several processes per cell, the extra processes run first, round-robin over the whole plan, so that one
    // cell's processes are spread over the run instead of back to back: this machine's speed changes over seconds,
    // and processes that follow each other share its state.
    let mut extra: std::collections::HashMap<String, Vec<Part>> = Default::default();
    let k_procs = plan.settings.processes.max(1);
    for round in 1..k_procs {
        emit(
            reporters,
            Event::Warning(format!(
                "process round {round} of {} (every cell once; the last round prints the cells)",
                k_procs
            )),
        )?;
        for mi in 0..plan.models.len() {
            for v in &plan.variants {
                for (si, b) in &pairs {
                    let k = key(*si, b, mi, v);
                    let done = kept.iter().any(|c| {
                        c.target == k.target
                            && c.backend == k.backend
                            && c.model == k.model
                            && c.variant == k.variant
                    });
                    if !plan.in_shard(&k) || done || crate::interrupted() {
                        continue;
                    }
                    let parts = extra.entry(k.id()).or_default();
                    // A cell that failed once is not tried again: the main pass records its outcome.
                    if parts.iter().any(|p| p.is_err()) {
                        continue;
                    }
                    let (samples_rel, outputs) = cell_files(&dir, &k.target, b, &k.model, v);
                    parts.push(one_process(
                        plan,
                        *si,
                        mi,
                        &k,
                        &dir,
                        &samples_rel,
                        &outputs,
                        round,
                    ));
                }
            }
        }
    }
    let mut cells: Vec<Cell> = vec![];
    for mi in 0..plan.models.len() {
        for v in &plan.variants {
            let mut row: Vec<(Cell, Option<PathBuf>)> = vec![];
            let mut row_b: Vec<(Cell, Option<PathBuf>)> = vec![];
            for (si, b) in &pairs {
                let k = key(*si, b, mi, v);
                if !plan.in_shard(&k) {
                    continue;
                }
                let (samples_rel, outputs) = cell_files(&dir, &k.target, b, &k.model, v);
                let cell = if crate::interrupted() {
                    interrupted_cell(plan, *si, &k)
                } else if let Some(done) = kept.iter().find(|c| {
                    c.target == k.target
                        && c.backend == k.backend
                        && c.model == k.model
                        && c.variant == k.variant
                }) {
                    // Its outputs stay in the run folder, so cells re-run now are still compared with it.
                    done.clone()
                } else {
                    emit(reporters, Event::CellStarted { key: &k })?;
                    let cell = if let Some((db, _, _)) = &side_b {
                        let (_, outputs_b) = cell_files(db, &k.target, b, &k.model, v);
                        let (a, b_cell) = run_pair(
                            plan,
                            *si,
                            mi,
                            &k,
                            [&dir, db],
                            &samples_rel,
                            [&outputs, &outputs_b],
                        );
                        let b_cell = with_rewrite(b_cell, &plan.models[mi]);
                        let saved = (b_cell.outcome == Outcome::Ok && outputs_b.is_file())
                            .then_some(outputs_b);
                        row_b.push((b_cell, saved));
                        a
                    } else {
                        let rest = extra.remove(&k.id()).unwrap_or_default();
                        run_one(plan, *si, mi, &k, &dir, &samples_rel, &outputs, rest)
                    };
                    with_rewrite(cell, &plan.models[mi])
                };
                let saved = (cell.outcome == Outcome::Ok && outputs.is_file()).then_some(outputs);
                row.push((cell, saved));
                let so_far = results(
                    cells
                        .iter()
                        .chain(row.iter().map(|(c, _)| c))
                        .cloned()
                        .collect(),
                );
                let last = &row[row.len() - 1].0;
                emit(
                    reporters,
                    Event::CellFinished {
                        cell: last,
                        so_far: &so_far,
                    },
                )?;
            }
            agree(&mut row);
            deltas(&mut row, &cells, plan);
            if let Some((db, idb, settings_b)) = &side_b {
                agree(&mut row_b);
                deltas(&mut row_b, &cells_b, plan);
                cells_b.extend(row_b.into_iter().map(|(c, _)| c));
                report::save(db, &results_of(idb, settings_b, cells_b.clone())).map_err(usage)?;
            }
            let done: Vec<Cell> = row.into_iter().map(|(c, _)| c).collect();
            emit(reporters, Event::RowFinished { cells: &done })?;
            cells.extend(done);
        }
    }
    for s in &plan.sites {
        if let Err(e) = s.runner.finish() {
            emit(reporters, Event::Warning(format!("{}: {e}", s.name)))?;
        }
    }
    let results = results(cells);
    emit(reporters, Event::RunFinished { results: &results })?;
    if crate::interrupted() {
        let n = results
            .cells
            .iter()
            .filter(|c| c.outcome == Outcome::Interrupted)
            .count();
        return Err(Error::Interrupted(format!(
            "interrupted: {n} cell(s) did not finish; {} holds the rest; finish with --resume {}",
            dir.join("results.json").display(),
            dir.display()
        )));
    }
    Ok((results, dir))
}

/// An fp32 cell of a backend that has a verified rewrite of the model records it; a cell that failed although
/// its rewrite could not be used says why next to the original error.
fn with_rewrite(mut cell: Cell, model: &crate::plan::PlanModel) -> Cell {
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

/// Each variant cell's ratios to its fp32 cell among `cells`.
fn deltas(row: &mut [(Cell, Option<PathBuf>)], cells: &[Cell], plan: &Plan) {
    for (c, _) in row.iter_mut().filter(|(c, _)| c.variant != "fp32") {
        let base = cells.iter().find(|b| {
            b.variant == "fp32"
                && b.target == c.target
                && b.backend == c.backend
                && b.model == c.model
        });
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

/// A cell that was not run because the run was interrupted.
fn interrupted_cell(plan: &Plan, si: usize, k: &CellKey) -> Cell {
    let mut c = blank_cell(plan, si, k);
    c.outcome = Outcome::Interrupted;
    c
}

fn blank_cell(plan: &Plan, si: usize, k: &CellKey) -> Cell {
    let site = &plan.sites[si];
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
    }
}

/// Runs one cell through its site's runner and reads the child's report.
fn run_one(
    plan: &Plan,
    si: usize,
    mi: usize,
    k: &CellKey,
    dir: &Path,
    samples_rel: &str,
    outputs: &Path,
    rest: Vec<Part>,
) -> Cell {
    let mut cell = blank_cell(plan, si, k);
    let req = request(plan, si, mi, k, dir, samples_rel, outputs);
    // The first process (cold start, saved outputs) runs now; the others ran in the earlier rounds.
    let first = one_process(plan, si, mi, k, dir, samples_rel, outputs, 0);
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
    let finished_parts = pool(parts, Path::new(&req.samples));
    let (finished_measured, processes) = match finished_parts {
        Ok(x) => x,
        Err(e) => {
            cell.outcome = Outcome::Failed {
                exit_code: 1,
                message: e,
            };
            return cell;
        }
    };
    cell.processes = processes;
    let finished = Pooled(finished_measured);
    finish(plan, si, mi, k, samples_rel, cell, finished)
}

/// Runs one cell as an interleaved session: two children per side, loaded and warmed up one after the other in the
/// order a, b, b, a (on this VM the first child loaded for a cell ran 4-8 % slower than the other three, measured in
/// BENCHMARKS.md; with each side loaded first once, such an effect sides with neither), then the two pairs (a1, b1)
/// and (a2, b2) take turns of `turn_ms` in alternation, a b b a within each pair, so a change of this machine's speed lasting longer than a turn
/// hits both sides alike. At least 8 pairs of turns; then until the 95 % CI of the median turn ratio (b / a) is within
/// `target_rel_ci`, or (with a threshold) its interval decides the cell, or a side had `max_time_s` of turns.
/// Returns the two cells.
#[allow(clippy::too_many_arguments)]
fn run_pair(
    plan: &Plan,
    si: usize,
    mi: usize,
    k: &CellKey,
    dirs: [&Path; 2],
    samples_rel: &str,
    outputs: [&Path; 2],
) -> (Cell, Cell) {
    let s = &plan.settings;
    let ab = plan.ab.clone().unwrap_or_default();
    // (side, child of that side): side a's first child, b's first, b's second, a's second.
    let order = [(0usize, 0usize), (1, 0), (1, 1), (0, 1)];
    let mut children: [[Option<Result<cell::TurnChild, Outcome>>; 2]; 2] = Default::default();
    for (side, p) in order {
        // A side whose first child failed has its outcome: the second children are not needed.
        if p == 1 && children.iter().any(|k| matches!(k[0], Some(Err(_)))) {
            break;
        }
        let mut r = request(plan, si, mi, k, dirs[side], samples_rel, outputs[side]);
        r.turns = true;
        if side == 1
            && k.variant == "fp32"
            && let Some(m) = &ab.model
        {
            r.model = m.display().to_string();
        }
        if p > 0 {
            r.samples = format!("{}.p{p}", r.samples);
            r.outputs = format!("{}.p{p}", r.outputs);
        }
        children[side][p] = Some(start_turn_child(plan, si, &ab, side, r));
    }
    let mut sizes: [Vec<usize>; 2] = [vec![], vec![]];
    let mut medians: [Vec<f64>; 2] = [vec![], vec![]];
    let mut sampled = [0.0f64; 2];
    let all_ready = children.iter().flatten().all(|c| matches!(c, Some(Ok(_))));
    if all_ready {
        // Both turns of a pair run their model thread on the same CPU, the CPU changing from pair to pair: on a VM
        // each virtual CPU is its own host thread with its own neighbours, and a child that stayed on one of them
        // would carry that CPU's speed as if it were its own.
        let cpus = cell::allowed_cpus();
        let mut t = 0usize;
        'turns: while !crate::interrupted() {
            let (p, u) = (t % 2, t / 2);
            let first = if u % 2 == 0 { [0, 1] } else { [1, 0] };
            let cpu = (cpus.len() >= 2).then(|| cpus[(u + p) % cpus.len()]);
            for side in first {
                let Some(Some(Ok(c))) = children[side].get_mut(p) else {
                    break 'turns;
                };
                let started = std::time::Instant::now();
                match c.turn(ab.turn_ms, cpu) {
                    Some((n, m)) => {
                        sizes[side].push(n);
                        medians[side].push(m);
                        sampled[side] += started.elapsed().as_secs_f64();
                    }
                    None => break 'turns,
                }
            }
            t += 1;
            if t < 8 {
                continue;
            }
            if sampled[0] >= s.max_time_s || sampled[1] >= s.max_time_s {
                break;
            }
            let mut ratios: Vec<f64> = medians[0]
                .iter()
                .zip(&medians[1])
                .map(|(a, b)| if *a > 0.0 { b / a } else { f64::INFINITY })
                .collect();
            ratios.sort_by(f64::total_cmp);
            if edgebench_measure::stats::relative_ci_width(&ratios) <= s.target_rel_ci {
                break;
            }
            if let Some(l) = ab.threshold
                && t >= DECIDE_AFTER_PAIRS
                && decided(&medians, l, &k.id())
            {
                break;
            }
        }
    }
    let mut out = vec![];
    for (side, kids) in children.into_iter().enumerate() {
        let mut cell = blank_cell(plan, si, k);
        // Every started child is ended (and waited for) before the side's outcome is taken.
        let ended: Vec<Result<Measured, Outcome>> = kids
            .into_iter()
            .flatten()
            .map(|c| c.and_then(|c| c.end().report::<Measured>()))
            .collect();
        let parts = ended
            .into_iter()
            .collect::<Result<Vec<Measured>, Outcome>>();
        match parts {
            Ok(ms) => {
                let file = dirs[side].join(samples_rel);
                let second = PathBuf::from(format!("{}.p1", file.display()));
                let per_child = [read_samples(&file), read_samples(&second)];
                let _ = std::fs::remove_file(&second);
                let _ = std::fs::remove_file(format!("{}.p1", outputs[side].display()));
                match interleave(&per_child, &sizes[side]) {
                    Some(samples) => {
                        cell.turns = turn_records(&samples, &sizes[side]);
                        // The pool takes the samples in turn order as the first child's (its statistics and the
                        // samples file come from them), the second child's measurement without samples.
                        let mut samples = Some(samples);
                        let parts = ms
                            .into_iter()
                            .map(|m| (m, samples.take().unwrap_or_default()))
                            .collect();
                        cell = match pool(parts, &file).map(|(m, _)| m) {
                            Ok(m) => finish(plan, si, mi, k, samples_rel, cell, Pooled(m)),
                            Err(e) => {
                                cell.outcome = Outcome::Failed {
                                    exit_code: 1,
                                    message: e,
                                };
                                cell
                            }
                        };
                    }
                    None => {
                        cell.outcome = Outcome::Failed {
                            exit_code: 1,
                            message: "the children's samples do not add up to their turns".into(),
                        };
                    }
                }
            }
            Err(o) => cell.outcome = o,
        }
        out.push(cell);
    }
    let b = out.pop().unwrap_or_else(|| blank_cell(plan, si, k));
    let a = out.pop().unwrap_or_else(|| blank_cell(plan, si, k));
    (a, b)
}

/// An interleaved session decides a cell only after this many pairs of turns (a bootstrap of fewer is too narrow).
const DECIDE_AFTER_PAIRS: usize = 16;

/// Starts one child of an interleaved cell and waits for its warm-up (`ready`); the other children wait, idle.
fn start_turn_child(
    plan: &Plan,
    si: usize,
    ab: &crate::plan::AbSide,
    side: usize,
    r: CellRequest,
) -> Result<cell::TurnChild, Outcome> {
    let site = &plan.sites[si];
    let failed = |message: String| Outcome::Failed {
        exit_code: -1,
        message,
    };
    let mut c = match site
        .runner
        .command(&r, if side == 1 { ab.exe.as_deref() } else { None })
    {
        None => {
            return Err(failed(format!(
                "{}: cannot drive this target's children",
                site.name
            )));
        }
        Some(mut c) => {
            if side == 1 {
                c.envs(ab.env.iter().map(|(k, v)| (k, v)));
            }
            cell::TurnChild::start(c, plan.settings.cell_timeout_s).map_err(failed)?
        }
    };
    if c.ready() {
        Ok(c)
    } else {
        Err(match c.end().outcome() {
            Outcome::Ok => failed("ended before its first turn".into()),
            o => o,
        })
    }
}

/// One side's samples in turn order, from its two children's (turn i of the side was its child `i % 2`'s); `None`
/// when they do not add up to the turns.
fn interleave(per_child: &[Vec<f64>; 2], sizes: &[usize]) -> Option<Vec<f64>> {
    let mut at = [0usize; 2];
    let mut out = Vec::with_capacity(per_child[0].len() + per_child[1].len());
    for (i, &n) in sizes.iter().enumerate() {
        let c = i % 2;
        out.extend_from_slice(per_child[c].get(at[c]..at[c] + n)?);
        at[c] += n;
    }
    (at[0] == per_child[0].len() && at[1] == per_child[1].len()).then_some(out)
}

/// Whether the interval of the turn ratio (b / a; the gate's statistic, `gate::compare_paired`, at 99 % rather than
/// the gate's 95 %, since the session looks after every pair) already decides the cell at threshold `l`: wholly
/// beyond the limit (regressed or improved) or wholly within it (unchanged).
fn decided(medians: &[Vec<f64>; 2], l: f64, key: &str) -> bool {
    let ones = vec![1; medians[0].len()];
    let o = report::gate::GateOptions {
        threshold: l,
        confidence: 0.99,
        ..Default::default()
    };
    let Some(c) = report::gate::compare_paired(&medians[0], &ones, &medians[1], &ones, &o, key)
    else {
        return false;
    };
    let (hi, lo) = (1.0 + l, 1.0 / (1.0 + l));
    c.ci[0] > hi || c.ci[1] < lo || (c.ci[0] >= lo && c.ci[1] <= hi)
}

/// The turns of a cell, from its samples and the number of samples of each turn (empty when they do not add up).
fn turn_records(samples: &[f64], sizes: &[usize]) -> Vec<report::ProcessRecord> {
    if sizes.iter().sum::<usize>() != samples.len() || sizes.contains(&0) {
        return vec![];
    }
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            let r = record_of(&samples[at..at + n]);
            at += n;
            r
        })
        .collect()
}

/// One process of a cell, or the outcome that ended it.
type Part = Result<(Measured, Vec<f64>), Outcome>;

/// The child's request for process `p` of a cell (p > 0 writes its samples and outputs beside the cell's).
fn request(
    plan: &Plan,
    si: usize,
    mi: usize,
    k: &CellKey,
    dir: &Path,
    samples_rel: &str,
    outputs: &Path,
) -> CellRequest {
    let site = &plan.sites[si];
    let model = &plan.models[mi];
    let s = &plan.settings;
    CellRequest {
        label: model.name.clone(),
        model: model.file(&k.variant, &k.backend).display().to_string(),
        feed: model.feed.clone(),
        backend: k.backend.clone(),
        variant: k.variant.clone(),
        seed: s.seed,
        target_rel_ci: s.target_rel_ci,
        max_time_s: s.max_time_s,
        warmup_s: s.warmup_s,
        power: site.target.power.clone(),
        sensor: site.target.sensor == SensorChoice::Auto && !site.runner.emulated(),
        target: k.target.clone(),
        samples: dir.join(samples_rel).display().to_string(),
        outputs: outputs.display().to_string(),
        // qemu-user reserves the guest's address space up front: no limit under emulation.
        address_space_bytes: s
            .cell_address_space_bytes
            .filter(|_| !site.runner.emulated()),
        turns: false,
        threads: s.threads,
    }
}

/// Runs process `p` of a cell through its site's runner (its share of the cell's time) and reads its samples back.
#[allow(clippy::too_many_arguments)]
fn one_process(
    plan: &Plan,
    si: usize,
    mi: usize,
    k: &CellKey,
    dir: &Path,
    samples_rel: &str,
    outputs: &Path,
    p: usize,
) -> Part {
    let site = &plan.sites[si];
    let s = &plan.settings;
    let mut r = request(plan, si, mi, k, dir, samples_rel, outputs);
    r.max_time_s = s.max_time_s / s.processes.max(1) as f64;
    if p > 0 {
        r.samples = format!("{}.p{p}", r.samples);
        r.outputs = format!("{}.p{p}", r.outputs);
    }
    let finished = site
        .runner
        .run_cell(&r, mi, s.cell_timeout_s)
        .map_err(|why| Outcome::Failed {
            exit_code: SSH_CONNECTION_FAILED,
            message: format!("{}: {why}", site.name),
        })?;
    let x = finished.report::<Measured>()?;
    let samples = read_samples(Path::new(&r.samples));
    if p > 0 {
        let _ = std::fs::remove_file(&r.samples);
        let _ = std::fs::remove_file(&r.outputs);
    }
    Ok((x, samples))
}

/// The cell from its pooled measurement: roofline and the measured fields.
fn finish(
    plan: &Plan,
    si: usize,
    mi: usize,
    k: &CellKey,
    samples_rel: &str,
    mut cell: Cell,
    finished: Pooled,
) -> Cell {
    let site = &plan.sites[si];
    let model = &plan.models[mi];
    match finished.report() {
        Ok(x) => {
            let peak = if k.backend == "wonnx" {
                site.target
                    .gpu_peak_gflops
                    .unwrap_or(site.target.peak_gflops)
            } else {
                site.target.peak_gflops
            };
            // No roofline when the model's FLOPs are unknown (shapes could not be inferred).
            if model.flops > 0 && x.latency.p50_ns > 0.0 {
                let achieved = model.flops as f64 / x.latency.p50_ns;
                cell.roofline = Some(Roofline {
                    model_flops: model.flops,
                    achieved_gflops: achieved,
                    peak_gflops: peak,
                    share_of_peak: achieved / peak,
                    mem_bandwidth_gbs: Some(site.target.mem_bandwidth_gbs),
                    roof_source: Some(roof_source(&site.target).into()),
                    model_bytes: std::fs::metadata(model.file(&k.variant, &k.backend))
                        .ok()
                        .map(|m| m.len()),
                });
            }
            cell.backend_version = Some(x.backend_version);
            cell.cold_start = Some(x.cold_start);
            cell.latency = Some(x.latency);
            cell.stopped_by = Some(x.stopped_by);
            cell.warmup_iterations = Some(x.warmup_iterations);
            cell.samples_file = Some(samples_rel.to_string());
            cell.memory = Some(x.memory);
            cell.cpu_user_s = Some(x.cpu_user_s);
            cell.cpu_sys_s = Some(x.cpu_sys_s);
            cell.energy = Some(x.energy);
            cell.split = x.split;
        }
        Err(outcome) => cell.outcome = outcome,
    }
    cell
}

/// Compares each cell's outputs with the reference. Emulated cells never serve as the reference.
fn agree(row: &mut [(Cell, Option<PathBuf>)]) {
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

/// `measured` when the target's roofs were measured where the run happens, else `nominal`.
fn roof_source(t: &edgebench_measure::targets::Target) -> &'static str {
    if t.measured_roofs.is_some() {
        "measured"
    } else {
        "nominal"
    }
}

/// A cell's processes pooled into one measurement (see `run_one`).
struct Pooled(Measured);

impl Pooled {
    fn report(self) -> Result<Measured, Outcome> {
        Ok(self.0)
    }
}

fn read_samples(p: &Path) -> Vec<f64> {
    std::fs::read_to_string(p)
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Joins the processes of one cell: samples concatenated (written to `samples`), statistics of the pool, cold start
/// of the first process, the highest peak memory, CPU time and energy summed. Returns the per-process medians.
fn pool(
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
    let text: String = all.iter().map(|x| format!("{x:.0}\n")).collect();
    report::write_atomic(samples, text.as_bytes()).map_err(|e| e.to_string())?;
    Ok((first, records))
}

fn record_of(s: &[f64]) -> report::ProcessRecord {
    let mut v = s.to_vec();
    v.sort_by(f64::total_cmp);
    report::ProcessRecord {
        samples: v.len(),
        p50_ns: edgebench_measure::stats::percentile(&v, 50.0),
    }
}

#[cfg(test)]
mod tests {
    use super::{decided, interleave, with_rewrite};
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

    #[test]
    fn a_sides_samples_come_back_in_turn_order() {
        // Turns 0, 2 from child 0 (2 and 1 samples), turns 1, 3 from child 1 (1 and 2 samples).
        let per_child = [vec![1.0, 2.0, 5.0], vec![3.0, 6.0, 7.0]];
        assert_eq!(
            interleave(&per_child, &[2, 1, 1, 2]),
            Some(vec![1.0, 2.0, 3.0, 5.0, 6.0, 7.0])
        );
        // Samples left over, or missing: no interleaving.
        assert_eq!(interleave(&per_child, &[2, 1, 1, 1]), None);
        assert_eq!(interleave(&per_child, &[2, 1, 1, 3]), None);
    }

    #[test]
    fn a_cell_is_decided_only_when_its_interval_is_clear_of_the_limit() {
        let base: Vec<f64> = (0..40).map(|i| 1000.0 + (i % 7) as f64).collect();
        let scaled = |f: f64| base.iter().map(|x| x * f).collect::<Vec<_>>();
        // Unchanged, tightly: decided. Three times slower: decided.
        assert!(decided(&[base.clone(), scaled(1.0)], 0.05, "k"));
        assert!(decided(&[base.clone(), scaled(3.0)], 0.05, "k"));
        // Exactly at the limit, turns scattered around it: not decided.
        let scattered: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, x)| x * if i % 2 == 0 { 1.0 } else { 1.1 })
            .collect();
        assert!(!decided(&[base.clone(), scattered], 0.05, "k"));
    }
}
