//! `edgebench gate --baseline B --candidate C`: the regression gate over two saved runs (docs/gate.md). Exit 0: no
//! regression; 10: a cell regressed (slower, now failing, or no longer agreeing); 3: the inputs cannot be compared.

use super::print_json;
use crate::exit::{BAD_MODEL, REGRESSION, USAGE, fail};
use crate::flags::{GateFlags, load_run, options};
use anyhow::Result;
use edgebench_report::{ci, gate};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stored baseline (run folder or results.json), e.g. reports/baseline/host.json.
    #[arg(long)]
    baseline: PathBuf,
    /// The fresh run (run folder or results.json).
    #[arg(long)]
    candidate: PathBuf,
    #[command(flatten)]
    gate: GateFlags,
    /// Machine-readable verdicts on standard output (docs/gate.md).
    #[arg(long)]
    json: bool,
    /// Also write the Markdown job summary here.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

fn write_new(p: &Path, text: &str) -> Result<()> {
    edgebench_report::write_atomic(p, text.as_bytes()).map_err(|e| fail(USAGE, e))
}

pub fn run(a: Args) -> Result<()> {
    let (_, bdir, base) = load_run(&a.baseline)?;
    let (_, cdir, cand) = load_run(&a.candidate)?;
    let g = gate::gate(&base, &bdir, &cand, &cdir, &options(&a.gate)?)
        .map_err(|e| fail(BAD_MODEL, e))?;
    if let Some(p) = &a.markdown {
        write_new(p, &ci::markdown(&cand, Some(&g)))?;
    }
    if let Some(p) = &a.junit {
        write_new(p, &ci::junit(&cand, Some(&g)))?;
    }
    if a.json {
        print_json(&g)?;
    } else {
        print_table(&g);
    }
    if g.failures > 0 {
        return Err(fail(
            REGRESSION,
            format!(
                "gate: {} of {} cells regressed against {}",
                g.failures,
                g.cells.len(),
                g.baseline_run
            ),
        ));
    }
    Ok(())
}

fn print_table(g: &gate::Gate) {
    let fmt = edgebench_report::html::fmt_ns;
    let w = g
        .cells
        .iter()
        .map(|c| c.id().len())
        .max()
        .unwrap_or(10)
        .max(4);
    println!(
        "{:<20} {:<w$} {:>10} {:>10} {:>22} {:>7}  why",
        "verdict", "cell", "baseline", "candidate", "ratio [95% CI]", "limit"
    );
    for c in &g.cells {
        let unstable = if c.unstable.is_empty() {
            ""
        } else {
            " UNSTABLE"
        };
        println!(
            "{:<20} {:<w$} {:>10} {:>10} {:>22} {:>7}  {}{unstable}",
            c.verdict.name(),
            c.id(),
            c.baseline_p50_ns.map(fmt).unwrap_or("-".into()),
            c.candidate_p50_ns.map(fmt).unwrap_or("-".into()),
            match (c.ratio, c.ratio_ci) {
                (Some(r), Some(ci)) => format!("{r:.3} [{:.3}, {:.3}]", ci[0], ci[1]),
                _ => "-".into(),
            },
            c.limit
                .map(|l| format!("±{:.1}%", l * 100.0))
                .unwrap_or("-".into()),
            c.reason
        );
    }
    for w in &g.warnings {
        println!("warning: {w}");
    }
    if g.interleaved {
        println!(
            "note: the two runs are the sides of one interleaved session (bench --ab): timed cells are compared \
             turn by turn"
        );
    }
    if let Some(st) = &g.confirmation {
        println!(
            "confirmation: session {}: {} flagged cell(s) measured again by fresh children, judged at {:.2} % each: {} \
             confirmed, {} cleared (only confirmed verdicts fail)",
            st.session,
            st.cells,
            st.confidence * 100.0,
            st.confirmed,
            st.cleared
        );
    }
    if g.single_process_cells > 0 {
        println!(
            "note: {} timed cells were measured in one process on a side; how much this machine's speed differs \
             between processes is invisible to the gate (bench --processes 5; docs/gate.md)",
            g.single_process_cells
        );
    }
    let counts: Vec<String> = g.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "gate: {} ({}); threshold {:.1} %, bootstrap {} draws, seed {}",
        if g.failures > 0 {
            "REGRESSION"
        } else {
            "no regression"
        },
        counts.join(", "),
        g.options.threshold * 100.0,
        g.options.resamples,
        g.options.seed
    );
}
