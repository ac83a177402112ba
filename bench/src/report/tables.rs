//! The results as tables, one per scenario (the headline figures are `headline.rs`), and the
//! number formats every table uses. Cells hold plain numbers (units are in the headers) so the CSV stays usable.

use crate::{
    driver::Outcome,
    options::Options,
    results::{GlobalResult, GlobalStep, LinkLag, Results},
    table::Table,
};

/// `x` with no decimals.
pub fn n0(x: f64) -> String {
    format!("{x:.0}")
}

/// `x` with two decimals.
pub fn n2(x: f64) -> String {
    format!("{x:.2}")
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

pub(super) fn ratio(r: &Results, o: &Outcome) -> String {
    r.ratio_to_echo(o).map_or("-".into(), n2)
}

/// How a three-region step was loaded.
pub fn load_name(s: &GlobalStep) -> String {
    s.offered
        .map_or("flat out".into(), |o| format!("paced at {}", n0(o)))
}

/// Every table of the run, in report order.
pub fn all(r: &Results, opts: &Options) -> Vec<Table> {
    let mut out = vec![super::headline::headline(r), throughput(r, opts)];
    for g in &r.global {
        out.extend(global(r, g, opts));
    }
    if !r.strong.is_empty() {
        out.push(super::strong::table(r, opts));
    }
    if !r.catchup.is_empty() {
        out.push(catchup(r));
    }
    for f in &r.fidelity {
        out.push(lag_table(
            &format!("fidelity_{}", f.storage),
            &format!("Replication-lag fidelity ({} storage)", f.storage),
            &format!(
                "Built-in cluster, Global Tables, open-loop puts at {} ops/s over all regions (Poisson). Observed lag as the receiving node measures it (apply time − origin commit time); jitter is symmetric, so p50 should equal the configured latency.",
                opts.fidelity_rate
            ),
            &f.links,
            None,
        ));
    }
    if !r.memory.is_empty() {
        out.push(memory(r));
    }
    if !r.matrix.is_empty() {
        out.push(matrix(r, opts));
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

/// Closed-loop throughput of echo and nodes.
pub fn throughput(r: &Results, opts: &Options) -> Table {
    let mut t = Table::new(
        "throughput",
        "Closed-loop throughput",
        &format!(
            "{} requests in flight per target node, one HTTP/2 channel each, {} B payload / values, puts over {} keys. Latency is per request, from send to reply.",
            opts.inflight, opts.payload, opts.keys
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
    let mut add = |name: String, o: &Outcome| {
        t.row(vec![
            name,
            n0(o.rate()),
            ratio(r, o),
            n2(o.quantile_ms(0.5)),
            n2(o.quantile_ms(0.99)),
            o.errors.to_string(),
        ]);
    };
    if let Some(o) = &r.echo {
        add("echo baseline".into(), o);
    }
    if let Some(o) = &r.echo_repeat {
        add("echo baseline (repeat, after the node runs)".into(), o);
    }
    for one in &r.single {
        add(format!("put, 1 region, {} storage", one.storage), &one.put);
        add(format!("get, 1 region, {} storage", one.storage), &one.get);
    }
    for g in &r.global {
        if let Some(flat) = g.flat_out() {
            add(
                format!("put, 3 regions flat out (aggregate), {} storage", g.storage),
                &flat.total,
            );
        }
    }
    t
}

/// The three-region tables of one storage mode: load levels, then lag per link.
pub fn global(r: &Results, g: &GlobalResult, opts: &Options) -> Vec<Table> {
    let mut t = Table::new(
        &format!("global_steps_{}", g.storage),
        &format!(
            "Three-region Global Tables by load level ({} storage)",
            g.storage
        ),
        &format!(
            "Built-in cluster (one-way 38/60/95 ms ± 2–3 ms), every region driven with {} requests in flight, all puts to one shared key space of {} keys. Flat out first (closed loop); then paced (latency from intended start) at falling rates, each on a fresh cluster, until every link's p99 replication lag is within configured + {} ms.",
            opts.inflight, opts.keys, g.allowance_ms
        ),
        &[
            "load ops/s",
            "achieved ops/s",
            "ratio to echo",
            "per region ops/s",
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
            load_name(st),
            n0(st.total.rate()),
            ratio(r, &st.total),
            st.per_region
                .iter()
                .map(|(_, x)| n0(*x))
                .collect::<Vec<_>>()
                .join(" / "),
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
    let mut out = vec![t];
    if let Some(st) = g.best_kept_up().or(g.flat_out()) {
        out.push(lag_table(
            &format!("global_lag_{}", g.storage),
            &format!(
                "Three-region Global Tables: lag per link, {} ({} storage)",
                load_name(st),
                g.storage
            ),
            "Lag = apply time − origin commit time over the whole step, as the receiving node measures it.",
            &st.links,
            Some(g.allowance_ms),
        ));
    }
    out
}

/// Catch-up, one row per storage mode.
pub fn catchup(r: &Results) -> Table {
    let mut t = Table::new(
        "catchup",
        "Replication catch-up after a partition",
        &format!(
            "Two regions, link {} ms. The second region is partitioned away, the writes are made at the first (closed loop), then the partition heals; time runs from heal until the returning region has applied the first's log head (Admin/Status polled every 2 ms).",
            r.catchup.first().map_or(0.0, |c| c.lag_ms)
        ),
        &[
            "storage",
            "writes",
            "written at ops/s",
            "write errors",
            "catch-up ms",
            "applied writes/s",
        ],
    );
    for c in &r.catchup {
        t.row(vec![
            c.storage.clone(),
            c.writes.to_string(),
            n0(c.write_rate),
            c.errors.to_string(),
            format!("{:.1}", c.catchup_ms),
            n0(c.rate()),
        ]);
    }
    t
}

/// Lag per link; with `allowance`, whether p99 kept within configured + allowance.
pub fn lag_table(
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

/// Memory per key, one row per storage mode.
pub fn memory(r: &Results) -> Table {
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
    t
}

/// The matrix, one row per cell.
pub fn matrix(r: &Results, opts: &Options) -> Table {
    let mut t = Table::new(
        "matrix",
        "Matrix: mode × lag × key skew × rate",
        &format!(
            "Three regions, every link at the given one-way latency (no jitter), {} storage, a fresh cluster per cell; open-loop Poisson load from all regions for {:.1} s, mix {}, {} keys, {} B values. Aurora Global: writes from secondaries go to the primary and pay the round trip. Completed ops/s counts the requests sent in the window per second of it. Write latency is coordinated-omission corrected. Conflict rate = acknowledged writes concurrent with another (checker, from causal contexts) vs the analytic model. Lag p99 = the worst link's.",
            opts.storage(),
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
            "completed ops/s",
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
    t
}
