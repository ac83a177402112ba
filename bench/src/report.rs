//! The benchmark's output: tables built from [`Results`], the setup they were measured with,
//! and the three files — `results.md` (also printed), `results.csv` and a self-contained
//! `results.html` with inline SVG charts (the client's chart helpers; no scripts, no network).

use std::{fmt::Write as _, path::PathBuf};

use anyhow::Context;
use meridian_client::html::{bar_chart, page};

use crate::{
    driver::Outcome,
    options::Options,
    results::{LinkLag, Results},
    table::{Table, csv, esc},
};

/// Targets of issue 5 (reported against, not enforced).
pub mod targets {
    /// Single-region put throughput as a fraction of echo.
    pub const PUT_RATIO: f64 = 0.8;
    /// Three-region aggregate throughput as a fraction of echo.
    pub const GLOBAL_RATIO: f64 = 0.5;
    /// Catch-up, writes/s.
    pub const CATCHUP_RATE: f64 = 200_000.0;
    /// Observed lag p50 within this of configured, ms.
    pub const LAG_P50_MS: f64 = 2.0;
    /// Resident memory per key, as a multiple of raw key + value bytes.
    pub const MEMORY_RATIO: f64 = 3.0;
}

/// How the run was set up (machine, processes, worker counts), as markdown bullet lines.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Lines of text.
    pub lines: Vec<String>,
}

/// The machine: cores, CPU model, load average.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({model})")
}

/// The 1-minute load average, if the system tells.
pub fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
}

impl Setup {
    /// The setup of `opts`, with the load average seen at the start.
    pub fn new(opts: &Options, load_at_start: Option<String>) -> Self {
        let mut lines = vec![
            format!("command: `{}`", opts.command),
            format!(
                "machine: {}; 1-min load average {} at start, {} at end (client and servers share the cores)",
                machine(),
                load_at_start.unwrap_or_else(|| "?".into()),
                load_average().unwrap_or_else(|| "?".into())
            ),
            format!(
                "processes: every node `meridian node --workers {w}` (own process); echo server `meridian-bench echo-server --workers {w}` (own process); benchmark client {c}",
                w = opts.node_workers,
                c = if opts.client_threads <= 1 {
                    "1 thread (current-thread tokio runtime)".to_owned()
                } else {
                    format!("{} tokio worker threads", opts.client_threads)
                }
            ),
            format!(
                "closed-loop driver: {} requests in flight per target node over one HTTP/2 channel (TCP_NODELAY), {} B payload / values, {:.1} s measured after {:.1} s warm-up",
                opts.inflight,
                opts.payload,
                opts.duration.as_secs_f64(),
                opts.warmup.as_secs_f64()
            ),
            format!(
                "node storage: {} (every scenario; single-region and memory also run with {})",
                opts.storage(),
                if opts.storages.len() > 1 {
                    opts.storages[1..].join(", ")
                } else {
                    "nothing else".into()
                }
            ),
            format!("meridian binary: {}", opts.meridian.display()),
        ];
        lines.retain(|l| !l.is_empty());
        Self { lines }
    }
}

fn n0(x: f64) -> String {
    format!("{x:.0}")
}

