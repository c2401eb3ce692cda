//! CI formats rendered from saved results: a Markdown job summary (regressions and failures first, then the
//! matrix) and JUnit XML (one testcase per cell; a failed cell or a gate failure is a `<failure>`).

use crate::gate::{CellVerdict, Gate};
use crate::html::{fmt_ns, outcome_text, software_adapter};
use crate::{Cell, Outcome, Results};
use std::collections::BTreeSet;
use std::fmt::Write;

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn verdict_of<'g>(g: Option<&'g Gate>, c: &Cell) -> Option<&'g CellVerdict> {
    g?.cells.iter().find(|v| {
        v.target == c.target
            && v.backend == c.backend
            && v.model == c.model
            && v.variant == c.variant
    })
}

/// A Markdown job summary.
pub fn markdown(r: &Results, gate: Option<&Gate>) -> String {
    let mut o = String::new();
    let failed: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.outcome != Outcome::Ok)
        .collect();
    let _ = writeln!(o, "## edgebench run `{}`\n", md(&r.run_id));
    let _ = writeln!(
        o,
        "{} cells, {} failed · {} ({} cores) · edgebench {} ({})\n",
        r.cells.len(),
        failed.len(),
        md(&r.machine.cpu),
        r.machine.logical_cores,
        md(&r.edgebench_version),
        md(&r.git_commit)
    );
    for t in r.targets.iter().filter(|t| t.emulated) {
        let _ = writeln!(
            o,
            "> **{}** ran under qemu-user emulation: its timings say nothing about the board.\n",
            md(&t.name)
        );
    }
    if let Some(g) = gate {
        let _ = writeln!(
            o,
            "### Gate: {} ({} of {} cells fail; baseline `{}`, threshold {:.1} %)\n",
            if g.failures > 0 {
                "❌ regression"
            } else {
                "✅ no regression"
            },
            g.failures,
            g.cells.len(),
            md(&g.baseline_run),
            g.options.threshold * 100.0
        );
        let counts: Vec<String> = g.counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(o, "{}\n", counts.join(" · "));
        for w in &g.warnings {
            let _ = writeln!(o, "> **warning:** {}\n", md(w));
        }
        if g.interleaved {
            let _ = writeln!(
                o,
                "The two runs are the sides of one interleaved session (`bench --ab`): timed cells are compared \
                 turn by turn.\n"
            );
        }
        if let Some(st) = &g.confirmation {
            let _ = writeln!(
                o,
                "**Confirmation** (session `{}`): the {} flagged cell(s) were measured again by fresh children \
                 and judged at {:.2} % each (the gate's 5 % shared among them): **{} confirmed**, {} cleared. Only \
                 confirmed verdicts fail the gate.\n",
                md(&st.session),
                st.cells,
                st.confidence * 100.0,
                st.confirmed,
                st.cleared
            );
        }
        if g.single_process_cells > 0 {
            let _ = writeln!(
                o,
                "> {} timed cells were measured in one process on a side: between-process variance is \
                 invisible to the gate (`bench --processes 5`).\n",
                g.single_process_cells
            );
        }
        let _ = writeln!(
            o,
            "| verdict | cell | baseline p50 | candidate p50 | ratio [95 % CI] | why |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        // Regressions first: the verdicts are already sorted worst first.
        for v in &g.cells {
            let name = match (v.verdict.fails(), &v.confirmation) {
                (true, Some(_)) => format!("**{} (confirmed)**", v.verdict.name()),
                (true, None) => format!("**{}**", v.verdict.name()),
                (false, Some(cf)) => {
                    format!("{} (flagged {})", v.verdict.name(), cf.flagged.name())
                }
                (false, None) => v.verdict.name().to_string(),
            };
            let unstable = if v.unstable.is_empty() {
                String::new()
            } else {
                format!(" ⚠ unstable ({})", v.unstable.join(", "))
            };
            let _ = writeln!(
                o,
                "| {name}{unstable} | `{}` | {} | {} | {} | {} |",
                md(&v.id()),
                v.baseline_p50_ns.map(fmt_ns).unwrap_or("-".into()),
                v.candidate_p50_ns.map(fmt_ns).unwrap_or("-".into()),
                match (v.ratio, v.ratio_ci) {
                    (Some(x), Some(ci)) => format!("{x:.3} [{:.3}, {:.3}]", ci[0], ci[1]),
                    _ => "-".into(),
                },
                md(&v.reason)
            );
        }
        o.push('\n');
    }
    if !failed.is_empty() {
        let _ = writeln!(o, "### Failed cells\n\n| cell | outcome |\n|---|---|");
        for c in &failed {
            let _ = writeln!(
                o,
                "| `{}/{}/{}/{}` | {} |",
                md(&c.target),
                md(&c.backend),
                md(&c.model),
                md(&c.variant),
                md(&outcome_text(&c.outcome))
            );
        }
        o.push('\n');
    }
    let rewritten: Vec<&Cell> = r.cells.iter().filter(|c| c.rewrite.is_some()).collect();
    if !rewritten.is_empty() {
        let _ = writeln!(o, "### Rewritten cells\n\n| cell | rewrite |\n|---|---|");
        for c in rewritten {
            let w = c.rewrite.as_ref().map(|w| w.summary()).unwrap_or_default();
            let _ = writeln!(
                o,
                "| `{}/{}/{}/{}` | {} |",
                md(&c.target),
                md(&c.backend),
                md(&c.model),
                md(&c.variant),
                md(&w)
            );
        }
        o.push('\n');
    }
    // Per-op profiles (`bench --profile`): the 10 slowest ONNX nodes of all profiled cells, each with its cell.
    let mut slow: Vec<(&Cell, &crate::profile::ProfileNode)> = r
        .cells
        .iter()
        .filter_map(|c| match &c.profile {
            Some(crate::profile::ProfileOutcome::Profiled(p)) => {
                Some(p.nodes.iter().map(move |n| (c, n)))
            }
            _ => None,
        })
        .flatten()
        .collect();
    if !slow.is_empty() {
        slow.sort_by(|a, b| b.1.p50_us.total_cmp(&a.1.p50_us));
        let _ = writeln!(
            o,
            "### Slowest nodes (per-op profiles)\n\n| node | op | cell | p50 | share of its model | timing | bound, % of roof |\n|---|---|---|---|---|---|---|"
        );
        for (c, n) in slow.iter().take(10) {
            let _ = writeln!(
                o,
                "| `{}` | {} | `{}/{}/{}/{}` | {} | {:.1} % | {:?} | {} |",
                md(&n.node),
                md(&n.op),
                md(&c.target),
                md(&c.backend),
                md(&c.model),
                md(&c.variant),
                fmt_ns(n.p50_us * 1e3),
                n.share * 100.0,
                n.timing,
                match (&n.bound, n.roof_pct) {
                    (Some(b), Some(p)) => format!("{b}, {p:.0} %"),
                    _ => "-".into(),
                }
            );
        }
        o.push('\n');
    }
    // The matrix: model x (target, backend), fp32 median or the outcome.
    let mut cols: Vec<(String, String)> = r
        .cells
        .iter()
        .map(|c| (c.target.clone(), c.backend.clone()))
        .collect();
    cols.sort();
    cols.dedup();
    let models: BTreeSet<&String> = r.cells.iter().map(|c| &c.model).collect();
    let variants: BTreeSet<&String> = r.cells.iter().map(|c| &c.variant).collect();
    let _ = writeln!(o, "### Matrix (median latency; ✗ = did not run)\n");
    let head: Vec<String> = cols
        .iter()
        .map(|(t, b)| format!("{} / {}", md(t), md(b)))
        .collect();
    let _ = writeln!(o, "| model | variant | {} |", head.join(" | "));
    let _ = writeln!(o, "|---|---|{}", "---|".repeat(cols.len()));
    for m in &models {
        for v in &variants {
            if !r.cells.iter().any(|c| &&c.model == m && &&c.variant == v) {
                continue;
            }
            let row: Vec<String> = cols
                .iter()
                .map(|(t, b)| {
                    match r.cells.iter().find(|c| {
                        &c.model == *m && &c.variant == *v && &c.target == t && &c.backend == b
                    }) {
                        None => "".into(),
                        Some(c) if c.outcome != Outcome::Ok => "✗".into(),
                        Some(c) => {
                            let mut s = c
                                .latency
                                .as_ref()
                                .map(|l| fmt_ns(l.p50_ns))
                                .unwrap_or("ok".into());
                            if c.agreement.as_ref().is_some_and(|a| !a.agree) {
                                s.push_str(" (differs)");
                            }
                            if c.rewrite.as_ref().is_some_and(|w| w.used) {
                                s.push_str(" (rewritten)");
                            }
                            if c.emulated {
                                s.push_str(" (emulated)");
                            }
                            if software_adapter(r, c) {
                                s.push_str(" (software adapter)");
                            }
                            if let Some(v) = verdict_of(gate, c).filter(|v| v.verdict.fails()) {
                                s = format!("**{s} {}**", v.verdict.name());
                            }
                            s
                        }
                    }
                })
                .collect();
            let _ = writeln!(o, "| {} | {} | {} |", md(m), md(v), row.join(" | "));
        }
    }
    o
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one testsuite per target, one testcase per cell (`classname` = backend, `name` = model/variant); a
/// failed cell or a cell the gate fails is a `<failure>` with the reason; time is the cell's median in seconds.
pub fn junit(r: &Results, gate: Option<&Gate>) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let targets: BTreeSet<&String> = r.cells.iter().map(|c| &c.target).collect();
    let mut all_fail = 0;
    let mut body = String::new();
    for t in &targets {
        let cells: Vec<&Cell> = r.cells.iter().filter(|c| &&c.target == t).collect();
        let mut fails = 0;
        let mut cases = String::new();
        for c in &cells {
            let time = c.latency.as_ref().map(|l| l.p50_ns / 1e9).unwrap_or(0.0);
            let _ = write!(
                cases,
                "    <testcase classname=\"edgebench.{}.{}\" name=\"{}/{}\" time=\"{time:.9}\"",
                xml(t),
                xml(&c.backend),
                xml(&c.model),
                xml(&c.variant)
            );
            let failure = if c.outcome != Outcome::Ok {
                Some((kind(&c.outcome), outcome_text(&c.outcome)))
            } else {
                verdict_of(gate, c).filter(|v| v.verdict.fails()).map(|v| {
                    let confirmed = if v.confirmation.is_some() {
                        " (confirmed)"
                    } else {
                        ""
                    };
                    (format!("{}{confirmed}", v.verdict.name()), v.reason.clone())
                })
            };
            match failure {
                Some((k, msg)) => {
                    fails += 1;
                    let _ = writeln!(
                        cases,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        xml(&k),
                        xml(&msg),
                        xml(&msg)
                    );
                }
                None => {
                    let mut props = vec![];
                    if let Some(l) = &c.latency {
                        props.push(format!("p50 {}", fmt_ns(l.p50_ns)));
                        props.push(format!("p99 {}", fmt_ns(l.p99_ns)));
                    }
                    if c.emulated {
                        props.push("emulated".into());
                    }
                    if let Some(v) = verdict_of(gate, c) {
                        props.push(format!("gate: {} ({})", v.verdict.name(), v.reason));
                    }
                    let _ = writeln!(
                        cases,
                        ">\n      <system-out>{}</system-out>\n    </testcase>",
                        xml(&props.join("; "))
                    );
                }
            }
        }
        all_fail += fails;
        let _ = writeln!(
            body,
            "  <testsuite name=\"edgebench.{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"0\">\n{cases}  </testsuite>",
            xml(t),
            cells.len()
        );
    }
    let _ = writeln!(
        o,
        "<testsuites name=\"edgebench {}\" tests=\"{}\" failures=\"{all_fail}\" errors=\"0\">\n{body}</testsuites>",
        xml(&r.run_id),
        r.cells.len()
    );
    o
}

fn kind(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok",
        Outcome::Failed { .. } => "failed",
        Outcome::Crashed { .. } => "crashed",
        Outcome::Timeout { .. } => "timeout",
        Outcome::Interrupted => "interrupted",
    }
    .into()
}
