//! `edgebench history add RUN...` / `history show`: the run history in SQLite (issue #23, first part). Reads saved
//! runs only; never measures.

use crate::exit::{USAGE, fail};
use anyhow::Result;
use edgebench_history::{Filter, History};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Records runs (folders or results.json): one point per timed cell. A run already there is left as it is.
    Add {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[command(flatten)]
        db: Db,
    },
    /// Prints the series: per cell (target, backend, model, variant), its points in run order and its change points
    /// (E-Divisive means, t-statistic variant, permutation test at 0.01).
    Show {
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        backend: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(clap::Args, Debug)]
pub struct Db {
    /// The history: a SQLite file (made if missing), or a PostgreSQL database as `postgres://USER[:PASSWORD]@HOST
    /// [:PORT]/DB` for CI jobs on many machines (the same schema; docs/history.md).
    #[arg(
        long,
        env = "EDGEBENCH_HISTORY_DB",
        default_value = "reports/history.sqlite"
    )]
    db: PathBuf,
}

fn open(db: &Db) -> Result<History> {
    History::open(&db.db).map_err(|e| fail(USAGE, e))
}

/// Every series of a history as the report's trend charts, and the history's name as shown (no password).
pub fn trends(db: &std::path::Path) -> Result<(Vec<edgebench_report::trend::Trend>, String)> {
    let mut h = History::open(db).map_err(|e| fail(USAGE, e))?;
    let series = h.series(&Filter::default()).map_err(|e| fail(USAGE, e))?;
    let trends = series
        .into_iter()
        .map(|s| edgebench_report::trend::Trend {
            cell: s.id(),
            changes: s.changes.iter().map(|c| (c.index, c.change)).collect(),
            points: s
                .points
                .iter()
                .map(|p| (p.run_id.clone(), p.value_ns()))
                .collect(),
        })
        .collect();
    Ok((trends, h.name()))
}

pub fn run(c: Command) -> Result<()> {
    match c {
        Command::Add { runs, db } => {
            let loaded = runs
                .iter()
                .map(|r| crate::flags::load_run(r))
                .collect::<Result<Vec<_>>>()?;
            let mut h = open(&db)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            for (_, dir, results) in &loaded {
                let a = h.add(results, dir, now).map_err(|e| fail(USAGE, e))?;
                if a.already {
                    println!("{}: already in {}", a.run_id, db.db.display());
                } else {
                    println!(
                        "{}: {} cells added to {}",
                        a.run_id,
                        a.cells,
                        db.db.display()
                    );
                }
            }
            Ok(())
        }
        Command::Show {
            model,
            backend,
            target,
            json,
            db,
        } => {
            let mut h = open(&db)?;
            let series = h
                .series(&Filter {
                    model,
                    backend,
                    target,
                })
                .map_err(|e| fail(USAGE, e))?;
            if json {
                return super::print_json(&series);
            }
            for s in &series {
                println!("{}", s.id());
                for (i, p) in s.points.iter().enumerate() {
                    let change = s
                        .changes
                        .iter()
                        .find(|c| c.index == i)
                        .map(|c| format!("  <- change {:+.1} % (p {:.3})", 100.0 * c.change, c.p))
                        .unwrap_or_default();
                    let best = p
                        .best_process_ns
                        .map(|b| format!("  best of {} {:.1} µs", p.processes, b / 1e3))
                        .unwrap_or_default();
                    println!(
                        "  {}  {:>12.1} µs  [{:.1}, {:.1}]  n {:>6}{best}  {}  {}{change}",
                        p.run_id,
                        p.median_ns / 1e3,
                        p.ci_low_ns / 1e3,
                        p.ci_high_ns / 1e3,
                        p.samples,
                        &p.git_commit[..p.git_commit.len().min(12)],
                        p.machine
                    );
                }
            }
            if series.is_empty() {
                println!("no points in {}", db.db.display());
            }
            Ok(())
        }
    }
}
