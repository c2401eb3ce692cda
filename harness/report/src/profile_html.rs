//! The report's per-op section (`bench --profile`): per profiled cell the slowest nodes and the totals by op type,
//! and one roofline scatter of every timed node (achieved GFLOP/s against FLOPs per byte moved) under the targets'
//! roofs, one colour per backend.

use crate::Results;
use crate::html::{esc, flags, nice, num, scatter_svg};
use crate::profile::{NodeTiming, ProfileOutcome, us};
use std::collections::BTreeMap;
use std::fmt::Write;

const TOP: usize = 10;

pub(crate) fn section(h: &mut String, r: &Results) {
    let cells: Vec<_> = r.cells.iter().filter(|c| c.profile.is_some()).collect();
    h.push_str(r#"<section id="profile"><h2>Where the time goes (per-op profiles)</h2>"#);
    if cells.is_empty() {
        h.push_str(r#"<p class="muted">No profiles in this run: <code>edgebench bench --profile</code> adds a separate profiled pass after each host cell's timed pass (its timings are never touched).</p></section>"#);
        return;
    }
    h.push_str(r#"<p class="muted">Per ONNX node: the median over the profiled runs (measured by the backend's profiler, or attributed: a fused kernel's time split by an unfused pass; folded nodes cost nothing per run). Bound, % of roof and headroom place each node's FLOPs and bytes (weights and activations) under the target's roofs. The profiler's own cost (profiled / unprofiled whole run) and the time no node accounts for are shown. Diagnostics: the gate ignores them.</p>"#);
    let mut series: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for c in &cells {
        match c.profile.as_ref() {
            Some(ProfileOutcome::Profiled(p)) => {
                let _ = write!(
                    h,
                    "<h3>{} · {} · {}{} · {}</h3><p>{}.</p>",
                    esc(&c.model),
                    esc(&c.target),
                    esc(&c.backend),
                    flags(r, c),
                    esc(&c.variant),
                    esc(&p.headline())
                );
                h.push_str(r#"<table class="sort filterable"><thead><tr><th>node</th><th>op</th><th>timing</th><th>p50 µs</th><th>p10–p90 µs</th><th>share</th><th>GFLOP/s</th><th>GB/s</th><th>bound</th><th>% of roof</th><th>headroom µs</th><th>support</th><th>provider</th></tr></thead><tbody>"#);
                for n in p.nodes.iter().take(TOP) {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{:?}</td>{}<td>{:.1}–{:.1}</td>{}{}{}<td>{}</td>{}{}<td>{}</td><td>{}</td></tr>",
                        esc(&n.node),
                        esc(&n.op),
                        n.timing,
                        num(Some(n.p50_us), |x| format!("{x:.1}")),
                        n.p10_us,
                        n.p90_us,
                        num(Some(n.share * 100.0), |x| format!("{x:.1} %")),
                        num(n.gflops, |x| format!("{x:.2}")),
                        num(n.gbs, |x| format!("{x:.2}")),
                        esc(n.bound.as_deref().unwrap_or("-")),
                        num(n.roof_pct, |x| format!("{x:.0} %")),
                        num(n.headroom_us, |x| format!("{x:.1}")),
                        esc(n.support.as_deref().unwrap_or("-")),
                        esc(n.provider.as_deref().unwrap_or("-"))
                    );
                }
                h.push_str("</tbody></table>");
                let _ = write!(h, "<p>By op type: {}</p>", esc(&p.by_op_line(8)));
                if !p.extra.is_empty() {
                    let extra: Vec<String> = p
                        .extra
                        .iter()
                        .take(6)
                        .map(|e| format!("{} ({}) {}", esc(&e.name), esc(&e.op), us(e.p50_us)))
                        .collect();
                    let _ = write!(
                        h,
                        r#"<p class="muted">Rows of no ONNX node (added by the backend): {}</p>"#,
                        extra.join(" · ")
                    );
                }
                for n in &p.nodes {
                    if let (Some(f), Some(b), Some(g), true) =
                        (n.flops, n.bytes, n.gflops, n.timing != NodeTiming::Folded)
                        && f > 0
                        && b > 0
                        && g > 0.0
                    {
                        series
                            .entry(format!("{}/{}", c.target, c.backend))
                            .or_default()
                            .push((f as f64 / b as f64, g, String::new()));
                    }
                }
            }
            Some(ProfileOutcome::NotAvailable { backend, reason }) => {
                let _ = write!(
                    h,
                    r#"<p class="muted">{} · {} · {}: {}</p>"#,
                    esc(&c.model),
                    esc(&c.target),
                    esc(backend),
                    esc(reason)
                );
            }
            Some(ProfileOutcome::Failed { backend, error }) => {
                let _ = write!(
                    h,
                    r#"<p class="bad">{} · {} · {}: profile failed: {}</p>"#,
                    esc(&c.model),
                    esc(&c.target),
                    esc(backend),
                    esc(error)
                );
            }
            None => {}
        }
    }
    side_by_side(h, r);
    if !series.is_empty() {
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for p in series.values().flatten() {
            lo = lo.min(p.0);
            hi = hi.max(p.0);
        }
        let (lo, hi) = (lo / 4.0, hi * 4.0);
        let mut lines = vec![];
        for t in &r.targets {
            let Some(rf) = &t.roofs else { continue };
            if !series
                .keys()
                .any(|k| k.starts_with(&format!("{}/", t.name)))
            {
                continue;
            }
            lines.push(crate::html::roof_line(&t.name, rf, lo, hi));
        }
        h.push_str("<h3>Every timed node under the roofs</h3>");
        h.push_str(&scatter_svg(
            &series,
            "FLOPs per byte moved (weights + activations, log)",
            "achieved GFLOP/s (log)",
            &nice,
            &nice,
            false,
            true,
            true,
            &lines,
        ));
    }
    h.push_str("</section>\n");
}

/// Per (model, target, variant) profiled on several backends: the same ONNX nodes side by side, slowest first.
fn side_by_side(h: &mut String, r: &Results) {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<(&str, &crate::profile::Profile)>> =
        BTreeMap::new();
    for c in &r.cells {
        if let Some(ProfileOutcome::Profiled(p)) = &c.profile {
            groups
                .entry((c.model.as_str(), c.target.as_str(), c.variant.as_str()))
                .or_default()
                .push((c.backend.as_str(), p));
        }
    }
    for ((model, target, variant), ps) in groups.iter().filter(|(_, ps)| ps.len() > 1) {
        let mut worst: Vec<(&str, f64)> = ps[0]
            .1
            .nodes
            .iter()
            .map(|n| {
                let max = ps
                    .iter()
                    .filter_map(|(_, p)| p.nodes.iter().find(|x| x.node == n.node))
                    .map(|x| x.p50_us)
                    .fold(0.0, f64::max);
                (n.node.as_str(), max)
            })
            .collect();
        worst.sort_by(|a, b| b.1.total_cmp(&a.1));
        let _ = write!(
            h,
            "<h3>{} · {} · {}: the same nodes across backends (p50 µs)</h3><table class=\"sort filterable\"><thead><tr><th>node</th><th>op</th>",
            esc(model),
            esc(target),
            esc(variant)
        );
        for (b, _) in ps {
            let _ = write!(h, "<th>{}</th>", esc(b));
        }
        h.push_str("</tr></thead><tbody>");
        for (node, _) in worst.iter().take(TOP) {
            let op = ps[0]
                .1
                .nodes
                .iter()
                .find(|x| x.node == *node)
                .map(|x| x.op.as_str())
                .unwrap_or("");
            let _ = write!(h, "<tr><td>{}</td><td>{}</td>", esc(node), esc(op));
            for (_, p) in ps {
                let t = p.nodes.iter().find(|x| x.node == *node).map(|x| x.p50_us);
                h.push_str(&num(t, |x| format!("{x:.1}")));
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
    }
}
