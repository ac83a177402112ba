//! The self-contained HTML report: inline SVG charts (no scripts, no network), readable in any
//! browser offline; it links to the run's replay (the dashboard's views) when there is one. Charts: latency percentile curves (HdrHistogram style, x = percentile on a
//! log scale of 1/(1−p)), replication lag per link against the configured latency, visibility
//! lag, and conflict / lost-write rates measured against the model.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::summary as report;
use crate::load::LoadResult;

const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series of a percentile chart: (label, points of (percentile in [0,1), value ms)).
pub type Series = (String, Vec<(f64, f64)>);

/// Points of a latency percentile curve from a µs histogram.
pub fn percentile_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    [
        0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999,
    ]
    .iter()
    .filter(|q| h.len() as f64 * (1.0 - **q) >= 1.0 || **q == 0.0)
    .map(|q| (*q, h.value_at_quantile(*q) as f64 / 1000.0))
    .collect()
}

/// A percentile line chart (x: log10(1/(1−p)), labelled 0%, 90%, 99%, ...).
pub fn percentile_chart(title: &str, series: &[Series]) -> String {
    let (w, h, ml, mr, mt, mb) = (720.0, 320.0, 60.0, 200.0, 30.0, 40.0);
    let x_of = |q: f64| (1.0 / (1.0 - q)).log10();
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(q, _)| x_of(*q)))
        .fold(2.0, f64::max)
        .ceil();
    let y_max = nice(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(_, v)| *v))
            .fold(0.0, f64::max),
    );
    let px = |x: f64| ml + (w - ml - mr) * x / x_max;
    let py = |y: f64| h - mb - (h - mt - mb) * y / y_max;
    let mut s = svg_open(w, h, title);
    for i in 0..=(x_max as usize) {
        let x = px(i as f64);
        let label = match i {
            0 => "0%".to_owned(),
            n => format!("{}%", 100.0 - 100.0 / 10f64.powi(n as i32)),
        };
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#ddd"/><text x="{x}" y="{}" font-size="11" text-anchor="middle">{label}</text>"##,
            mt,
            h - mb,
            h - mb + 15.0
        );
    }
    axis_y(&mut s, y_max, &py, ml, w - mr, "ms");
    for (i, (label, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(q, v)| format!("{:.1},{:.1}", px(x_of(*q)), py(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        legend(&mut s, w - mr + 10.0, mt + 16.0 * i as f64, color, label);
    }
    s.push_str("</svg>");
    s
}

/// Grouped horizontal-axis bar chart: categories × named bars.
pub fn bar_chart(
    title: &str,
    unit: &str,
    categories: &[String],
    bars: &[(String, Vec<f64>)],
) -> String {
    let (w, h, ml, mr, mt, mb) = (720.0, 330.0, 60.0, 200.0, 30.0, 100.0);
    let y_max = nice(
        bars.iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max),
    );
    let py = |y: f64| h - mb - (h - mt - mb) * y / y_max;
    let mut s = svg_open(w, h, title);
    axis_y(&mut s, y_max, &py, ml, w - mr, unit);
    let slot = (w - ml - mr) / categories.len().max(1) as f64;
    let bw = (slot * 0.8) / bars.len().max(1) as f64;
    for (ci, cat) in categories.iter().enumerate() {
        let x0 = ml + slot * ci as f64 + slot * 0.1;
        for (bi, (_, values)) in bars.iter().enumerate() {
            let v = values.get(ci).copied().unwrap_or(0.0);
            let (x, y) = (x0 + bw * bi as f64, py(v));
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.3} {unit}</title></rect>"#,
                bw * 0.95,
                (h - mb - y).max(0.0),
                COLORS[bi % COLORS.len()],
                esc(cat)
            );
        }
        let (lx, ly) = (x0 + slot * 0.3, h - mb + 14.0);
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly}" font-size="11" text-anchor="start" transform="rotate(30 {lx:.1} {ly})">{}</text>"#,
            esc(cat)
        );
    }
    for (i, (label, _)) in bars.iter().enumerate() {
        legend(
            &mut s,
            w - mr + 10.0,
            mt + 16.0 * i as f64,
            COLORS[i % COLORS.len()],
            label,
        );
    }
    s.push_str("</svg>");
    s
}

/// A time-series line chart: x in seconds, one line per named series of (x, y) points.
pub fn line_chart(title: &str, unit: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let (w, h, ml, mr, mt, mb) = (720.0, 320.0, 60.0, 200.0, 30.0, 40.0);
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(1.0, f64::max);
    let y_max = nice(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
            .fold(0.0, f64::max),
    );
    let px = |x: f64| ml + (w - ml - mr) * x / x_max;
    let py = |y: f64| h - mb - (h - mt - mb) * y / y_max;
    let mut s = svg_open(w, h, title);
    axis_y(&mut s, y_max, &py, ml, w - mr, unit);
    for i in 0..=4 {
        let x = x_max * i as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{} s</text>"#,
            px(x),
            h - mb + 16.0,
            trim(x)
        );
    }
    for (i, (label, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            esc(label)
        );
        legend(&mut s, w - mr + 10.0, mt + 16.0 * i as f64, color, label);
    }
    s.push_str("</svg>");
    s
}

fn svg_open(w: f64, h: f64, title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" class="chart"><text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    )
}

fn axis_y(s: &mut String, y_max: f64, py: &dyn Fn(f64) -> f64, x0: f64, x1: f64, unit: &str) {
    for i in 0..=4 {
        let v = y_max * i as f64 / 4.0;
        let y = py(v);
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{} {unit}</text>"##,
            x0 - 4.0,
            y + 4.0,
            trim(v)
        );
    }
}

