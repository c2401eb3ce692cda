//! `edgebench report RUN|results.json`: the HTML report (or a Markdown summary, or JUnit XML) rendered from a saved
//! run alone; with `--baseline`, the gate's verdicts are part of it. Never re-measures.

use crate::exit::{BAD_MODEL, USAGE, fail};
use crate::flags::{GateFlags, load_run, options};
use anyhow::Result;
use edgebench_report::{ci, gate, html};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Junit,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run folder (`reports/runs/<id>`) or a results.json.
    run: PathBuf,
    /// Compare with this run (folder or results.json) and show the gate's verdict per cell.
    #[arg(long)]
    baseline: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Html)]
    format: Format,
    /// Output file (default: `report.html` in the run's folder for HTML, standard output otherwise). An existing
    /// file is never overwritten without `--force`.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Replace an existing output file (written atomically).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    gate: GateFlags,
    /// Add a trend chart per cell from this run history (a SQLite file or a postgres:// URL, as `history --db`);
    /// HTML only. The history is read, never written: add the run first with `edgebench history add`.
    #[arg(long, value_name = "DB")]
    history: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let (path, dir, results) = load_run(&a.run)?;
    let verdicts = match &a.baseline {
        Some(b) => {
            let (_, bdir, base) = load_run(b)?;
            Some(
                gate::gate(&base, &bdir, &results, &dir, &options(&a.gate)?)
                    .map_err(|e| fail(BAD_MODEL, e))?,
            )
        }
        None => None,
    };
    let trends = match &a.history {
        Some(_) if a.format != Format::Html => {
            return Err(fail(
                USAGE,
                "--history: trend charts are part of the HTML report only",
            ));
        }
        Some(db) => Some(super::history::trends(db)?),
        None => None,
    };
    let text = match a.format {
        Format::Html => html::render(&html::Page {
            results: &results,
            dir: &dir,
            gate: verdicts.as_ref(),
            source: path.display().to_string(),
            trends: trends.as_ref().map(|t| (t.0.as_slice(), t.1.clone())),
        }),
        Format::Markdown => ci::markdown(&results, verdicts.as_ref()),
        Format::Junit => ci::junit(&results, verdicts.as_ref()),
    };
    let out = match (&a.out, a.format) {
        (Some(o), _) => Some(o.clone()),
        (None, Format::Html) => Some(dir.join("report.html")),
        (None, _) => None,
    };
    match out {
        None => print!("{text}"),
        Some(o) => {
            if o.canonicalize().ok() == path.canonicalize().ok() {
                return Err(fail(
                    USAGE,
                    format!("{}: is the input; not overwriting it", o.display()),
                ));
            }
            if o.exists() && !a.force {
                return Err(fail(
                    USAGE,
                    format!(
                        "{}: already exists; not overwriting it (--force replaces it)",
                        o.display()
                    ),
                ));
            }
            edgebench_report::write_atomic(&o, text.as_bytes()).map_err(|e| fail(USAGE, e))?;
            eprintln!(
                "report: {} ({} cells, {:.1} kB)",
                o.display(),
                results.cells.len(),
                text.len() as f64 / 1e3
            );
        }
    }
    Ok(())
}
