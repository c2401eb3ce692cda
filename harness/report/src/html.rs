//! The HTML report: one self-contained file (inline CSS, charts as inline SVG drawn with plotters, a small inline
//! script for sorting and filtering tables, nothing fetched from anywhere), rendered from a results file and its raw
//! samples alone.

use crate::gate::{Gate, load_samples};
use crate::{Cell, Outcome, Results};
use edgebench_measure::energy::Source;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// What a page is made from.
#[derive(Debug)]
pub struct Page<'a> {
    pub results: &'a Results,
    /// The folder of the results file (samples paths are relative to it).
    pub dir: &'a Path,
    /// The gate's verdicts against a baseline, if one was given.
    pub gate: Option<&'a Gate>,
    /// Shown as the page's source.
    pub source: String,
    /// Each cell's series from a run history, and where they came from (`report --history`); `None`: no section.
    pub trends: Option<(&'a [crate::trend::Trend], String)>,
}

/// Escapes text for HTML content and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Nanoseconds as a short human figure.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".into();
    }
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn fmt_bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// One line for a cell's outcome.
pub fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Failed { exit_code, message } => format!("failed (exit {exit_code}): {message}"),
        Outcome::Crashed { signal, message } => match signal {
            Some(s) => format!("crashed (signal {s}): {message}"),
            None => format!("crashed: {message}"),
        },
        Outcome::Timeout { seconds } => format!("timed out after {seconds} s"),
        Outcome::Interrupted => "interrupted before it ended".into(),
    }
}

/// Whether the backend of a cell ran on a software adapter (lavapipe and the like) on that cell's target.
pub fn software_adapter(r: &Results, c: &Cell) -> bool {
    let facts = r
        .targets
        .iter()
        .find(|t| t.name == c.target)
        .map(|t| &t.backends)
        .unwrap_or(&r.machine.backends);
    c.backend.split('+').any(|b| {
        facts.iter().any(|f| {
            f.name == b
                && f.details
                    .iter()
                    .any(|(k, v)| k == "software" && v == "true")
        })
    })
}

/// Loud flags next to a cell's numbers.
pub(crate) fn flags(r: &Results, c: &Cell) -> String {
    let mut s = String::new();
    if c.emulated {
        s.push_str(r#" <span class="flag emu" title="ran under qemu-user: timings say nothing about the board">EMULATED</span>"#);
    }
    if software_adapter(r, c) {
        s.push_str(r#" <span class="flag sw" title="a software (CPU) GPU adapter such as Mesa lavapipe: not a GPU's timings">SOFTWARE ADAPTER</span>"#);
    }
    s
}

fn label(c: &Cell) -> String {
    format!("{}/{}/{}", c.target, c.backend, c.variant)
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// A stable colour per backend (series names are `target/backend` or a backend), so a backend looks the same in
/// every chart; anything else by hash.
fn color_of(name: &str) -> RGBColor {
    let b = name
        .split(['/', ' '])
        .nth(if name.contains('/') { 1 } else { 0 })
        .unwrap_or(name);
    match b {
        "tract" => PALETTE[0],
        "ort" => PALETTE[2],
        "wonnx" => PALETTE[3],
        "wonnx+tract" => PALETTE[5],
        "wonnx+ort" => PALETTE[6],
        _ if name.starts_with("roof") => PALETTE[1],
        _ => PALETTE[(crate::fnv1a(name.as_bytes()) % PALETTE.len() as u64) as usize],
    }
}

/// A compact tick label: three significant digits at most, no trailing zeros.
pub(crate) fn nice(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.0e}");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let t = format!("{v:.digits$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

/// An axis that is log10 when the values span more than 20x: values are transformed before plotting and labels
/// transformed back, so one code path draws both.
#[derive(Clone, Copy)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn fit(values: impl Iterator<Item = f64>) -> Axis {
        Axis::fit_with(values, false)
    }
    fn fit_with(values: impl Iterator<Item = f64>, force_log: bool) -> Axis {
        let v: Vec<f64> = values.filter(|x| x.is_finite() && *x > 0.0).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        if v.is_empty() {
            return Axis {
                log: false,
                lo: 0.0,
                hi: 1.0,
            };
        }
        let log = force_log || hi / lo > 20.0;
        if log {
            Axis {
                log,
                lo: (lo.log10() - 0.1).floor(),
                hi: (hi.log10() + 0.1).ceil(),
            }
        } else {
            Axis {
                log,
                lo: 0.0,
                hi: hi * 1.08,
            }
        }
    }
    fn t(&self, v: f64) -> f64 {
        if self.log { v.max(1e-30).log10() } else { v }
    }
    fn back(&self, v: f64) -> f64 {
        if self.log { 10f64.powf(v) } else { v }
    }
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart with one horizontal row per label. `draw` gets the chart and the row's y centre is its index.
fn rows_chart(
    labels: &[String],
    axis: Axis,
    x_desc: &str,
    fmt: &dyn Fn(f64) -> String,
    draw: &mut dyn FnMut(&mut Chart<'_, '_>, &DrawingArea<SVGBackend<'_>, Shift>),
) -> String {
    let n = labels.len().max(1);
    let h = 60 + 18 * n as u32;
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10);
    let left = (longest as u32 * 7 + 12).clamp(80, 420);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, h)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let built = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(left)
            .build_cartesian_2d(axis.lo..axis.hi, -0.5f64..(n as f64 - 0.5));
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .x_labels(8)
                .x_desc(x_desc)
                .x_label_formatter(&|v| fmt(axis.back(*v)))
                .label_style(("sans-serif", 12))
                .draw();
            for (i, l) in labels.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(axis.lo, (n - 1 - i) as f64));
                let style = TextStyle::from(("sans-serif", 12).into_font()).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Right,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                let _ = root.draw(&Text::new(l.clone(), (px - 6, py), style));
            }
            draw(&mut chart, &root);
        }
        let _ = root.present();
    }
    inline(svg)
}

/// SVG inside HTML needs no namespace declaration; dropping it leaves no URL of any kind in the page.
fn inline(svg: String) -> String {
    svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
}