fn legend(s: &mut String, x: f64, y: f64, color: &str, label: &str) {
    let _ = write!(
        s,
        r#"<rect x="{x}" y="{}" width="12" height="4" fill="{color}"/><text x="{}" y="{y}" font-size="11">{}</text>"#,
        y - 4.0,
        x + 16.0,
        esc(label)
    );
}

fn trim(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A round upper bound for an axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * mag)
}

/// A whole HTML page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}}table{{border-collapse:collapse;margin:8px 0 16px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f4f4f4}}td:first-child,th:first-child{{text-align:left}}.chart{{display:block;margin:12px 0;border:1px solid #eee}}.ok{{color:#2ca02c;font-weight:bold}}.bad{{color:#d62728;font-weight:bold}}pre{{background:#f8f8f8;padding:8px;overflow-x:auto}}</style>
</head><body>{body}</body></html>"#,
        esc(title)
    )
}

/// A paragraph linking to the replay of the run (the dashboard's views, drawn from the run's
/// time series), when there is one.
pub fn replay_link(href: Option<&str>) -> String {
    match href {
        Some(h) => format!(
            r#"<p><a href="{}">Replay this run in the dashboard's views</a>: topology, charts over time, conflict feed and failovers, update by update (a page of its own; it runs a script, this report does not).</p>"#,
            esc(h)
        ),
        None => String::new(),
    }
}

/// The HTML report of one load run; `replay`: the address of its replay page, if any.
pub fn load_report(r: &LoadResult, replay: Option<&str>) -> String {
    let mut b = format!("<h1>Meridian load report — {}</h1>", esc(r.mode.name()));
    b += &replay_link(replay);
    let _ = write!(b, "<pre>{}</pre>", esc(&report::summary(r)));
    b += &load_charts(r, "");
    page("Meridian load report", &b)
}

/// The charts of one run (titles prefixed with `label`).
pub fn load_charts(r: &LoadResult, label: &str) -> String {
    let mut b = String::new();
    let series: Vec<Series> = r
        .latency
        .iter()
        .map(|((region, op), h)| (format!("{region} {op}"), percentile_points(h)))
        .collect();
    b += &percentile_chart(
        &format!("{label}Latency by percentile (region × operation)"),
        &series,
    );
    let mut pairs = Vec::new();
    let (mut configured, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for n in &r.nodes {
        for l in &n.links {
            let lag = l.lag.unwrap_or_default();
            if lag.count == 0 {
                continue;
            }
            let pair = format!("{}>{}", l.origin, n.region);
            configured.push(r.link_latency_ms.get(&pair).copied().unwrap_or(0.0));
            p50.push(lag.p50);
            p99.push(lag.p99);
            pairs.push(pair);
        }
    }
    if !pairs.is_empty() {
        b += &bar_chart(
            &format!("{label}Replication lag per link"),
            "ms",
            &pairs,
            &[
                ("configured".into(), configured),
                ("observed p50".into(), p50),
                ("observed p99".into(), p99),
            ],
        );
    }
    if !r.visibility.is_empty() {
        let cats: Vec<String> = r.visibility.keys().cloned().collect();
        let v50 = r
            .visibility
            .values()
            .map(|h| h.value_at_quantile(0.5) as f64 / 1000.0)
            .collect();
        let v99 = r
            .visibility
            .values()
            .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0)
            .collect();
        b += &bar_chart(
            &format!("{label}Visibility lag (write in one region → readable in another)"),
            "ms",
            &cats,
            &[("p50".into(), v50), ("p99".into(), v99)],
        );
    }
    let k = &r.checker;
    b += &bar_chart(
        &format!("{label}Conflicts and lost writes: measured vs model"),
        "%",
        &["conflict rate".into(), "lost-write rate".into()],
        &[
            (
                "measured".into(),
                vec![k.conflict_rate * 100.0, k.lost_write_rate * 100.0],
            ),
            (
                "predicted".into(),
                vec![
                    r.predicted_conflict_rate * 100.0,
                    r.predicted_lost_rate * 100.0,
                ],
            ),
        ],
    );
    if !k.conflicts_by_pair.is_empty() {
        let cats: Vec<String> = k.conflicts_by_pair.keys().cloned().collect();
        b += &bar_chart(
            &format!("{label}Conflicts per region pair (winner>loser)"),
            "",
            &cats,
            &[(
                "conflicts".into(),
                k.conflicts_by_pair.values().map(|v| *v as f64).collect(),
            )],
        );
    }
    b += &super::strong::charts(r, label);
    let verdict = if k.ok {
        r#"<p class="ok">checker: OK</p>"#.to_owned()
    } else {
        format!(
            r#"<p class="bad">checker: FAILED {}</p>"#,
            esc(&format!("{:?}", k.violation_counts))
        )
    };
    b += &verdict;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_a_line_per_series_and_escape_labels() {
        let mut h = crate::load::histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let svg = percentile_chart("t", &[("a<b".into(), percentile_points(&h))]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("a&lt;b"));
        let bars = bar_chart(
            "b",
            "ms",
            &["x".into(), "y".into()],
            &[("s".into(), vec![1.0, 2.0])],
        );
        assert_eq!(
            bars.matches("<rect").count(),
            3,
            "two bars and a legend swatch"
        );
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(0.0), 1.0);
    }
}
