//! The confirmation stage of an interleaved session (`bench --ab --confirm`): the gate's first verdicts over the
//! two sides, and the flagged cells (regressed, accuracy regressed) measured again by fresh children in a session
//! of their own, whose two sides are saved beside the first's as `<session>-confirm-a` and `-b`. The gate then
//! decides those cells from the confirmation alone (`edgebench_report::gate::confirm`).

use super::ab::{self, Round};
use super::folder::{Recorder, RunFolder, SideB};
use super::schedule::Schedule;
use super::{CellCtx, Row, emit, finish};
use crate::Error;
use crate::events::{Event, Reporter};
use crate::plan::CellKey;
use edgebench_report::{self as report, Cell, gate};
use std::path::{Path, PathBuf};

/// The first session as it ended: both sides' rows, with the outputs each cell saved.
pub(super) struct Session<'s> {
    pub folder: &'s RunFolder,
    pub side: &'s SideB,
    pub settings_a: &'s report::Settings,
    pub rows: &'s [(Row, Row)],
}

/// Makes two sibling run folders `<name>-a` and `<name>-b` for a free `name` (`<session>-confirm`, then
/// `<session>-confirm2`, ...).
fn folders(root: &Path, session: &str) -> Result<(String, [PathBuf; 2]), Error> {
    let io = |p: &Path, e: std::io::Error| Error::Usage(format!("{}: {e}", p.display()));
    for k in 1..1000 {
        let name = if k == 1 {
            format!("{session}-confirm")
        } else {
            format!("{session}-confirm{k}")
        };
        let a = root.join(format!("{name}-a"));
        let b = root.join(format!("{name}-b"));
        if b.exists() {
            continue;
        }
        match std::fs::create_dir(&a) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&a, e)),
        }
        std::fs::create_dir(&b).map_err(|e| io(&b, e))?;
        for d in [&a, &b] {
            for sub in ["samples", "outputs"] {
                std::fs::create_dir_all(d.join(sub)).map_err(|e| io(d, e))?;
            }
        }
        return Ok((name, [a, b]));
    }
    Err(Error::Usage(format!(
        "{}: no free name for the confirmation",
        root.display()
    )))
}

/// Judges the session, and measures its flagged cells again. Returns the confirmation session's name, `None` when
/// nothing was flagged.
pub(super) fn run(
    schedule: &Schedule,
    s: &Session,
    rec: &Recorder,
    reporters: &mut [&mut dyn Reporter],
) -> Result<Option<String>, Error> {
    let plan = rec.plan;
    let ab = plan.ab.clone().unwrap_or_default();
    let cells = |rows: &mut dyn Iterator<Item = &Row>| -> Vec<Cell> {
        rows.flat_map(|r| r.iter().map(|(c, _)| c.clone()))
            .collect()
    };
    let ra = rec.results(
        &s.folder.run_id,
        s.settings_a,
        cells(&mut s.rows.iter().map(|r| &r.0)),
    );
    let rb = rec.results(
        &s.side.run_id,
        &s.side.settings,
        cells(&mut s.rows.iter().map(|r| &r.1)),
    );
    let o = gate::GateOptions {
        threshold: ab.threshold.unwrap_or(0.05),
        ..Default::default()
    };
    let g = gate::gate(&ra, &s.folder.dir, &rb, &s.side.dir, &o)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let flagged: Vec<CellKey> = g
        .cells
        .iter()
        .filter(|v| gate::confirm::confirmable(v.verdict))
        .map(|v| CellKey {
            target: v.target.clone(),
            backend: v.backend.clone(),
            model: v.model.clone(),
            variant: v.variant.clone(),
        })
        .collect();
    if flagged.is_empty() || crate::interrupted() {
        return Ok(None);
    }
    let session = s
        .settings_a
        .paired
        .as_ref()
        .map(|p| p.session.clone())
        .unwrap_or_else(|| s.folder.run_id.clone());
    let root = s.folder.dir.parent().unwrap_or(Path::new("."));
    let (name, dirs) = folders(root, &session)?;
    emit(
        reporters,
        Event::Stage(format!(
            "confirming {} flagged cell(s) with fresh children ({}): {}",
            flagged.len(),
            root.join(format!("{name}-a|b")).display(),
            flagged
                .iter()
                .map(CellKey::id)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    )?;
    let round = Round::Confirm {
        cells: flagged.len(),
    };
    let mut confirmed: [Vec<Cell>; 2] = [vec![], vec![]];
    for key in &flagged {
        let Some(c) = schedule.rows.iter().flatten().find(|c| &c.key == key) else {
            continue;
        };
        let outs = [c.outputs(&dirs[0]), c.outputs(&dirs[1])];
        let (a, b) = ab::run_pair(c, [&dirs[0], &dirs[1]], [&outs[0], &outs[1]], round);
        for (side, cell) in [a, b].into_iter().enumerate() {
            let cell = finish::with_rewrite(cell, c.model());
            confirmed[side].push(agreed(c, cell, &outs[side], s.rows, side));
        }
        if crate::interrupted() {
            break;
        }
    }
    let paired = |side: usize| {
        let mut p = if side == 0 {
            s.settings_a.paired.clone()
        } else {
            s.side.settings.paired.clone()
        }
        .unwrap_or_default();
        p.session = name.clone();
        p.other_run = format!("{name}-{}", ["b", "a"][side]);
        p.confirms = Some(session.clone());
        p.confirmation = None;
        p
    };
    for (side, cells) in confirmed.into_iter().enumerate() {
        let mut settings = [s.settings_a, &s.side.settings][side].clone();
        settings.paired = Some(paired(side));
        let id = format!("{name}-{}", ["a", "b"][side]);
        let results = rec.results(&id, &settings, cells);
        report::save(&dirs[side], &results).map_err(|e| Error::Usage(e.to_string()))?;
    }
    Ok(Some(name))
}

/// A confirmation cell with its agreement: compared with the reference backend's outputs of the first session's
/// row, as the cell was then.
fn agreed(c: &CellCtx, cell: Cell, outputs: &Path, rows: &[(Row, Row)], side: usize) -> Cell {
    let ok = cell.outcome == report::Outcome::Ok && outputs.is_file();
    let Some(row) = rows
        .iter()
        .map(|r| if side == 0 { &r.0 } else { &r.1 })
        .find(|r| r.iter().any(|(x, _)| CellKey::of(x) == c.key))
    else {
        return cell;
    };
    let mut row: Row = row
        .iter()
        .map(|(x, p)| {
            if CellKey::of(x) == c.key {
                (cell.clone(), ok.then(|| outputs.to_path_buf()))
            } else {
                (x.clone(), p.clone())
            }
        })
        .collect();
    finish::agree(&mut row);
    row.into_iter()
        .map(|(x, _)| x)
        .find(|x| CellKey::of(x) == c.key)
        .unwrap_or(cell)
}
