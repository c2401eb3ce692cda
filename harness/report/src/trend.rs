//! Trend charts: each cell's series from a run history (`edgebench report RUN --history FILE`), one small chart per
//! cell with its change points. The history itself is read by the caller (the report knows no database).

use crate::html::{esc, fmt_ns};
use plotters::prelude::*;
use std::fmt::Write;

/// One cell's series, as the history holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    /// `target/backend/model/variant`.
    pub cell: String,
    /// (run id, value in ns) in run order; the value is what change detection judged (best process's median, or
    /// the median).
    pub points: Vec<(String, f64)>,
    /// Index of the first point after each change, and the change as a share (after / before - 1).
    pub changes: Vec<(usize, f64)>,
}

/// The section: one chart per cell of `cells` (ids) that has a series, in that order; the point of `run_id`, if the
/// history holds it, is ringed.
pub fn section(h: &mut String, trends: &[Trend], cells: &[String], run_id: &str, source: &str) {
    h.push_str(r#"<section id="trends"><h2>Trends</h2>"#);
    let shown: Vec<&Trend> = cells
        .iter()
        .filter_map(|c| trends.iter().find(|t| &t.cell == c))
        .collect();
    let _ = write!(
        h,
        "<p>Each cell's series in the history <code>{}</code> ({} of this run's {} cells have one): the value per run \
         (the best process's median for cells of several processes, else the median), change points found by \
         E-Divisive means with Otava's t statistic (permutation test at 1 %) as dashed lines; this run ringed.</p>",
        esc(source),
        shown.len(),
        cells.len()
    );
    if shown.is_empty() {
        h.push_str(r#"<p class="muted">No cell of this run is in the history.</p></section>"#);
        return;
    }
    h.push_str(r#"<div class="trends">"#);
    for t in shown {
        let changes: Vec<String> = t
            .changes
            .iter()
            .map(|(i, c)| {
                format!(
                    "{:+.1} % at {}",
                    c * 100.0,
                    esc(t.points.get(*i).map(|p| p.0.as_str()).unwrap_or("?"))
                )
            })
            .collect();
        let _ = write!(
            h,
            r#"<figure class="trend"><figcaption><b>{}</b> · {} runs{}</figcaption>{}</figure>"#,
            esc(&t.cell),
            t.points.len(),
            if changes.is_empty() {
                " · no change point".to_string()
            } else {
                format!(" · change: {}", changes.join(", "))
            },
            svg(t, run_id)
        );
    }
    h.push_str("</div></section>");
}

fn svg(t: &Trend, run_id: &str) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (460, 170)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = t.points.len().max(1) as f64;
        let (lo, hi) = t
            .points
            .iter()
            .fold((f64::INFINITY, 0f64), |(l, h), p| (l.min(p.1), h.max(p.1)));
        let pad = ((hi - lo) * 0.1).max(hi * 0.01).max(1.0);
        let built = ChartBuilder::on(&root)
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(n - 0.5), (lo - pad)..(hi + pad));
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(4)
                .x_label_formatter(&|v| format!("{}", v.round() as i64 + 1))
                .y_label_formatter(&|v| fmt_ns(*v))
                .label_style(("sans-serif", 11))
                .draw();
            let blue = RGBColor(31, 90, 170);
            let _ = chart.draw_series(LineSeries::new(
                t.points.iter().enumerate().map(|(i, p)| (i as f64, p.1)),
                blue.stroke_width(1),
            ));
            let _ = chart.draw_series(
                t.points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Circle::new((i as f64, p.1), 2, blue.filled())),
            );
            for (i, _) in &t.changes {
                let x = *i as f64 - 0.5;
                let red = RGBColor(200, 40, 40);
                let _ = chart.draw_series(DashedLineSeries::new(
                    [(x, lo - pad), (x, hi + pad)],
                    4,
                    3,
                    red.stroke_width(1),
                ));
            }
            if let Some((i, p)) = t.points.iter().enumerate().find(|(_, p)| p.0 == run_id) {
                let _ = chart.draw_series([Circle::new(
                    (i as f64, p.1),
                    5,
                    RGBColor(230, 120, 0).stroke_width(2),
                )]);
            }
        }
        let _ = root.present();
    }
    svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
}
