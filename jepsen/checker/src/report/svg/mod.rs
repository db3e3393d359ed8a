//! The timeline: one point per answered operation (x: seconds since the
//! start of the run at its invocation; y: its latency, log scale), coloured
//! by `f`, filled for `ok`, hollow for `info`, a cross for `fail`. Nemesis
//! windows are translucent bands, one labelled lane per nemesis name above
//! the plot; the events of violations are red vertical marks.

mod scale;
mod text;

use crate::history::{Event, Request};
use crate::nemesis::{self, NemesisWindow};
use crate::ops::{pair, End, Op};
use crate::verdict::CheckReport;
use scale::{LatencyAxis, TimeAxis};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use text::{esc, shorten};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const TITLE: f64 = 34.0;
const LANE: f64 = 18.0;
const PLOT: f64 = 420.0;
const BELOW: f64 = 80.0;

/// Colours by `f`, in `Request::FS` order.
const COLOURS: [&str; 5] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];
/// Colours of nemesis lanes, cycled.
const LANE_COLOURS: [&str; 6] = [
    "#d62728", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#ff9896",
];

/// The timeline as a standalone SVG document.
pub fn timeline_svg(events: &[Event], report: &CheckReport) -> String {
    let ops = pair(events).ops;
    let (windows, _) = nemesis::windows(events);
    let lanes: Vec<&str> = windows
        .iter()
        .map(|w| w.name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let end_ns = events.iter().map(|e| e.time_ns).max().unwrap_or(0);
    let plot_top = TITLE + LANE * lanes.len() as f64 + 8.0;
    let height = plot_top + PLOT + BELOW;
    let time = TimeAxis {
        max_s: (end_ns as f64 / 1e9).max(1e-3),
        left: LEFT,
        width: WIDTH - LEFT - RIGHT,
    };
    let latencies = ops.iter().filter_map(latency_ms);
    let latency = LatencyAxis::fitting(latencies, plot_top, PLOT);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    svg.push('\n');
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let verdict = if report.is_valid() {
        "VALID"
    } else {
        "INVALID"
    };
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">idem chaos run: {} operations, {} violations, {verdict}</text>"#,
        report.ops,
        report.violations.len()
    );
    draw_nemeses(&mut svg, &windows, &lanes, &time, plot_top, end_ns);
    draw_axes(&mut svg, &time, &latency, plot_top);
    draw_ops(&mut svg, &ops, &time, &latency);
    draw_violations(&mut svg, events, report, &time, plot_top);
    draw_legend(&mut svg, plot_top + PLOT + 60.0);
    svg.push_str("</svg>\n");
    svg
}

/// Latency of an answered operation, in ms.
fn latency_ms(op: &Op) -> Option<f64> {
    let end = op.end_at()?;
    Some(end.time_ns.saturating_sub(op.invoke.time_ns) as f64 / 1e6)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn colour_of(f: &str) -> &'static str {
    Request::FS
        .iter()
        .position(|x| *x == f)
        .map_or("#000000", |i| COLOURS[i])
}

fn draw_nemeses(
    svg: &mut String,
    windows: &[NemesisWindow],
    lanes: &[&str],
    time: &TimeAxis,
    plot_top: f64,
    end_ns: u64,
) {
    for (i, name) in lanes.iter().enumerate() {
        let y = TITLE + LANE * i as f64;
        let colour = LANE_COLOURS[i % LANE_COLOURS.len()];
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{colour}">{}</text>"#,
            LEFT - 6.0,
            y + 12.0,
            esc(&shorten(name, 14))
        );
        for w in windows.iter().filter(|w| w.name == *name) {
            let x0 = time.x(secs(w.start.time_ns));
            let x1 = time
                .x(secs(w.stop.map_or(end_ns, |s| s.time_ns)))
                .max(x0 + 1.0);
            let title = esc(format!("{} {}", w.name, w.detail).trim_end());
            let _ = writeln!(
                svg,
                r#"<g><title>{title}</title><rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.35"/><rect x="{x0:.1}" y="{plot_top:.1}" width="{:.1}" height="{PLOT}" fill="{colour}" fill-opacity="0.08"/></g>"#,
                y + 1.0,
                x1 - x0,
                LANE - 2.0,
                x1 - x0
            );
            if x1 - x0 > 7.0 * name.chars().count() as f64 {
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" fill="black">{}</text>"#,
                    x0 + 3.0,
                    y + 12.0,
                    esc(name)
                );
            }
        }
    }
}