fn n2(x: f64) -> String {
    format!("{x:.2}")
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn ratio(r: &Results, o: &Outcome) -> String {
    r.ratio_to_echo(o).map_or("-".into(), n2)
}

/// Headline figures against the targets.
pub fn headline(r: &Results) -> Table {
    let mut t = Table::new(
        "headline",
        "Headline figures",
        "Each figure against its target (targets are goals, not tests). Ratios are to the echo baseline measured in the same run.",
        &["figure", "measured", "target", "met"],
    );
    if let Some(echo) = r.echo_rate() {
        t.row(vec![
            "echo baseline (calls/s)".into(),
            n0(echo),
            "-".into(),
            "-".into(),
        ]);
    }
    for (k, one) in r.single.iter().enumerate() {
        if let Some(x) = r.ratio_to_echo(&one.put) {
            t.row(vec![
                format!("single-region put / echo ({} storage)", one.storage),
                format!("{} ({} ops/s)", n2(x), n0(one.put.rate())),
                if k == 0 {
                    format!("≥ {}", targets::PUT_RATIO)
                } else {
                    "-".into()
                },
                if k == 0 {
                    yes_no(x >= targets::PUT_RATIO)
                } else {
                    "-".into()
                },
            ]);
        }
        if let Some(x) = r.ratio_to_echo(&one.get) {
            t.row(vec![
                format!("single-region get / echo ({} storage)", one.storage),
                format!("{} ({} ops/s)", n2(x), n0(one.get.rate())),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    if let Some(g) = &r.global {
        match g.best_kept_up() {
            Some(best) => {
                let x = r.ratio_to_echo(&best.total);
                t.row(vec![
                    "3-region Global Tables aggregate / echo, lag keeping up".into(),
                    format!(
                        "{} ({} ops/s, {}; lag p99 within configured + {} ms on every link)",
                        x.map_or("-".into(), n2),
                        n0(best.total.rate()),
                        best.offered
                            .map_or("flat out".into(), |o| format!("paced at {}", n0(o))),
                        g.allowance_ms
                    ),
                    format!("≥ {} and lag keeps up", targets::GLOBAL_RATIO),
                    yes_no(x.is_some_and(|x| x >= targets::GLOBAL_RATIO)),
                ]);
            }
            None => t.row(vec![
                "3-region Global Tables aggregate / echo, lag keeping up".into(),
                "lag did not keep up at any rate tried".into(),
                format!("≥ {} and lag keeps up", targets::GLOBAL_RATIO),
                "no".into(),
            ]),
        }
        if let Some(flat) = g.flat_out() {
            t.row(vec![
                "3-region Global Tables aggregate / echo, flat out".into(),
                format!(
                    "{} ({} ops/s; worst link p99 lag {:+.1} ms over configured)",
                    r.ratio_to_echo(&flat.total).map_or("-".into(), n2),
                    n0(flat.total.rate()),
                    flat.worst_excess_ms()
                ),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    if let Some(c) = &r.catchup {
        t.row(vec![
            "catch-up after a partition (writes/s applied)".into(),
            format!(
                "{} ({} writes in {:.0} ms)",
                n0(c.rate()),
                c.writes,
                c.catchup_ms
            ),
            format!("≥ {}", n0(targets::CATCHUP_RATE)),
            yes_no(c.rate() >= targets::CATCHUP_RATE),
        ]);
    }
    if let Some(links) = &r.fidelity
        && let Some(worst) = links.iter().filter(|l| l.count > 0).max_by(|a, b| {
            (a.p50_ms - a.configured_ms)
                .abs()
                .total_cmp(&(b.p50_ms - b.configured_ms).abs())
        })
    {
        let d = worst.p50_ms - worst.configured_ms;
        t.row(vec![
            "lag p50 − configured, worst link (ms)".into(),
            format!(
                "{d:+.2} ({} configured {:.0})",
                worst.link, worst.configured_ms
            ),
            format!("within ±{}", targets::LAG_P50_MS),
            yes_no(d.abs() <= targets::LAG_P50_MS),
        ]);
    }
    for (k, m) in r.memory.iter().enumerate() {
        t.row(vec![
            format!("node memory / raw key+value bytes ({} storage)", m.storage),
            format!(
                "{:.2}× ({:.0} B/key, {:.0} MiB per million keys)",
                m.ratio_to_raw(),
                m.bytes_per_key(),
                m.bytes_per_key() * 1e6 / 1048576.0
            ),
            if k == 0 {
                format!("≤ {}×", targets::MEMORY_RATIO)
            } else {
                "-".into()
            },
            if k == 0 {
                yes_no(m.ratio_to_raw() <= targets::MEMORY_RATIO)
            } else {
                "-".into()
            },
        ]);
    }
    t
}

/// Closed-loop throughput of echo and nodes.
pub fn throughput(r: &Results, opts: &Options) -> Table {
    let mut t = Table::new(
        "throughput",
        "Closed-loop throughput",
        &format!(
            "{} requests in flight per target node, one HTTP/2 channel each, {} B payload. Latency is per request, from send to reply.",
            opts.inflight, opts.payload
        ),
        &[
            "case",
            "ops/s",
            "ratio to echo",
            "p50 ms",
            "p99 ms",
            "errors",
        ],
    );
    let mut add = |name: &str, o: &Outcome| {
        t.row(vec![
            name.into(),
            n0(o.rate()),
            ratio(r, o),
            n2(o.quantile_ms(0.5)),
            n2(o.quantile_ms(0.99)),
            o.errors.to_string(),
        ]);
    };
    if let Some(o) = &r.echo {
        add("echo baseline", o);
    }
    if let Some(o) = &r.echo_repeat {
        add("echo baseline (repeat, after the node runs)", o);
    }
    for one in &r.single {
        add(
            &format!("put, 1 region ({} storage)", one.storage),
            &one.put,
        );
        add(
            &format!("get, 1 region ({} storage)", one.storage),
            &one.get,
        );
    }
    if let Some(g) = &r.global
        && let Some(flat) = g.flat_out()
    {
        add(
            "put, 3 regions Global Tables (aggregate, flat out)",
            &flat.total,
        );
        for (region, rate) in &flat.per_region {
            t.row(vec![
                format!("  of which {region}"),
                n0(*rate),
                r.echo_rate().map_or("-".into(), |e| n2(rate / e)),
                "".into(),
                "".into(),
                "".into(),
            ]);
        }
    }
    t
}

fn lag_table(
    id: &str,
    title: &str,
    note: &str,
    links: &[LinkLag],
    allowance: Option<f64>,
) -> Table {
    let mut headers = vec![
        "link",
        "configured ms",
        "jitter ± ms",
        "writes",
        "p50 ms",
        "p50 − configured ms",
        "p99 ms",
        "pending at stop",
    ];
    if allowance.is_some() {
        headers.push("p99 within configured + allowance");
    }
    let mut t = Table::new(id, title, note, &headers);
    for l in links {
        let mut row = vec![
            l.link.clone(),
            format!("{:.1}", l.configured_ms),
            format!("{:.1}", l.jitter_ms),
            l.count.to_string(),
            n2(l.p50_ms),
            format!("{:+.2}", l.p50_ms - l.configured_ms),
            n2(l.p99_ms),
            l.pending.to_string(),
        ];
        if let Some(a) = allowance {
            row.push(yes_no(l.p99_ms <= l.configured_ms + a));
        }
        t.row(row);
    }
    t
}

/// Every table of the run, in report order.
pub fn tables(r: &Results, opts: &Options) -> Vec<Table> {
    let mut out = vec![headline(r), throughput(r, opts)];
    if let Some(g) = &r.global {
        let mut t = Table::new(
            "global_steps",
            "Three-region Global Tables: throughput by load level",
            &format!(
                "Built-in cluster, every region driven with {} requests in flight, all puts to one shared key space of {} keys. Flat out first (closed loop); then paced (latency from intended start) at falling rates on fresh clusters until every link's p99 replication lag is within configured + {} ms.",
                opts.inflight, opts.keys, g.allowance_ms
            ),
            &[
                "load",
                "achieved ops/s",
                "ratio to echo",
                "p50 ms",
                "p99 ms",
                "errors",
                "worst link p99 − configured ms",
                "most pending at stop",
                "drained ms",
                "lag kept up",
            ],
        );
        for st in &g.steps {
            t.row(vec![
                st.offered
                    .map_or("flat out".into(), |o| format!("paced at {}", n0(o))),
                n0(st.total.rate()),
                ratio(r, &st.total),
                n2(st.total.quantile_ms(0.5)),
                n2(st.total.quantile_ms(0.99)),
                st.total.errors.to_string(),
                format!("{:+.2}", st.worst_excess_ms()),
                st.links
                    .iter()
                    .map(|l| l.pending)
                    .max()
                    .unwrap_or(0)
                    .to_string(),
                st.drain_ms
                    .map_or("not in 60 s".into(), |ms| ms.to_string()),
                yes_no(st.kept_up(g.allowance_ms)),
            ]);
        }
        out.push(t);
        if let Some(st) = g.best_kept_up().or(g.flat_out()) {
            out.push(lag_table(
                "global_lag",
                &format!(
                    "Three-region Global Tables: replication lag per link ({})",
                    st.offered
                        .map_or("flat out".into(), |o| format!("paced at {} ops/s", n0(o)))
                ),
                "Lag = apply time − origin commit time over the whole step, as the receiving node measures it.",
                &st.links,
                Some(g.allowance_ms),
            ));
        }
    }
    if let Some(c) = &r.catchup {
        let mut t = Table::new(
            "catchup",
            "Replication catch-up after a partition",
            &format!(
                "Two regions, link {:.0} ms. The second region is partitioned away, the writes are made at the first, then the partition heals; time runs from heal until the returning region has applied the first's log head (polled every 2 ms).",
                c.lag_ms
            ),
            &[
                "case",
                "writes",
                "written at (ops/s)",
                "write errors",
                "catch-up ms",
                "applied writes/s",
            ],
        );
        t.row(vec![
            "catch-up".into(),
            c.writes.to_string(),
            n0(c.write_rate),
            c.errors.to_string(),
            format!("{:.1}", c.catchup_ms),
            n0(c.rate()),
        ]);
        out.push(t);
    }
    if let Some(links) = &r.fidelity {
        out.push(lag_table(
            "fidelity",
            "Replication-lag fidelity",
            &format!(
                "Built-in cluster, Global Tables, open-loop puts at {} ops/s over all regions (Poisson). Observed lag as measured by the receiving node; jitter is symmetric, so p50 should equal the configured latency.",
                opts.fidelity_rate
            ),
            links,
            None,
        ));
    }
    if !r.memory.is_empty() {
        let mut t = Table::new(
            "memory",
            "Node memory per key",
            "One-region node; distinct keys written once each (closed loop); VmRSS from /proc before and after. Includes everything the node keeps per write (store, replication log, version, context, write id; durable storage: the engine's memtables and caches) and allocator overhead.",
            &[
                "storage",
                "keys",
                "items at node",
                "key + value B",
                "RSS before MiB",
                "RSS after MiB",
                "B per key",
                "MiB per million keys",
                "ratio to raw",
                "fill rate ops/s",
            ],
        );
        for m in &r.memory {
            t.row(vec![
                m.storage.clone(),
                m.keys.to_string(),
                m.items.to_string(),
                (m.key_bytes + m.value_bytes).to_string(),
                format!("{:.1}", m.rss_before as f64 / 1048576.0),
                format!("{:.1}", m.rss_after as f64 / 1048576.0),
                n0(m.bytes_per_key()),
                n0(m.bytes_per_key() * 1e6 / 1048576.0),
                n2(m.ratio_to_raw()),
                n0(m.write_rate),
            ]);
        }
        out.push(t);
    }
    if !r.matrix.is_empty() {
        let mut t = Table::new(
            "matrix",
            "Matrix: mode × lag × key skew × rate",
            &format!(
                "Three regions, every link at the given one-way latency (no jitter), a fresh cluster per cell; open-loop Poisson load from all regions for {:.1} s, mix {}, {} keys, {} B values. Aurora Global: writes from secondaries go to the primary. Write latency is coordinated-omission corrected. Conflict rate = acknowledged writes concurrent with another (checker) vs the analytic model.",
                opts.duration.as_secs_f64(),
                opts.matrix_mix,
                opts.matrix_keys,
                opts.payload
            ),
            &[
                "mode",
                "lag ms",
                "keys",
                "rate ops/s",
                "workers/region",
                "achieved ops/s",
                "write p50 ms",
                "write p99 ms",
                "conflict rate %",
                "predicted %",
                "lost writes",
                "lag p99 ms",
                "errors",
                "checker",
            ],
        )
        .keyed_by(4);
        for c in &r.matrix {
            t.row(vec![
                c.mode.clone(),
                n0(c.lag_ms),
                c.dist.clone(),
                n0(c.rate),
                c.concurrency.to_string(),
                n0(c.throughput),
                n2(c.write_p50_ms),
                n2(c.write_p99_ms),
                n2(c.conflict_rate * 100.0),
                n2(c.predicted_conflict_rate * 100.0),
                c.lost_writes.to_string(),
                n2(c.lag_p99_ms),
                c.errors.to_string(),
                if c.checker_ok {
                    "OK".into()
                } else {
                    format!("FAILED {}", c.checker_detail)
                },
            ]);
        }
        out.push(t);
    }
    if !r.failures.is_empty() {
        let mut t = Table::new(
            "failures",
            "Scenarios that failed",
            "",
            &["scenario", "error"],
        );
        for f in &r.failures {
            t.row(vec![f.scenario.clone(), f.error.clone()]);
        }
        out.push(t);
    }
    out
}

/// The markdown document.
pub fn markdown(r: &Results, setup: &Setup, tables: &[Table]) -> String {
    let mut s = String::from("# Meridian benchmark results\n\n");
    for l in &setup.lines {
        let _ = writeln!(s, "- {l}");
    }
    let _ = writeln!(s, "- whole run: {:.0} s\n", r.elapsed_s);
    for t in tables {
        s += &t.markdown();
        s.push('\n');
    }
    s
}

fn short_mode(m: &str) -> &str {
    match m {
        "global-tables" => "GT",
        "aurora-global" => "AG",
        other => other,
    }
}

/// The charts.
pub fn charts(r: &Results) -> String {
    let mut b = String::new();
    let mut cats = Vec::new();
    let (mut rates, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |name: &str, o: &Outcome| {
        cats.push(name.to_owned());
        rates.push(o.rate());
        p50.push(o.quantile_ms(0.5));
        p99.push(o.quantile_ms(0.99));
    };
    if let Some(o) = &r.echo {
        add("echo", o);
    }
    if let Some(o) = &r.echo_repeat {
        add("echo (repeat)", o);
    }
    for one in &r.single {
        add(&format!("put, 1 region, {}", one.storage), &one.put);
        add(&format!("get, 1 region, {}", one.storage), &one.get);
    }
    if let Some(flat) = r.global.as_ref().and_then(|g| g.flat_out()) {
        add("put, 3 regions (flat out)", &flat.total);
    }
    if let Some(best) = r.global.as_ref().and_then(|g| g.best_kept_up())
        && best.offered.is_some()
    {
        add("put, 3 regions (lag kept up)", &best.total);
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
    let lag_chart = |title: &str, links: &[LinkLag], allowance: Option<f64>| {
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
    };
    if let Some(g) = &r.global {
        for st in &g.steps {
            b += &lag_chart(
                &format!(
                    "Three regions, {}: replication lag per link",
                    st.offered
                        .map_or("flat out".into(), |o| format!("paced at {} ops/s", n0(o)))
                ),
                &st.links,
                Some(g.allowance_ms),
            );
        }
    }
    if let Some(links) = &r.fidelity {
        b += &lag_chart("Lag fidelity: configured vs observed", links, None);
    }
    if !r.memory.is_empty() {
        let cats: Vec<String> = r.memory.iter().map(|m| m.storage.clone()).collect();
        b += &bar_chart(
            "Memory per key, by storage mode",
            "B",
            &cats,
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
        let cats: Vec<String> = r
            .matrix
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
        let col = |f: &dyn Fn(&crate::results::MatrixCell) -> f64| -> Vec<f64> {
            r.matrix.iter().map(f).collect()
        };
        b += &bar_chart(
            "Matrix: throughput",
            "ops/s",
            &cats,
            &[
                ("target".into(), col(&|c| c.rate)),
                ("achieved".into(), col(&|c| c.throughput)),
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
    }
    b
}

/// The HTML document.
pub fn html(r: &Results, setup: &Setup, tables: &[Table]) -> String {
    let mut b = String::from("<h1>Meridian benchmark results</h1><ul>");
    for l in &setup.lines {
        let _ = write!(b, "<li>{}</li>", esc(l));
    }
    let _ = write!(b, "<li>whole run: {:.0} s</li></ul>", r.elapsed_s);
    for t in tables {
        b += &t.html();
    }
    b += "<h2>Charts</h2>";
    b += &charts(r);
    page("Meridian benchmark results", &b)
}

/// Write results.md, results.csv and results.html into `opts.out`; returns the markdown and
/// the paths written.
pub fn write(r: &Results, opts: &Options, setup: &Setup) -> anyhow::Result<(String, Vec<PathBuf>)> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let tables = tables(r, opts);
    let md = markdown(r, setup, &tables);
    let files = [
        ("results.md", md.clone()),
        ("results.csv", csv(&tables)),
        ("results.html", html(r, setup, &tables)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let p = opts.out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    Ok((md, written))
}