/// A cell's latency distribution from its raw samples.
struct Dist {
    min: f64,
    p25: f64,
    p50: f64,
    p75: f64,
    p99: f64,
    max: f64,
}

fn dist(samples: &mut [f64]) -> Dist {
    samples.sort_by(f64::total_cmp);
    let p = |q| edgebench_measure::stats::percentile(samples, q);
    Dist {
        min: samples[0],
        p25: p(25.0),
        p50: p(50.0),
        p75: p(75.0),
        p99: p(99.0),
        max: samples[samples.len() - 1],
    }
}

fn latency_svg(rows: &[(String, String, Dist)]) -> String {
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let axis = Axis::fit(rows.iter().flat_map(|r| [r.2.min, r.2.max]));
    rows_chart(
        &labels,
        axis,
        if axis.log {
            "latency per inference (log axis)"
        } else {
            "latency per inference"
        },
        &fmt_ns,
        &mut |chart, _| {
            let n = rows.len();
            for (i, (_, backend, d)) in rows.iter().enumerate() {
                let y = (n - 1 - i) as f64;
                let c = color_of(backend);
                let t = |v| axis.t(v);
                let _ = chart.draw_series(std::iter::once(PathElement::new(
                    vec![(t(d.min), y), (t(d.max), y)],
                    c.stroke_width(1),
                )));
                let _ = chart.draw_series(std::iter::once(Rectangle::new(
                    [(t(d.p25), y - 0.32), (t(d.p75), y + 0.32)],
                    c.mix(0.35).filled(),
                )));
                let _ = chart.draw_series(std::iter::once(PathElement::new(
                    vec![(t(d.p50), y - 0.4), (t(d.p50), y + 0.4)],
                    BLACK.stroke_width(2),
                )));
                let _ = chart.draw_series(std::iter::once(TriangleMarker::new(
                    (t(d.p99), y),
                    4,
                    RED.filled(),
                )));
            }
        },
    )
}

/// Two bars per row (`a` light, `b` dark), on one axis.
fn pair_bars_svg(rows: &[(String, f64, f64)], x_desc: &str, fmt: &dyn Fn(f64) -> String) -> String {
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut axis = Axis::fit(rows.iter().flat_map(|r| [r.1, r.2]));
    if axis.log {
        axis.lo -= 0.5;
    }
    let base = if axis.log { axis.lo } else { 0.0 };
    let n = rows.len();
    rows_chart(&labels, axis, x_desc, fmt, &mut |chart, _| {
        for (i, (_, a, b)) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            if a.is_finite() && *a > 0.0 {
                let _ = chart.draw_series(std::iter::once(Rectangle::new(
                    [(base, y - 0.38), (axis.t(*a), y)],
                    RGBColor(255, 160, 60).filled(),
                )));
            }
            if b.is_finite() && *b > 0.0 {
                let _ = chart.draw_series(std::iter::once(Rectangle::new(
                    [(base, y), (axis.t(*b), y + 0.38)],
                    RGBColor(31, 119, 180).filled(),
                )));
            }
        }
    })
}

/// A scatter on two (possibly log) axes, points grouped into series; `front` draws each series' Pareto front
/// (lower is better on both axes).
#[allow(clippy::type_complexity)]
pub(crate) fn scatter_svg(
    series: &BTreeMap<String, Vec<(f64, f64, String)>>,
    x_desc: &str,
    y_desc: &str,
    fx: &dyn Fn(f64) -> String,
    fy: &dyn Fn(f64) -> String,
    front: bool,
    x_log: bool,
    y_log: bool,
    lines: &[(String, Vec<(f64, f64)>)],
) -> String {
    let ax = Axis::fit_with(
        series
            .values()
            .flatten()
            .map(|p| p.0)
            .chain(lines.iter().flat_map(|l| l.1.iter().map(|p| p.0))),
        x_log,
    );
    let ay = Axis::fit_with(
        series
            .values()
            .flatten()
            .map(|p| p.1)
            .chain(lines.iter().flat_map(|l| l.1.iter().map(|p| p.1))),
        y_log,
    );
    let ay = if ay.log {
        ay
    } else {
        Axis {
            lo: 0.0,
            hi: ay.hi.max(1.1),
            log: false,
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 420)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let built = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(ax.lo..ax.hi, ay.lo..ay.hi);
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&|v| fx(ax.back(*v)))
                .y_label_formatter(&|v| fy(ay.back(*v)))
                .label_style(("sans-serif", 12))
                .draw();
            for (name, pts) in lines {
                let c = color_of(name);
                let _ = chart
                    .draw_series(std::iter::once(PathElement::new(
                        pts.iter()
                            .map(|p| (ax.t(p.0), ay.t(p.1)))
                            .collect::<Vec<_>>(),
                        c.stroke_width(2),
                    )))
                    .map(|s| {
                        s.label(name.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                        })
                    });
            }
            for (name, pts) in series {
                let c = color_of(name);
                let _ = chart
                    .draw_series(pts.iter().map(|p| {
                        EmptyElement::at((ax.t(p.0), ay.t(p.1)))
                            + Circle::new((0, 0), 4, c.filled())
                            + Text::new(p.2.clone(), (6, -6), ("sans-serif", 11).into_font())
                    }))
                    .map(|s| {
                        s.label(name.clone())
                            .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()))
                    });
                if front {
                    let f = pareto(pts);
                    if f.len() > 1 {
                        let _ = chart.draw_series(std::iter::once(PathElement::new(
                            f.iter().map(|p| (ax.t(p.0), ay.t(p.1))).collect::<Vec<_>>(),
                            c.stroke_width(1),
                        )));
                    }
                }
            }
            let _ = chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .draw();
        }
        let _ = root.present();
    }
    inline(svg)
}

/// The points no other point beats on both coordinates (lower is better), sorted by x.
pub fn pareto(pts: &[(f64, f64, String)]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = pts
        .iter()
        .map(|p| (p.0, p.1))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<(f64, f64)> = vec![];
    for p in v {
        if out.last().is_none_or(|l| p.1 < l.1) {
            out.push(p);
        }
    }
    out
}

