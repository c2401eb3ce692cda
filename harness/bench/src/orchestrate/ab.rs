//! The interleaved A/B protocol (`bench --ab`): two children per side taking turns, until the turn ratio's
//! interval decides the cell or the cell's precision or time budget is reached.

use super::CellCtx;
use super::finish::finish;
use super::pool::{pool, record_of};
use crate::cell::{self, CellRequest, Measured};
use crate::plan::AbSide;
use edgebench_report::{self as report, Cell, Outcome};
use std::path::{Path, PathBuf};

/// An interleaved session decides a cell only after this many pairs of turns (a bootstrap of fewer is too narrow).
const DECIDE_AFTER_PAIRS: usize = 16;

/// The children of one cell, `[side][child of that side]`; `None`: not started.
type Children = [[Option<Result<cell::TurnChild, Outcome>>; 2]; 2];

/// What the turns gave each side: the number of samples and the median of every turn, and the time spent in them.
#[derive(Default)]
struct Turns {
    sizes: [Vec<usize>; 2],
    medians: [Vec<f64>; 2],
    sampled: [f64; 2],
}

/// Which session of a cell this is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Round {
    /// The session itself.
    First,
    /// The confirmation of `cells` flagged cells: fresh children, loaded b, a, a, b; each pair of turns starting
    /// with the other side and on the other CPU than in the first session; decided at 1 - 0.01 / cells.
    Confirm { cells: usize },
}

/// Runs one cell as an interleaved session: two children per side, loaded and warmed up one after the other in the
/// order a, b, b, a (on this VM the first child loaded for a cell ran 4-8 % slower than the other three, measured in
/// BENCHMARKS.md; with each side loaded first once, such an effect sides with neither), then the two pairs (a1, b1)
/// and (a2, b2) take turns of `turn_ms` in alternation, a b b a within each pair, so a change of this machine's
/// speed lasting longer than a turn hits both sides alike. At least 8 pairs of turns; then until the 95 % CI of the
/// median turn ratio (b / a) is within `target_rel_ci`, or (with a threshold) its interval decides the cell, or a
/// side had `max_time_s` of turns. Returns the two cells.
pub(super) fn run_pair(
    c: &CellCtx,
    dirs: [&Path; 2],
    outputs: [&Path; 2],
    round: Round,
) -> (Cell, Cell) {
    let ab = c.plan.ab.clone().unwrap_or_default();
    let mut children = start_children(c, &ab, dirs, outputs, round);
    let all_ready = children.iter().flatten().all(|k| matches!(k, Some(Ok(_))));
    let turns = if all_ready {
        take_turns(c, &ab, &mut children, round)
    } else {
        Turns::default()
    };
    let mut out = children
        .into_iter()
        .enumerate()
        .map(|(side, kids)| side_cell(c, kids, &turns.sizes[side], dirs[side], outputs[side]));
    let a = out.next().unwrap_or_else(|| c.blank());
    let b = out.next().unwrap_or_else(|| c.blank());
    (a, b)
}

/// Starts the four children in the order a1, b1, b2, a2 (a confirmation: b1, a1, a2, b2), each warmed up before
/// the next starts.
fn start_children(
    c: &CellCtx,
    ab: &AbSide,
    dirs: [&Path; 2],
    outputs: [&Path; 2],
    round: Round,
) -> Children {
    // (side, child of that side): side a's first child, b's first, b's second, a's second.
    let order = match round {
        Round::First => [(0usize, 0usize), (1, 0), (1, 1), (0, 1)],
        Round::Confirm { .. } => [(1, 0), (0, 0), (0, 1), (1, 1)],
    };
    let mut children: Children = Default::default();
    for (side, p) in order {
        // A side whose first child failed has its outcome: the second children are not needed.
        if p == 1 && children.iter().any(|k| matches!(k[0], Some(Err(_)))) {
            break;
        }
        let mut r = c.request(dirs[side], outputs[side]);
        r.turns = true;
        if side == 1
            && c.key.variant == "fp32"
            && let Some(m) = &ab.model
        {
            r.model = m.display().to_string();
        }
        if p > 0 {
            r.samples = format!("{}.p{p}", r.samples);
            r.outputs = format!("{}.p{p}", r.outputs);
        }
        children[side][p] = Some(start_turn_child(c, ab, side, r));
    }
    children
}

