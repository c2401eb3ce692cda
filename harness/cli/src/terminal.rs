//! The terminal side of a bench run: a reporter of the run's events that prints one line per cell (after its row
//! was compared with the reference) and warnings on stderr, with an indicatif progress bar on a TTY (hidden in CI
//! and with `--json`, where stdout is the results document alone).

use edgebench_bench::Error;
use edgebench_bench::events::{Event, Reporter};
use edgebench_measure::sampling::StoppedBy;
use edgebench_report::{Cell, Outcome};

/// A progress bar on stderr in this template, drawn only when stderr is a terminal and not `hidden`.
pub fn progress(len: u64, template: &str, hidden: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if hidden || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Prints a run as it happens.
pub struct Terminal {
    json: bool,
    show_target: bool,
    bar: indicatif::ProgressBar,
}

impl Terminal {
    pub fn new(json: bool) -> Terminal {
        let bar = progress(0, "bench [{bar:30}] {pos}/{len} {msg}", json);
        Terminal {
            json,
            show_target: false,
            bar,
        }
    }
}

impl Reporter for Terminal {
    fn report(&mut self, event: &Event<'_>) -> Result<(), Error> {
        match event {
            Event::Warning(w) if !self.json => {
                self.bar.suspend(|| eprintln!("edgebench: {w}"));
            }
            Event::PlanStarted { cells, targets, .. } => {
                self.bar.set_length(*cells as u64);
                self.show_target = *targets > 1;
            }
            Event::CellStarted { key } => self
                .bar
                .set_message(format!("{} on {} ({})", key.model, key.backend, key.target)),
            Event::CellFinished { .. } => self.bar.inc(1),
            Event::RowFinished { cells } if !self.json => {
                for c in cells.iter() {
                    self.bar
                        .suspend(|| println!("{}", line(c, self.show_target)));
                }
            }
            Event::RunFinished { .. } => self.bar.finish_and_clear(),
            Event::Stage(line) if !self.json => self.bar.suspend(|| println!("{line}")),
            _ => {}
        }
        Ok(())
    }
}

/// Prints preparation events on stderr (notes only off `--json`, as every note of a feed).
pub fn preparation(json: bool) -> impl FnMut(edgebench_bench::prepare::Event) {
    use edgebench_bench::prepare::Event as P;
    move |e| match e {
        P::Note { note, .. } if !json => eprintln!("edgebench: note: {note}"),
        P::Note { .. } => {}
        P::Predicting { model, backend } => eprintln!(
            "edgebench: predicting {model} on {backend} from its support table and the rewrite rules (then cached)"
        ),
        P::MakingVariant { model, kind } => {
            eprintln!("edgebench: making the {kind} variant of {model}")
        }
        P::Rewriting { model, backend } => eprintln!(
            "edgebench: rewriting {model} for {backend}, every rule verified on the reference (then cached)"
        ),
        P::Warning(w) => eprintln!("edgebench: warning: {w}"),
    }
}

fn line(c: &Cell, show_target: bool) -> String {
    let model = if c.variant == "fp32" {
        c.model.clone()
    } else {
        format!("{} {}", c.model, c.variant)
    };
    let head = if show_target {
        format!(
            "{:<22} {:<10} {:<6}{}",
            model,
            c.target,
            c.backend,
            if c.emulated { " (emulated)" } else { "" }
        )
    } else {
        format!("{:<22} {:<6}", model, c.backend)
    };
    let mut delta = c.delta.as_ref().map(delta_text).unwrap_or_default();
    if !c.split.is_empty() {
        let parts: Vec<String> = c
            .split
            .iter()
            .map(|p| format!("{} {}p {:.0}%", p.backend, p.partitions, p.share * 100.0))
            .collect();
        delta.push_str(&format!("  | split: {}", parts.join(", ")));
    }
    if let Some(r) = &c.rewrite {
        delta.push_str(&format!("  | {}", r.summary()));
    }
    match (&c.outcome, &c.latency) {
        (Outcome::Ok, Some(l)) => {
            let ci = (l.median_ci95_ns[1] - l.median_ci95_ns[0]) / l.p50_ns * 100.0;
            let e = c.energy.as_ref().map(|e| {
                let kind = match e.source {
                    edgebench_measure::energy::Source::Measured { .. } => "measured",
                    edgebench_measure::energy::Source::Estimated { .. } => "est.",
                };
                format!("{:.3} mJ/inf ({kind})", e.joules_per_inference * 1e3)
            });
            let agree = match &c.agreement {
                None => String::new(),
                Some(a) if a.agree => format!(" = {}", a.reference),
                Some(a) => format!(" DIFFERS from {} ({:.1e})", a.reference, a.max_abs_error),
            };
            format!(
                "{head} p50 {:>9.3} ms  CI {:>4.1}%  p99 {:>9.3} ms  n {:>6} ({})  cold {:>8.1} ms  peak {:>7.1} MiB  {}  {}{agree}{delta}",
                l.p50_ns / 1e6,
                ci,
                l.p99_ns / 1e6,
                l.count,
                match c.stopped_by {
                    Some(StoppedBy::Precision) => "ci",
                    Some(StoppedBy::TimeCap) => "time cap, CI missed: UNSTABLE",
                    Some(StoppedBy::SampleCap) => "sample cap",
                    None => "?",
                },
                c.cold_start
                    .as_ref()
                    .map(|x| x.total_ms)
                    .unwrap_or(f64::NAN),
                c.memory
                    .as_ref()
                    .map(|m| m.peak_rss_bytes as f64 / 1048576.0)
                    .unwrap_or(f64::NAN),
                e.unwrap_or_default(),
                c.roofline
                    .as_ref()
                    .map(|r| format!(
                        "{:.2} GFLOP/s ({:.1}% of peak)",
                        r.achieved_gflops,
                        r.share_of_peak * 100.0
                    ))
                    .unwrap_or_else(|| "no roofline (FLOPs or the device's peak unknown)".into()),
            )
        }
        (Outcome::Failed { exit_code, message }, _) => {
            format!("{head} failed (exit {exit_code}): {message}")
        }
        (Outcome::Crashed { signal, message }, _) => {
            format!("{head} crashed (signal {signal:?}): {message}")
        }
        (Outcome::Timeout { seconds }, _) => format!("{head} timeout after {seconds} s"),
        (Outcome::Interrupted, _) => format!("{head} interrupted (resume with --resume)"),
        (Outcome::Ok, None) => format!("{head} ok (no samples)"),
    }
}

/// A variant cell against fp32: ` | vs fp32: latency 0.82x, memory 0.9x, size 0.27x, top-1 99.2%`.
fn delta_text(d: &edgebench_report::Delta) -> String {
    let mut parts = vec![];
    let mut ratio = |what: &str, r: Option<f64>| {
        if let Some(r) = r {
            parts.push(format!("{what} {r:.2}x"));
        }
    };
    ratio("latency", d.latency_ratio);
    ratio("peak memory", d.peak_memory_ratio);
    ratio("energy", d.energy_ratio);
    ratio("size", d.size_ratio);
    for o in &d.drift {
        match o.top1_agreement {
            Some(t) => parts.push(format!("top-1 {:.1}%", t * 100.0)),
            None => parts.push(format!("cosine {:.4}", o.min_cosine)),
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  | vs fp32: {}", parts.join(", "))
    }
}