/// Drift below this (fp32 itself, exact variants) is drawn at it on the log axis.
const DRIFT_FLOOR: f64 = 1e-9;

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1d2b3a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d4e0}nav{padding:6px 24px;background:#e8ecf1;position:sticky;top:0;z-index:2}
nav a{margin-right:14px;color:#1d4f91;text-decoration:none}main{padding:0 24px 40px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:16px 0;padding:10px 16px}
h2{font-size:17px;margin:6px 0 10px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #dde2e8;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef1f5;cursor:pointer;user-select:none}td.n{text-align:right;font-variant-numeric:tabular-nums}
.flag{display:inline-block;font-size:11px;font-weight:700;padding:0 5px;border-radius:3px;margin-left:3px}
.emu{background:#ffe08a;color:#5a4300;border:1px solid #d4a900}.sw{background:#ffd0e0;color:#7a0030;border:1px solid #d0507a}
.ok{background:#dff3e3}.bad{background:#fbdada}.warn{background:#fff1c9}.split{background:#dfeaf9}.muted{color:#6b7785}
.v-regressed,.v-now-failing,.v-accuracy-regressed{background:#fbdada;font-weight:600}.v-improved{background:#dff3e3}
.v-inconclusive{background:#fff1c9}.v-not-gateable{background:#ece3f7}.trends{display:flex;flex-wrap:wrap;gap:8px}.trend{margin:0;border:1px solid #ddd;padding:4px}.trend figcaption{font-size:12px}.v-cleared{background:#eef2f6}.banner{padding:8px 12px;border-radius:4px;margin:8px 0;font-weight:600}
details summary{cursor:pointer}svg{max-width:100%;height:auto}#filter{margin:8px 0;padding:4px 8px;width:320px}
.legend span{margin-right:12px}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('table.sort th').forEach(function(th){th.addEventListener('click',function(){
var t=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th),b=t.tBodies[0];
var rows=Array.prototype.slice.call(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];var p=parseFloat(a.dataset.v),q=parseFloat(c.dataset.v);
var r=(!isNaN(p)&&!isNaN(q))?p-q:a.textContent.localeCompare(c.textContent);return asc?r:-r;});
rows.forEach(function(r){b.appendChild(r);});});});
var f=document.getElementById('filter');if(f){f.addEventListener('input',function(){var q=f.value.toLowerCase();
document.querySelectorAll('table.filterable tbody tr').forEach(function(r){
r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});}
"#;

pub(crate) fn num(v: Option<f64>, text: impl Fn(f64) -> String) -> String {
    match v {
        Some(x) if x.is_finite() => format!(r#"<td class="n" data-v="{x}">{}</td>"#, esc(&text(x))),
        _ => r#"<td class="n muted" data-v="">-</td>"#.into(),
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time.
pub fn utc(unix: u64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm): no date crate for one header line.
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Renders the page.
pub fn render(p: &Page<'_>) -> String {
    let r = p.results;
    let mut h = String::with_capacity(64 * 1024 + r.cells.len() * 3000);
    let failed: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.outcome != Outcome::Ok)
        .collect();
    let _ = write!(
        h,
        r##"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>edgebench report {id}</title><style>{CSS}</style></head><body>
<header><h1>edgebench report — run {id}</h1><p>{cells} cells · {models} models · {targets} targets · started {started} · edgebench {ver} ({commit}) · from {src}</p></header>
<nav><a href="#run">Run</a><a href="#compat">Compatibility</a><a href="#rewrites">Rewrites</a><a href="#cells">Cells</a><a href="#latency">Latency</a><a href="#cold">Cold start</a><a href="#variants">Variants</a><a href="#memory">Memory &amp; size</a><a href="#energy">Energy</a><a href="#roofline">Roofline</a><a href="#profile">Per-op</a><a href="#gate">Gate</a>{trends}<a href="#failures">Failures ({nf})</a></nav><main>
"##,
        id = esc(&r.run_id),
        cells = r.cells.len(),
        models = r
            .cells
            .iter()
            .map(|c| &c.model)
            .collect::<BTreeSet<_>>()
            .len(),
        targets = r.targets.len(),
        started = utc(r.started_unix),
        ver = esc(&r.edgebench_version),
        commit = esc(&r.git_commit),
        src = esc(&p.source),
        nf = failed.len(),
        trends = if p.trends.is_some() {
            r##"<a href="#trends">Trends</a>"##
        } else {
            ""
        },
    );
    run_section(&mut h, r);
    compat_section(&mut h, r);
    rewrites_section(&mut h, r);
    cells_section(&mut h, r);
    latency_section(&mut h, p);
    cold_section(&mut h, r);
    variants_section(&mut h, r);
    memory_section(&mut h, r);
    energy_section(&mut h, r);
    roofline_section(&mut h, r);
    crate::profile_html::section(&mut h, r);
    gate_section(&mut h, r, p.gate);
    if let Some((trends, source)) = &p.trends {
        let ids: Vec<String> = r
            .cells
            .iter()
            .map(|c| format!("{}/{}/{}/{}", c.target, c.backend, c.model, c.variant))
            .collect();
        crate::trend::section(&mut h, trends, &ids, &r.run_id, source);
    }
    failures_section(&mut h, r, &failed);
    let _ = write!(h, "</main><script>{SCRIPT}</script></body></html>\n");
    h
}

fn run_section(h: &mut String, r: &Results) {
    let m = &r.machine;
    let _ = write!(
        h,
        r#"<section id="run"><h2>Run</h2><table><tbody>
<tr><th>machine</th><td>{cpu} · {lc} logical / {pc} physical cores · {mem} RAM · {os} · kernel {kernel} · {arch} · governor {gov}{emu}</td></tr>
<tr><th>plan</th><td>{plan}{part}{merged}{paired}</td></tr>
<tr><th>settings</th><td>seed {seed} · CI target ±{ci:.1} % of the median · time cap {cap} s per cell · warm-up {wu} s · cell timeout {to} s{threads}</td></tr>
</tbody></table>
<h3>Targets</h3><table class="sort"><thead><tr><th>target</th><th>triple</th><th>runner</th><th>emulated</th><th>compute roof</th><th>bandwidth roof</th><th>roofs</th><th>backends</th></tr></thead><tbody>"#,
        cpu = esc(&m.cpu),
        lc = m.logical_cores,
        pc = m
            .physical_cores
            .map(|c| c.to_string())
            .unwrap_or("?".into()),
        mem = fmt_bytes(m.memory_bytes as f64),
        os = esc(&m.os),
        kernel = esc(&m.kernel),
        arch = esc(&m.arch),
        gov = esc(m.governor.as_deref().unwrap_or("not readable")),
        emu = if m.emulated {
            r#" <span class="flag emu">EMULATED</span>"#
        } else {
            ""
        },
        plan = esc(&r.plan_id),
        paired = r
            .settings
            .paired
            .as_ref()
            .map(|p| {
                let mut changed: Vec<String> = p.b_exe.iter().map(|e| format!("build {e}")).collect();
                changed.extend(p.b_env.iter().cloned());
                changed.extend(p.b_model.iter().map(|m| format!("model {m}")));
                format!(
                    " · <b>interleaved session</b> {}: side {} (the other side: {}; side b changed: {}; turns of {} ms)",
                    esc(&p.session),
                    esc(&p.side),
                    esc(&p.other_run),
                    esc(&if changed.is_empty() { "nothing (A/A)".to_string() } else { changed.join(", ") }),
                    p.turn_ms
                )
            })
            .unwrap_or_default(),
        part = r
            .partition
            .map(|p| format!(" · shard hash:{}/{}", p.index, p.count))
            .unwrap_or_default(),
        merged = if r.merged_from.is_empty() {
            String::new()
        } else {
            format!(" · merged from {}", esc(&r.merged_from.join(", ")))
        },
        seed = r.settings.seed,
        ci = r.settings.target_rel_ci * 100.0,
        cap = r.settings.max_time_s,
        wu = r.settings.warmup_s,
        to = r.settings.cell_timeout_s,
        threads = r
            .settings
            .threads
            .map(|t| format!(" · {t} thread(s) per inference (ONNX Runtime's intra-op pool)"))
            .unwrap_or_default(),
    );
    for t in &r.targets {
        let backends: Vec<String> = t
            .backends
            .iter()
            .map(|b| {
                let details: Vec<String> = b
                    .details
                    .iter()
                    .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
                    .collect();
                let sw = b
                    .details
                    .iter()
                    .any(|(k, v)| k == "software" && v == "true");
                format!(
                    "<b>{}</b> {}{}{}{}",
                    esc(&b.name),
                    esc(b.version.as_deref().unwrap_or("")),
                    if b.available {
                        String::new()
                    } else {
                        format!(
                            r#" <span class="bad">unavailable: {}</span>"#,
                            esc(b.reason.as_deref().unwrap_or("?"))
                        )
                    },
                    if sw {
                        r#" <span class="flag sw">SOFTWARE ADAPTER</span>"#
                    } else {
                        ""
                    },
                    if details.is_empty() {
                        String::new()
                    } else {
                        format!(r#"<br><span class="muted">{}</span>"#, details.join(" · "))
                    }
                )
            })
            .collect();
        let (peak, bw, src, detail) = match &t.roofs {
            Some(x) => (
                format!("{:.1} GFLOP/s", x.peak_gflops),
                format!("{:.1} GB/s", x.mem_bandwidth_gbs),
                x.source.clone(),
                x.detail.clone(),
            ),
            None => ("-".into(), "-".into(), "unknown".into(), String::new()),
        };
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td title="{}">{}</td><td>{}</td></tr>"#,
            esc(&t.name),
            esc(&t.triple),
            esc(&t.runner),
            if t.emulated {
                r#"<span class="flag emu">EMULATED</span> qemu-user: correctness only"#
            } else {
                "no"
            },
            peak,
            bw,
            esc(&detail),
            if src == "measured" {
                "<b>measured</b> here".to_string()
            } else {
                format!(
                    r#"<span class="warn">{}</span> (not measured here)"#,
                    esc(&src)
                )
            },
            backends.join("<br>")
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn compat_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="compat"><h2>Compatibility matrix</h2><p class="muted">Each cell: what happened when the fp32 model ran (runs / runs, outputs differ / split / no, with the reason), and underneath what the support table predicted (runs / partial / no / runs after rewrites). Expand a cell for the blocking nodes.</p>"#);
    let mut cols: Vec<(String, String)> = r
        .cells
        .iter()
        .map(|c| (c.target.clone(), c.backend.clone()))
        .collect();
    cols.sort();
    cols.dedup();
    let mut models: Vec<&String> = r.cells.iter().map(|c| &c.model).collect();
    models.extend(r.compat.iter().map(|c| &c.model));
    models.sort();
    models.dedup();
    let _ = write!(
        h,
        r#"<table class="sort filterable"><thead><tr><th>model</th>"#
    );
    for (t, b) in &cols {
        let _ = write!(h, "<th>{}<br>{}</th>", esc(t), esc(b));
    }
    h.push_str("</tr></thead><tbody>");
    for m in models {
        let _ = write!(h, "<tr><td>{}</td>", esc(m));
        for (t, b) in &cols {
            let cell = r
                .cells
                .iter()
                .find(|c| &c.model == m && &c.target == t && &c.backend == b && c.variant == "fp32")
                .or_else(|| {
                    r.cells
                        .iter()
                        .find(|c| &c.model == m && &c.target == t && &c.backend == b)
                });
            let pred = r.compat.iter().find(|c| &c.model == m && &c.backend == b);
            let (class, text, why) = match cell {
                None => ("muted", "not run".to_string(), String::new()),
                Some(c) => match (&c.outcome, &c.agreement) {
                    (Outcome::Ok, _) if !c.split.is_empty() => {
                        let parts: Vec<String> = c
                            .split
                            .iter()
                            .map(|p| {
                                format!(
                                    "{} {} partitions, {:.0} %",
                                    p.backend,
                                    p.partitions,
                                    p.share * 100.0
                                )
                            })
                            .collect();
                        ("split", "split".to_string(), parts.join("; "))
                    }
                    (Outcome::Ok, Some(a)) if !a.agree => (
                        "warn",
                        "runs, outputs differ".to_string(),
                        format!(
                            "vs {}: max abs {:.3e}, min cosine {:.6}{}",
                            a.reference,
                            a.max_abs_error,
                            a.min_cosine,
                            a.error
                                .as_deref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        ),
                    ),
                    (Outcome::Ok, _) => match c.rewrite.as_ref().filter(|w| w.used) {
                        Some(w) => ("ok", "runs after rewrites".to_string(), rewrite_text(w)),
                        None => ("ok", "runs".to_string(), String::new()),
                    },
                    (o, _) => ("bad", "no".to_string(), outcome_text(o)),
                },
            };
            let flag = cell.map(|c| flags(r, c)).unwrap_or_default();
            let predicted = match pred {
                None => String::new(),
                Some(p) => {
                    let what = match (&p.after_rewrites, p.verdict.as_str()) {
                        (Some(rules), _) => format!("runs after rewrites ({} rules)", rules.len()),
                        (None, "partial") => format!(
                            "partial ({} partitions)",
                            p.partitions.map(|x| x.to_string()).unwrap_or("?".into())
                        ),
                        (None, v) => v.to_string(),
                    };
                    let reasons = if p.blocking.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "<details><summary>{} blocking</summary>{}{}</details>",
                            p.blocking_total,
                            p.blocking
                                .iter()
                                .map(|b| esc(b))
                                .collect::<Vec<_>>()
                                .join("<br>"),
                            if p.blocking_total > p.blocking.len() {
                                "<br>…"
                            } else {
                                ""
                            }
                        )
                    };
                    let placed = p
                        .placement
                        .as_ref()
                        .map(|x| {
                            format!(
                                "; {} {}/{} nodes in {} partition(s)",
                                x.accelerator,
                                x.accelerated,
                                x.accelerated + x.on_runtime_kernels,
                                x.partitions
                            )
                        })
                        .unwrap_or_default();
                    format!(
                        r#"<br><span class="muted">predicted: {}{}</span>{reasons}"#,
                        esc(&what),
                        esc(&placed)
                    )
                }
            };
            let _ = write!(
                h,
                r#"<td class="{class}" title="{}"><b>{}</b>{flag}{}{predicted}</td>"#,
                esc(&why),
                esc(&text),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#"<br><span class="muted">{}</span>"#,
                        esc(&truncate(&why, 160))
                    )
                }
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>\n");
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// `rule, rule, ...; drift vs the original on REF: max abs ..., cosine ...`.
fn rewrite_text(w: &crate::RewriteRecord) -> String {
    let drift = w
        .drift
        .as_ref()
        .map(|d| {
            format!(
                "; vs the original on {}: max abs {:.2e}, max rel {:.2e}, min cosine {:.6}",
                w.reference, d.max_abs_error, d.max_rel_error, d.min_cosine
            )
        })
        .unwrap_or_default();
    format!("{}{drift}", w.summary())
}

fn rewrites_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="rewrites"><h2>Rewrites</h2>"#);
    let with: Vec<_> = r
        .compat
        .iter()
        .filter(|c| c.after_rewrites.is_some())
        .collect();
    if with.is_empty() {
        h.push_str(r#"<p class="muted">No model of this run needs rewrites to run on a backend of the plan (or the plan recorded no predictions).</p>"#);
    } else {
        h.push_str(r#"<p class="muted">The rules <code>edgebench rewrite MODEL --for BACKEND</code> applies, in order, for each model that does not run as it is but is predicted to after them. <code>rewrite</code> verifies each rule numerically on the reference backend and rolls back any that drifts.</p><table class="sort filterable"><thead><tr><th>model</th><th>backend</th><th>before</th><th>rules predicted</th><th>in this run (the fp32 cell)</th></tr></thead><tbody>"#);
        for c in with {
            let ran = r
                .cells
                .iter()
                .filter(|x| x.model == c.model && x.backend == c.backend && x.variant == "fp32")
                .find_map(|x| x.rewrite.as_ref())
                .map(rewrite_text)
                .unwrap_or_else(|| {
                    "ran the original model (bench --no-rewrite, or no cell)".into()
                });
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{} ({} blocking)</td><td>{}</td><td>{}</td></tr>",
                esc(&c.model),
                esc(&c.backend),
                esc(&c.verdict),
                c.blocking_total,
                esc(&c.after_rewrites.clone().unwrap_or_default().join(" → ")),
                esc(&ran)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

fn cells_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="cells"><h2>Cells</h2><input id="filter" placeholder="filter rows of every table (model, backend, target...)"><table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>outcome</th><th>p50</th><th>p90</th><th>p99</th><th>CI of the median</th><th>samples</th><th>stopped by</th><th>throughput /s</th><th>agreement</th></tr></thead><tbody>"#);
    for c in &r.cells {
        let l = c.latency.as_ref();
        let ci = l.map(|s| (s.median_ci95_ns[1] - s.median_ci95_ns[0]) / s.p50_ns);
        let unstable = ci.is_some_and(|w| w > r.settings.target_rel_ci * 1.0001);
        let agree = match &c.agreement {
            None => "-".to_string(),
            Some(a) if a.agree => format!("agrees with {} ({:.1e})", a.reference, a.max_abs_error),
            Some(a) => format!("DIFFERS from {} ({:.1e})", a.reference, a.max_abs_error),
        };
        let _ = write!(
            h,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td>{}{}{}<td class="n{}" data-v="{}">{}</td>{}<td>{}</td>{}<td>{}</td></tr>"#,
            if c.outcome == Outcome::Ok { "" } else { "bad" },
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            esc(&truncate(&outcome_text(&c.outcome), 120)),
            num(l.map(|s| s.p50_ns), fmt_ns),
            num(l.map(|s| s.p90_ns), fmt_ns),
            num(l.map(|s| s.p99_ns), fmt_ns),
            if unstable { " warn" } else { "" },
            ci.unwrap_or(f64::NAN),
            ci.map(|w| format!(
                "±{:.1} %{}",
                w * 50.0,
                if unstable { " UNSTABLE" } else { "" }
            ))
            .unwrap_or("-".into()),
            num(l.map(|s| s.count as f64), |x| format!("{x:.0}")),
            c.stopped_by
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or("-".into()),
            num(l.map(|s| s.throughput_per_s), |x| format!("{x:.1}")),
            esc(&agree)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn by_model(r: &Results) -> BTreeMap<&str, Vec<&Cell>> {
    let mut m: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for c in &r.cells {
        m.entry(c.model.as_str()).or_default().push(c);
    }
    m
}

fn latency_section(h: &mut String, p: &Page<'_>) {
    let r = p.results;
    h.push_str(r#"<section id="latency"><h2>Latency distributions</h2><p class="legend muted"><span>box: p25–p75</span><span>black bar: p50</span><span style="color:#d62728">▲ p99</span><span>line: min–max</span><span>from the raw samples; log axis when a model's cells differ by more than 20×</span></p>"#);
    for (model, cells) in by_model(r) {
        let mut rows = vec![];
        let mut missing = vec![];
        for c in cells {
            if c.outcome != Outcome::Ok {
                missing.push(format!(
                    "{}: {}",
                    label(c),
                    truncate(&outcome_text(&c.outcome), 100)
                ));
                continue;
            }
            match load_samples(p.dir, c) {
                Ok(mut s) => {
                    let mut l = label(c);
                    if c.emulated {
                        l.push_str(" [EMULATED]");
                    }
                    if software_adapter(r, c) {
                        l.push_str(" [SOFTWARE]");
                    }
                    rows.push((l, c.backend.clone(), dist(&mut s)));
                }
                Err(e) => missing.push(format!("{}: samples unreadable: {e}", label(c))),
            }
        }
        let _ = write!(h, "<h3>{}</h3>", esc(model));
        if !rows.is_empty() {
            h.push_str(&latency_svg(&rows));
        }
        for m in missing {
            let _ = write!(h, r#"<div class="bad">✗ {}</div>"#, esc(&m));
        }
    }
    h.push_str("</section>\n");
}

fn cold_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="cold"><h2>Cold start vs steady state</h2><p class="legend muted"><span style="color:#ff8c1a">■ cold start: load + prepare + first inference (a fresh process)</span><span style="color:#1f77b4">■ steady state: median</span></p>"#);
    for (model, cells) in by_model(r) {
        let rows: Vec<(String, f64, f64)> = cells
            .iter()
            .filter_map(|c| {
                let cs = c.cold_start.as_ref()?;
                let l = c.latency.as_ref()?;
                let mut name = label(c);
                if c.emulated {
                    name.push_str(" [EMULATED]");
                }
                Some((name, cs.total_ms * 1e6, l.p50_ns))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(h, "<h3>{}</h3>", esc(model));
        h.push_str(&pair_bars_svg(
            &rows,
            "time (log axis when needed)",
            &fmt_ns,
        ));
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>load</th><th>first inference</th><th>cold total</th><th>steady p50</th><th>cold / steady</th></tr></thead><tbody>"#);
    for c in &r.cells {
        let (Some(cs), Some(l)) = (&c.cold_start, &c.latency) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td>{}{}{}{}{}</tr>",
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            num(Some(cs.load_ms * 1e6), fmt_ns),
            num(Some(cs.first_inference_ms * 1e6), fmt_ns),
            num(Some(cs.total_ms * 1e6), fmt_ns),
            num(Some(l.p50_ns), fmt_ns),
            num(Some(cs.total_ms * 1e6 / l.p50_ns), |x| format!("{x:.1}×"))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn variants_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="variants"><h2>Variants against fp32</h2>"#);
    let vcells: Vec<&Cell> = r.cells.iter().filter(|c| c.delta.is_some()).collect();
    if vcells.is_empty() && r.variants.is_empty() {
        h.push_str(r#"<p class="muted">This run has fp32 only (<code>bench --variants fp16,int8-static,...</code> adds variants).</p></section>"#);
        return;
    }
    h.push_str(r#"<p class="muted">Latency ratio (variant / fp32 median of the same target × backend × model) against accuracy drift (1 − the lowest cosine similarity of any output against fp32 over the evaluation feeds, on the reference backend). Lower is better on both; the line joins each series' Pareto front.</p>"#);
    let mut per_model: BTreeMap<&str, BTreeMap<String, Vec<(f64, f64, String)>>> = BTreeMap::new();
    for c in &vcells {
        let Some(d) = &c.delta else { continue };
        let Some(lr) = d.latency_ratio else { continue };
        let cos = d.drift.iter().map(|x| x.min_cosine).fold(1.0, f64::min);
        let drift = (1.0 - cos).max(DRIFT_FLOOR);
        let series = format!(
            "{}/{}{}",
            c.target,
            c.backend,
            if c.emulated { " [EMULATED]" } else { "" }
        );
        per_model
            .entry(c.model.as_str())
            .or_default()
            .entry(series)
            .or_default()
            .push((drift, lr, c.variant.clone()));
    }
    for series in per_model.values_mut() {
        for pts in series.values_mut() {
            // fp32 itself: no drift, ratio 1 (the reference every other point is measured against).
            pts.push((DRIFT_FLOOR, 1.0, "fp32".into()));
        }
    }
    for (model, series) in &per_model {
        let _ = write!(h, "<h3>{}</h3>", esc(model));
        h.push_str(&scatter_svg(
            series,
            "drift: 1 − min cosine vs fp32 (log; ≤ 1e-9 drawn at 1e-9)",
            "latency ratio to fp32",
            &|x| format!("{x:.0e}"),
            &|y| format!("{y:.2}"),
            true,
            true,
            false,
            &[],
        ));
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>model</th><th>variant</th><th>size</th><th>size ratio</th><th>min cosine</th><th>max abs</th><th>top-1 agreement</th><th>fp32 top-1 margin p50</th><th>feeds</th><th>predicted per backend</th></tr></thead><tbody>"#);
    for v in &r.variants {
        let cos = v.drift.iter().map(|x| x.min_cosine).fold(1.0, f64::min);
        let abs = v.drift.iter().map(|x| x.max_abs_error).fold(0.0, f64::max);
        let top1 = v
            .drift
            .iter()
            .filter_map(|x| x.top1_agreement)
            .fold(f64::NAN, f64::min);
        let margin = v
            .drift
            .iter()
            .filter_map(|x| x.fp32_margin_p50)
            .fold(f64::NAN, f64::min);
        let verdicts: Vec<String> = v
            .verdicts
            .iter()
            .map(|(b, x)| format!("{b}: {x}"))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>{}{}{}{}{}{}<td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&v.model),
            esc(&v.kind),
            num(Some(v.bytes as f64), fmt_bytes),
            num(Some(v.size_ratio), |x| format!("{x:.2}")),
            num(Some(cos), |x| format!("{x:.6}")),
            num(Some(abs), |x| format!("{x:.2e}")),
            num(Some(top1 * 100.0), |x| format!("{x:.2} %")),
            num(Some(margin), |x| format!("{x:.3}")),
            v.eval_feeds,
            esc(&verdicts.join(", "))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn memory_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="memory"><h2>Memory and size</h2><p class="muted">Peak RSS of the cell's own process (VmHWM), the memory the model added after load and first inference, and for variants the ratios to fp32.</p><table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>peak RSS</th><th>added by the model</th><th>peak ratio</th><th>size ratio</th><th>latency ratio</th><th>energy ratio</th></tr></thead><tbody>"#);
    for c in &r.cells {
        let Some(m) = &c.memory else { continue };
        let d = c.delta.as_ref();
        let ratio = |x: f64| format!("{x:.2}×");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td>{}{}{}{}{}{}</tr>",
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            num(Some(m.peak_rss_bytes as f64), fmt_bytes),
            num(Some(m.model_added_bytes as f64), fmt_bytes),
            num(d.and_then(|d| d.peak_memory_ratio), ratio),
            num(d.and_then(|d| d.size_ratio), ratio),
            num(d.and_then(|d| d.latency_ratio), ratio),
            num(d.and_then(|d| d.energy_ratio), ratio),
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn energy_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="energy"><h2>Energy per inference</h2><p class="muted">"measured" is a hardware sensor (RAPL, hwmon rails); "estimated" is the target's power model (idle + active watts per core × CPU time), labelled on every row.</p>"#);
    for (model, cells) in by_model(r) {
        let rows: Vec<(String, f64, f64)> = cells
            .iter()
            .filter_map(|c| {
                let e = c.energy.as_ref()?;
                let kind = match &e.source {
                    Source::Measured { .. } => "measured",
                    Source::Estimated { .. } => "ESTIMATED",
                };
                Some((
                    format!(
                        "{} ({kind}){}",
                        label(c),
                        if c.emulated { " [EMULATED]" } else { "" }
                    ),
                    f64::NAN,
                    e.joules_per_inference * 1e3,
                ))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(h, "<h3>{}</h3>", esc(model));
        h.push_str(&pair_bars_svg(&rows, "mJ per inference", &|x| {
            format!("{x:.3}")
        }));
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>mJ / inference</th><th>average W</th><th>source</th></tr></thead><tbody>"#);
    for c in &r.cells {
        let Some(e) = &c.energy else { continue };
        let src = match &e.source {
            Source::Measured { sensor } => format!("measured: {sensor}"),
            Source::Estimated { model } => format!("estimated: {model}"),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td>{}{}<td>{}</td></tr>",
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            num(Some(e.joules_per_inference * 1e3), |x| format!("{x:.4}")),
            num(Some(e.average_watts), |x| format!("{x:.1}")),
            esc(&truncate(&src, 120))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn roofline_section(h: &mut String, r: &Results) {
    h.push_str(r#"<section id="roofline"><h2>Roofline</h2><p class="muted">Achieved GFLOP/s (model FLOPs / median latency) against arithmetic intensity (FLOPs per byte of the model file: weights only, a lower bound), with each target's roofs min(compute peak, bandwidth × intensity). Roofs are labelled measured (FMA kernel and triad where the run happened) or nominal (targets.toml).</p>"#);
    let mut series: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for c in &r.cells {
        let Some(rf) = &c.roofline else { continue };
        let Some(bytes) = rf.model_bytes.filter(|b| *b > 0) else {
            continue;
        };
        let intensity = rf.model_flops as f64 / bytes as f64;
        let name = format!(
            "{}/{}{}",
            c.target,
            c.backend,
            if c.emulated { " [EMULATED]" } else { "" }
        );
        series.entry(name).or_default().push((
            intensity,
            rf.achieved_gflops,
            format!("{} {}", c.model, c.variant),
        ));
    }
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for p in series.values().flatten() {
        lo = lo.min(p.0);
        hi = hi.max(p.0);
    }
    let mut lines = vec![];
    if lo.is_finite() {
        let (lo, hi) = (lo / 4.0, hi * 4.0);
        for t in &r.targets {
            let Some(rf) = &t.roofs else { continue };
            if !r
                .cells
                .iter()
                .any(|c| c.target == t.name && c.roofline.is_some())
            {
                continue;
            }
            lines.push(roof_line(&t.name, rf, lo, hi));
        }
    }
    if series.is_empty() {
        h.push_str(r#"<p class="muted">No cell has both FLOPs and a model size (FLOPs are unknown where shapes could not be inferred).</p>"#);
    } else {
        h.push_str(&scatter_svg(
            &series,
            "FLOPs per byte of the model file (log)",
            "achieved GFLOP/s (log)",
            &nice,
            &nice,
            false,
            true,
            true,
            &lines,
        ));
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>MFLOP / inference</th><th>achieved GFLOP/s</th><th>peak GFLOP/s</th><th>share of peak</th><th>roofs</th></tr></thead><tbody>"#);
    for c in &r.cells {
        let Some(rf) = &c.roofline else { continue };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td>{}{}{}{}<td>{}</td></tr>",
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            num(Some(rf.model_flops as f64 / 1e6), nice),
            num(Some(rf.achieved_gflops), |x| format!("{x:.2}")),
            num(Some(rf.peak_gflops), |x| format!("{x:.1}")),
            num(Some(rf.share_of_peak * 100.0), |x| format!("{x:.1} %")),
            esc(rf.roof_source.as_deref().unwrap_or("nominal"))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

/// A target's roofline, min(peak, bandwidth x intensity), over intensities `lo..hi` (with the knee when inside).
pub(crate) fn roof_line(
    target: &str,
    rf: &crate::Roofs,
    lo: f64,
    hi: f64,
) -> (String, Vec<(f64, f64)>) {
    let knee = rf.peak_gflops / rf.mem_bandwidth_gbs;
    let mut pts = vec![(lo, (rf.mem_bandwidth_gbs * lo).min(rf.peak_gflops))];
    if knee > lo && knee < hi {
        pts.push((knee, rf.peak_gflops));
    }
    pts.push((hi, (rf.mem_bandwidth_gbs * hi).min(rf.peak_gflops)));
    (format!("roof {target} ({})", rf.source), pts)
}

fn gate_section(h: &mut String, r: &Results, gate: Option<&Gate>) {
    h.push_str(r#"<section id="gate"><h2>Regression gate</h2>"#);
    let Some(g) = gate else {
        h.push_str(r#"<p class="muted">No baseline given: <code>edgebench report RUN --baseline BASELINE.json</code> adds the gate's verdict per cell.</p></section>"#);
        return;
    };
    let _ = write!(
        h,
        r#"<div class="banner {}">{} — {} of {} cells fail the gate (baseline {}, threshold {:.1} %, bootstrap {} draws, seed {})</div><p>{}</p>"#,
        if g.failures > 0 { "bad" } else { "ok" },
        if g.failures > 0 {
            "REGRESSION"
        } else {
            "no regression"
        },
        g.failures,
        g.cells.len(),
        esc(&g.baseline_run),
        g.options.threshold * 100.0,
        g.options.resamples,
        g.options.seed,
        g.counts
            .iter()
            .map(|(k, v)| format!("{}: {v}", esc(k)))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    for w in &g.warnings {
        let _ = write!(h, r#"<p class="banner warn">warning: {}</p>"#, esc(w));
    }
    if g.interleaved {
        h.push_str("<p>The two runs are the sides of one interleaved session (<code>bench --ab</code>): timed cells are compared turn by turn.</p>");
    }
    if let Some(st) = &g.confirmation {
        let _ = write!(
            h,
            "<p><b>Confirmation</b> (session <code>{}</code>): the {} flagged cell(s) were measured again by fresh children and judged at {:.2} % each (the gate's error shared among them): <b>{} confirmed</b>, {} cleared. Only confirmed verdicts fail the gate.</p>",
            esc(&st.session),
            st.cells,
            st.confidence * 100.0,
            st.confirmed,
            st.cleared
        );
    }
    if g.cells
        .iter()
        .any(|c| c.verdict == crate::gate::Verdict::NotGateable)
    {
        h.push_str("<p class=\"warn\">Cells <b>not gateable</b> on this machine: a side's two children kept speeds of their own for the whole session, further apart than the threshold, so a change of that size cannot be told from which child ran; they neither fail nor pass the gate (docs/gate.md).</p>");
    }
    if g.single_process_cells > 0 {
        let _ = write!(
            h,
            r#"<p class="warn">{} timed cells were measured in one process on a side: how much this machine's speed differs between processes is invisible to the gate (<code>bench --processes 5</code>).</p>"#,
            g.single_process_cells
        );
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>verdict</th><th>model</th><th>target</th><th>backend</th><th>variant</th><th>baseline p50</th><th>candidate p50</th><th>ratio</th><th>95 % interval</th><th>limit</th><th>why</th></tr></thead><tbody>"#);
    for c in &g.cells {
        let cls = format!("v-{}", c.verdict.name().replace(' ', "-"));
        let emu = r.cells.iter().any(|x| x.target == c.target && x.emulated);
        let _ = write!(
            h,
            r#"<tr><td class="{cls}">{}{}{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td>{}{}{}<td class="n">{}</td>{}<td>{}</td></tr>"#,
            esc(c.verdict.name()),
            if c.unstable.is_empty() {
                String::new()
            } else {
                format!(
                    r#" <span class="flag emu">UNSTABLE: {}</span>"#,
                    esc(&c.unstable.join(", "))
                )
            },
            match &c.confirmation {
                Some(cf) if c.verdict.fails() => format!(
                    r#" <span class="flag">CONFIRMED</span> <span class="muted">(again {})</span>"#,
                    esc(cf.verdict.name())
                ),
                Some(cf) => format!(
                    r#" <span class="muted">(flagged {})</span>"#,
                    esc(cf.flagged.name())
                ),
                None => String::new(),
            },
            esc(&c.model),
            esc(&c.target),
            if emu {
                r#" <span class="flag emu">EMULATED</span>"#
            } else {
                ""
            },
            esc(&c.backend),
            esc(&c.variant),
            num(c.baseline_p50_ns, fmt_ns),
            num(c.candidate_p50_ns, fmt_ns),
            num(c.ratio, |x| format!("{x:.3}")),
            c.ratio_ci
                .map(|x| format!("{:.3} – {:.3}", x[0], x[1]))
                .unwrap_or("-".into()),
            num(c.limit, |x| format!("±{:.1} %", x * 100.0)),
            esc(&c.reason)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn failures_section(h: &mut String, r: &Results, failed: &[&Cell]) {
    let _ = write!(
        h,
        r#"<section id="failures"><h2>Failed, crashed and timed-out cells ({})</h2>"#,
        failed.len()
    );
    if failed.is_empty() {
        h.push_str(r#"<p class="muted">Every cell ran.</p></section>"#);
        return;
    }
    h.push_str(r#"<table class="sort filterable"><thead><tr><th>model</th><th>target</th><th>backend</th><th>variant</th><th>outcome</th></tr></thead><tbody>"#);
    for c in failed {
        let _ = write!(
            h,
            r#"<tr class="bad"><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&c.model),
            esc(&c.target),
            esc(&c.backend),
            flags(r, c),
            esc(&c.variant),
            esc(&outcome_text(&c.outcome))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_keeps_only_undominated_points() {
        let pts = vec![
            (1.0, 5.0, "a".into()),
            (2.0, 3.0, "b".into()),
            (3.0, 4.0, "c".into()),
            (4.0, 1.0, "d".into()),
        ];
        assert_eq!(pareto(&pts), vec![(1.0, 5.0), (2.0, 3.0), (4.0, 1.0)]);
    }

    #[test]
    fn escaping_and_dates() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_764_614_400), "2025-12-01 18:40:00 UTC");
    }
}