fn draw_axes(svg: &mut String, time: &TimeAxis, latency: &LatencyAxis, plot_top: f64) {
    let bottom = plot_top + PLOT;
    let right = time.left + time.width;
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{plot_top:.1}" width="{:.1}" height="{PLOT}" fill="none" stroke="#444"/>"##,
        time.width
    );
    for t in time.ticks() {
        let x = time.x(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 5.0,
            bottom + 17.0,
            trim_number(t)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the start of the run (at invocation)</text>"#,
        time.left + time.width / 2.0,
        bottom + 32.0
    );
    for (ms, label) in latency.ticks() {
        let y = latency.y(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#ddd"/><line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 5.0,
            LEFT - 8.0,
            y + 4.0,
            esc(&label)
        );
    }
    let mid = plot_top + PLOT / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="14" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 14 {mid:.1})">latency (log scale)</text>"#
    );
}

fn trim_number(t: f64) -> String {
    let s = format!("{t:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn draw_ops(svg: &mut String, ops: &[Op], time: &TimeAxis, latency: &LatencyAxis) {
    for op in ops {
        let Some(ms) = latency_ms(op) else { continue };
        let x = time.x(secs(op.invoke.time_ns));
        let y = latency.y(ms);
        let c = colour_of(op.request.f());
        let _ = match &op.end {
            End::Ok { .. } => {
                writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="{c}"/>"#)
            }
            End::Info { .. } => writeln!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="none" stroke="{c}" stroke-width="1.2"/>"#
            ),
            End::Fail { .. } => writeln!(svg, "{}", cross(x, y, c)),
            End::Open => Ok(()),
        };
    }
}

fn cross(x: f64, y: f64, colour: &str) -> String {
    format!(
        r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{colour}" stroke-width="1.2"/>"#,
        x - 3.0,
        y - 3.0,
        x + 3.0,
        y + 3.0,
        x - 3.0,
        y + 3.0,
        x + 3.0,
        y - 3.0
    )
}

fn draw_violations(
    svg: &mut String,
    events: &[Event],
    report: &CheckReport,
    time: &TimeAxis,
    plot_top: f64,
) {
    let at: HashMap<u64, u64> = events.iter().map(|e| (e.index, e.time_ns)).collect();
    // x (rounded to a pixel) -> the checks seen there
    let mut marks: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    for v in &report.violations {
        for t in v.events.iter().filter_map(|i| at.get(i)) {
            let x = time.x(secs(*t)).round() as i64;
            marks.entry(x).or_default().insert(v.check.as_str());
        }
    }
    for (x, checks) in marks {
        let names: Vec<&str> = checks.into_iter().collect();
        let _ = writeln!(
            svg,
            r##"<g><title>violation: {}</title><line x1="{x}" y1="{plot_top:.1}" x2="{x}" y2="{:.1}" stroke="#e00000" stroke-width="1.5" stroke-opacity="0.7"/><path d="M{} {plot_top:.1}l4 -7h-8z" fill="#e00000"/></g>"##,
            esc(&names.join(", ")),
            plot_top + PLOT,
            x
        );
    }
}

fn draw_legend(svg: &mut String, y: f64) {
    let mut x = LEFT;
    for (f, c) in Request::FS.iter().zip(COLOURS) {
        let _ = writeln!(
            svg,
            r#"<circle cx="{x:.1}" cy="{:.1}" r="4" fill="{c}"/><text x="{:.1}" y="{y:.1}">{f}</text>"#,
            y - 4.0,
            x + 8.0
        );
        x += 90.0;
    }
    x += 20.0;
    let _ = writeln!(
        svg,
        r##"<circle cx="{x:.1}" cy="{:.1}" r="2" fill="#444"/><text x="{:.1}" y="{y:.1}">ok</text>"##,
        y - 4.0,
        x + 8.0
    );
    x += 50.0;
    let _ = writeln!(
        svg,
        r##"<circle cx="{x:.1}" cy="{:.1}" r="3.5" fill="none" stroke="#444"/><text x="{:.1}" y="{y:.1}">info</text>"##,
        y - 4.0,
        x + 8.0
    );
    x += 55.0;
    let _ = writeln!(
        svg,
        "{}<text x=\"{:.1}\" y=\"{y:.1}\">fail</text>",
        cross(x, y - 4.0, "#444"),
        x + 8.0
    );
    x += 55.0;
    let _ = writeln!(
        svg,
        r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e00000" stroke-width="1.5"/><text x="{:.1}" y="{y:.1}">violation event</text>"##,
        y - 11.0,
        y + 2.0,
        x + 8.0
    );
    x += 120.0;
    let _ = writeln!(
        svg,
        r##"<rect x="{x:.1}" y="{:.1}" width="14" height="10" fill="#d62728" fill-opacity="0.35"/><text x="{:.1}" y="{y:.1}">nemesis window</text>"##,
        y - 9.0,
        x + 20.0
    );
}

#[cfg(test)]
mod tests;
