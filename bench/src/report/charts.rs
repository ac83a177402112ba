//! The charts of `results.html`: grouped bar charts drawn by the client's SVG helper
//! ([`meridian_client::report::html::bar_chart`]), one per figure.

use meridian_client::report::html::{bar_chart, line_chart};

use super::tables::load_name;
use crate::{
    driver::Outcome,
    results::{LinkLag, MatrixCell, Results},
};

fn short_mode(m: &str) -> &str {
    match m {
        "global-tables" => "GT",
        "aurora-global" => "AG",
        other => other,
    }
}

fn lag_chart(title: &str, links: &[LinkLag], allowance: Option<f64>) -> String {
    let cats: Vec<String> = links.iter().map(|l| l.link.clone()).collect();
    let mut bars = vec![
        (
            "configured".to_owned(),
            links.iter().map(|l| l.configured_ms).collect::<Vec<_>>(),
        ),
        (
            "observed p50".to_owned(),
            links.iter().map(|l| l.p50_ms).collect(),
        ),
        (
            "observed p99".to_owned(),
            links.iter().map(|l| l.p99_ms).collect(),
        ),
    ];
    if let Some(a) = allowance {
        bars.push((
            format!("limit (configured + {a} ms)"),
            links.iter().map(|l| l.configured_ms + a).collect(),
        ));
    }
    bar_chart(title, "ms", &cats, &bars)
}

/// Every chart of the run.
pub fn all(r: &Results) -> String {
    let mut b = soak_charts(r);
    let mut cats = Vec::new();
    let (mut rates, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |name: String, o: &Outcome| {
        cats.push(name);
        rates.push(o.rate());
        p50.push(o.quantile_ms(0.5));
        p99.push(o.quantile_ms(0.99));
    };
    if let Some(o) = &r.echo {
        add("echo".into(), o);
    }
    if let Some(o) = &r.echo_repeat {
        add("echo (repeat)".into(), o);
    }
    for one in &r.single {
        add(format!("put, 1 region, {}", one.storage), &one.put);
        add(format!("get, 1 region, {}", one.storage), &one.get);
    }
    for g in &r.global {
        if let Some(flat) = g.flat_out() {
            add(format!("put, 3 regions, {}", g.storage), &flat.total);
        }
        if let Some(best) = g.best_kept_up()
            && best.offered.is_some()
        {
            add(
                format!("put, 3 regions kept up, {}", g.storage),
                &best.total,
            );
        }
    }
    if !cats.is_empty() {
        b += &bar_chart(
            "Closed-loop throughput",
            "ops/s",
            &cats,
            &[("ops/s".into(), rates)],
        );
        b += &bar_chart(
            "Closed-loop latency",
            "ms",
            &cats,
            &[("p50".into(), p50), ("p99".into(), p99)],
        );
    }
    for g in &r.global {
        for st in &g.steps {
            b += &lag_chart(
                &format!(
                    "Three regions, {}, {} storage: lag per link",
                    load_name(st),
                    g.storage
                ),
                &st.links,
                Some(g.allowance_ms),
            );
        }
    }
    if !r.catchup.is_empty() {
        b += &bar_chart(
            "Catch-up after a partition",
            "writes/s",
            &r.catchup
                .iter()
                .map(|c| c.storage.clone())
                .collect::<Vec<_>>(),
            &[(
                "applied writes/s".into(),
                r.catchup.iter().map(|c| c.rate()).collect(),
            )],
        );
    }
    for f in &r.fidelity {
        b += &lag_chart(
            &format!(
                "Lag fidelity, {} storage: configured vs observed",
                f.storage
            ),
            &f.links,
            None,
        );
    }
    if !r.memory.is_empty() {
        b += &bar_chart(
            "Memory per key, by storage mode",
            "B",
            &r.memory
                .iter()
                .map(|m| m.storage.clone())
                .collect::<Vec<_>>(),
            &[
                (
                    "raw key + value".into(),
                    r.memory
                        .iter()
                        .map(|m| (m.key_bytes + m.value_bytes) as f64)
                        .collect(),
                ),
                (
                    "node RSS".into(),
                    r.memory.iter().map(|m| m.bytes_per_key()).collect(),
                ),
            ],
        );
    }
    if !r.matrix.is_empty() {
        b += &matrix(&r.matrix);
    }
    b
}

fn matrix(cells: &[MatrixCell]) -> String {
    let cats: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{} {}ms {} {}/s",
                short_mode(&c.mode),
                c.lag_ms,
                c.dist,
                c.rate
            )
        })
        .collect();
    let col = |f: &dyn Fn(&MatrixCell) -> f64| -> Vec<f64> { cells.iter().map(f).collect() };
    let mut b = bar_chart(
        "Matrix: throughput",
        "ops/s",
        &cats,
        &[
            ("target".into(), col(&|c| c.rate)),
            ("completed".into(), col(&|c| c.throughput)),
        ],
    );
    b += &bar_chart(
        "Matrix: write latency",
        "ms",
        &cats,
        &[
            ("p50".into(), col(&|c| c.write_p50_ms)),
            ("p99".into(), col(&|c| c.write_p99_ms)),
        ],
    );
    b += &bar_chart(
        "Matrix: conflict rate, measured vs model",
        "%",
        &cats,
        &[
            ("measured".into(), col(&|c| c.conflict_rate * 100.0)),
            (
                "predicted".into(),
                col(&|c| c.predicted_conflict_rate * 100.0),
            ),
        ],
    );
    b += &bar_chart(
        "Matrix: replication lag p99 vs configured",
        "ms",
        &cats,
        &[
            ("configured".into(), col(&|c| c.lag_ms)),
            ("lag p99".into(), col(&|c| c.lag_p99_ms)),
        ],
    );
    b
}

/// The soak's RSS and data-dir size over time, one line per node.
fn soak_charts(r: &Results) -> String {
    let mut b = String::new();
    for soak in &r.soak {
        let mib = |v: u64| v as f64 / (1024.0 * 1024.0);
        let series = |pick: fn(&(f64, u64, u64)) -> u64| -> Vec<(String, Vec<(f64, f64)>)> {
            soak.nodes
                .iter()
                .map(|n| {
                    (
                        n.region.clone(),
                        n.samples.iter().map(|s| (s.0, mib(pick(s)))).collect(),
                    )
                })
                .collect()
        };
        b += &line_chart(
            &format!("Soak ({} storage): node RSS", soak.storage),
            "MiB",
            &series(|s| s.1),
        );
        b += &line_chart(
            &format!("Soak ({} storage): data dir size", soak.storage),
            "MiB",
            &series(|s| s.2),
        );
    }
    b
}