/// The turns, until the cell's stop rule holds or a child ends.
fn take_turns(c: &CellCtx, ab: &AbSide, children: &mut Children, round: Round) -> Turns {
    let s = &c.plan.settings;
    let mut r = Turns::default();
    // Both turns of a pair run their model thread on the same CPU, the CPU changing from pair to pair: on a VM
    // each virtual CPU is its own host thread with its own neighbours, and a child that stayed on one of them
    // would carry that CPU's speed as if it were its own.
    let cpus = cell::allowed_cpus();
    let (shift, confidence) = match round {
        Round::First => (0, 0.99),
        Round::Confirm { cells } => (1, 1.0 - 0.01 / cells.max(1) as f64),
    };
    let mut t = 0usize;
    'turns: while !crate::interrupted() {
        let (p, u) = (t % 2, t / 2);
        let first = if (u + shift) % 2 == 0 { [0, 1] } else { [1, 0] };
        let cpu = (cpus.len() >= 2).then(|| cpus[(u + p + shift) % cpus.len()]);
        for side in first {
            let Some(Some(Ok(k))) = children[side].get_mut(p) else {
                break 'turns;
            };
            let started = std::time::Instant::now();
            match k.turn(ab.turn_ms, cpu) {
                Some((n, m)) => {
                    r.sizes[side].push(n);
                    r.medians[side].push(m);
                    r.sampled[side] += started.elapsed().as_secs_f64();
                }
                None => break 'turns,
            }
        }
        t += 1;
        if t < 8 {
            continue;
        }
        if r.sampled[0] >= s.max_time_s || r.sampled[1] >= s.max_time_s {
            break;
        }
        let mut ratios: Vec<f64> = r.medians[0]
            .iter()
            .zip(&r.medians[1])
            .map(|(a, b)| if *a > 0.0 { b / a } else { f64::INFINITY })
            .collect();
        ratios.sort_by(f64::total_cmp);
        if edgebench_measure::stats::relative_ci_width(&ratios) <= s.target_rel_ci {
            break;
        }
        if let Some(l) = ab.threshold
            && t >= DECIDE_AFTER_PAIRS
            && decided(&r.medians, l, confidence, &c.key.id())
        {
            break;
        }
    }
    r
}

/// One side's cell: every started child is ended (and waited for) before the side's outcome is taken; the
/// samples of its two children are put back in turn order and pooled.
fn side_cell(
    c: &CellCtx,
    kids: [Option<Result<cell::TurnChild, Outcome>>; 2],
    sizes: &[usize],
    dir: &Path,
    outputs: &Path,
) -> Cell {
    let mut cell = c.blank();
    let failed = |mut cell: Cell, message: String| {
        cell.outcome = Outcome::Failed {
            exit_code: 1,
            message,
        };
        cell
    };
    let ended = kids
        .into_iter()
        .flatten()
        .map(|k| k.and_then(|k| k.end().report::<Measured>()))
        .collect::<Vec<_>>();
    let ms = match ended
        .into_iter()
        .collect::<Result<Vec<Measured>, Outcome>>()
    {
        Ok(ms) => ms,
        Err(o) => {
            cell.outcome = o;
            return cell;
        }
    };
    if sizes.is_empty() {
        return failed(
            cell,
            "no turns were taken: the other side's children did not start".into(),
        );
    }
    let file = dir.join(&c.samples_rel);
    let second = PathBuf::from(format!("{}.p1", file.display()));
    let per_child =
        report::samples::read(&file).and_then(|a| Ok([a, report::samples::read(&second)?]));
    let _ = std::fs::remove_file(&second);
    let _ = std::fs::remove_file(format!("{}.p1", outputs.display()));
    let per_child = match per_child {
        Ok(p) => p,
        Err(e) => return failed(cell, e),
    };
    let Some(samples) = interleave(&per_child, sizes) else {
        return failed(
            cell,
            "the children's samples do not add up to their turns".into(),
        );
    };
    cell.turns = turn_records(&samples, sizes);
    // The pool takes the samples in turn order as the first child's (its statistics and the samples file come
    // from them), the second child's measurement without samples.
    let mut samples = Some(samples);
    let parts = ms
        .into_iter()
        .map(|m| (m, samples.take().unwrap_or_default()))
        .collect();
    match pool(parts, &file) {
        Ok((m, _)) => finish(c, cell, m),
        Err(e) => failed(cell, e),
    }
}

/// Starts one child of an interleaved cell and waits for its warm-up (`ready`); the other children wait, idle.
fn start_turn_child(
    c: &CellCtx,
    ab: &AbSide,
    side: usize,
    r: CellRequest,
) -> Result<cell::TurnChild, Outcome> {
    let site = c.site();
    let failed = |message: String| Outcome::Failed {
        exit_code: -1,
        message,
    };
    let exe = if side == 1 { ab.exe.as_deref() } else { None };
    let Some(mut cmd) = site.runner.command(&r, exe) else {
        return Err(failed(format!(
            "{}: cannot drive this target's children",
            site.name
        )));
    };
    if side == 1 {
        cmd.envs(ab.env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = cell::TurnChild::start(cmd, c.plan.settings.cell_timeout_s).map_err(failed)?;
    if child.ready() {
        Ok(child)
    } else {
        Err(match child.end().outcome() {
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

/// Whether the interval of the turn ratio (b / a; the gate's statistic, `gate::compare_paired`, at `confidence`:
/// 99 % rather than the gate's 95 %, since the session looks after every pair) already decides the cell at threshold `l`: wholly
/// beyond the limit (regressed or improved) or wholly within it (unchanged).
fn decided(medians: &[Vec<f64>; 2], l: f64, confidence: f64, key: &str) -> bool {
    let ones = vec![1; medians[0].len()];
    let o = report::gate::GateOptions {
        threshold: l,
        confidence,
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

#[cfg(test)]
mod tests {
    use super::{decided, interleave};

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
        assert!(decided(&[base.clone(), scaled(1.0)], 0.05, 0.99, "k"));
        assert!(decided(&[base.clone(), scaled(3.0)], 0.05, 0.99, "k"));
        // Exactly at the limit, turns scattered around it: not decided.
        let scattered: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, x)| x * if i % 2 == 0 { 1.0 } else { 1.1 })
            .collect();
        assert!(!decided(&[base.clone(), scattered], 0.05, 0.99, "k"));
    }
}
