//! The results as tables: the headline figures against their targets first, then one table
//! per scenario. Cells hold plain numbers (units are in the headers) so the CSV stays usable.

use super::targets;
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

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn ratio(r: &Results, o: &Outcome) -> String {
    r.ratio_to_echo(o).map_or("-".into(), n2)
}

/// How a three-region step was loaded.
pub fn load_name(s: &GlobalStep) -> String {
    s.offered
        .map_or("flat out".into(), |o| format!("paced at {}", n0(o)))
}

/// Every table of the run, in report order.
pub fn all(r: &Results, opts: &Options) -> Vec<Table> {
    let mut out = vec![headline(r), throughput(r, opts)];
    for g in &r.global {
        out.extend(global(r, g, opts));
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

/// Headline figures against the targets, per storage mode.
pub fn headline(r: &Results) -> Table {
    let mut t = Table::new(
        "headline",
        "Headline figures",
        "Each figure against its target (targets are goals, not tests), per node storage mode. Ratios are to the echo baseline measured in the same run (the mean of its two measurements).",
        &["figure", "storage", "measured", "target", "met"],
    )
    .keyed_by(2);
    if let Some(echo) = r.echo_rate() {
        t.row(vec![
            "echo baseline (calls/s)".into(),
            "-".into(),
            n0(echo),
            "-".into(),
            "-".into(),
        ]);
    }
    for one in &r.single {
        if let Some(x) = r.ratio_to_echo(&one.put) {
            t.row(vec![
                "single-region put / echo".into(),
                one.storage.clone(),
                format!("{} ({} ops/s)", n2(x), n0(one.put.rate())),
                format!("≥ {}", targets::PUT_RATIO),
                yes_no(x >= targets::PUT_RATIO),
            ]);
        }
        if let Some(x) = r.ratio_to_echo(&one.get) {
            t.row(vec![
                "single-region get / echo".into(),
                one.storage.clone(),
                format!("{} ({} ops/s)", n2(x), n0(one.get.rate())),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    for soak in &r.soak {
        let mib = |b: f64| b / (1024.0 * 1024.0);
        let worst = |f: fn(&crate::results::SoakNode) -> f64| {
            soak.nodes
                .iter()
                .max_by(|a, b| f(a).abs().total_cmp(&f(b).abs()))
        };
        if let Some(n) = worst(crate::results::SoakNode::rss_change) {
            t.row(vec![
                format!(
                    "soak: RSS change after warm-up, worst node ({:.0} s at {} ops/s)",
                    soak.seconds,
                    n0(soak.offered)
                ),
                soak.storage.clone(),
                format!(
                    "{:+.1}% ({}, {:+.1} MiB/min)",
                    n.rss_change() * 100.0,
                    n.region,
                    mib(n.rss_slope())
                ),
                "within ±10%".into(),
                yes_no(n.rss_change().abs() <= 0.10),
            ]);
        }
        if let Some(n) = worst(crate::results::SoakNode::disk_change) {
            t.row(vec![
                "soak: data dir change after warm-up, worst node".into(),
                soak.storage.clone(),
                format!(
                    "{:+.1}% ({}, {:+.1} MiB/min)",
                    n.disk_change() * 100.0,
                    n.region,
                    mib(n.disk_slope())
                ),
                "within ±10%".into(),
                yes_no(n.disk_change().abs() <= 0.10),
            ]);
        }
    }
    for d in &r.dynamodb {
        let ratio = d.put.rate() / d.grpc_put.rate().max(1e-9);
        t.row(vec![
            "DynamoDB PutItem / gRPC put (same node)".into(),
            d.storage.clone(),
            format!(
                "{} ({} PutItem/s, p50 {} ms, p99 {} ms; GetItem {}/s)",
                n2(ratio),
                n0(d.put.rate()),
                n2(d.put.quantile_ms(0.5)),
                n2(d.put.quantile_ms(0.99)),
                n0(d.get.rate())
            ),
            "≥ 0.7".into(),
            yes_no(ratio >= 0.7),
        ]);
        match &d.dynalite {
            Ok(peer) => t.row(vec![
                format!(
                    "DynamoDB PutItem / dynalite {} PutItem (same client)",
                    crate::dynalite::VERSION
                ),
                d.storage.clone(),
                format!(
                    "{} ({} vs {} PutItem/s; GetItem {} vs {}/s)",
                    n2(d.put.rate() / peer.put.rate().max(1e-9)),
                    n0(d.put.rate()),
                    n0(peer.put.rate()),
                    n0(d.get.rate()),
                    n0(peer.get.rate())
                ),
                "> 1".into(),
                yes_no(d.put.rate() > peer.put.rate()),
            ]),
            Err(e) => t.row(vec![
                "DynamoDB PutItem / dynalite PutItem".into(),
                d.storage.clone(),
                e.clone(),
                "> 1".into(),
                "-".into(),
            ]),
        }
    }
    for g in &r.global {
        let target = format!("≥ {} and lag keeps up", targets::GLOBAL_RATIO);
        match g.best_kept_up() {
            Some(best) => {
                let x = r.ratio_to_echo(&best.total);
                t.row(vec![
                    "3-region Global Tables aggregate / echo, lag keeping up".into(),
                    g.storage.clone(),
                    format!(
                        "{} ({} ops/s, {})",
                        x.map_or("-".into(), n2),
                        n0(best.total.rate()),
                        load_name(best)
                    ),
                    target,
                    yes_no(x.is_some_and(|x| x >= targets::GLOBAL_RATIO)),
                ]);
            }
            None => t.row(vec![
                "3-region Global Tables aggregate / echo, lag keeping up".into(),
                g.storage.clone(),
                format!(
                    "lag p99 not within configured + {} ms at any load tried (down to {} ops/s)",
                    g.allowance_ms,
                    n0(g.steps.last().map_or(0.0, |s| s.total.rate()))
                ),
                target,
                "no".into(),
            ]),
        }
        if let Some(flat) = g.flat_out() {
            t.row(vec![
                "3-region Global Tables aggregate / echo, flat out".into(),
                g.storage.clone(),
                format!(
                    "{} ({} ops/s; worst link p99 lag {:+.1} ms over configured)",
                    ratio(r, &flat.total),
                    n0(flat.total.rate()),
                    flat.worst_excess_ms()
                ),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    for c in &r.catchup {
        t.row(vec![
            "catch-up after a partition (writes/s applied)".into(),
            c.storage.clone(),
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
    for f in &r.fidelity {
        if let Some(worst) = f.worst() {
            let d = worst.p50_ms - worst.configured_ms;
            t.row(vec![
                "lag p50 − configured, worst link (ms)".into(),
                f.storage.clone(),
                format!(
                    "{d:+.2} ({} configured {:.0})",
                    worst.link, worst.configured_ms
                ),
                format!("within ±{}", targets::LAG_P50_MS),
                yes_no(d.abs() <= targets::LAG_P50_MS),
            ]);
        }
    }
    for m in &r.memory {
        t.row(vec![
            "node memory / raw key+value bytes".into(),
            m.storage.clone(),
            format!(
                "{:.2}× ({:.0} B/key, {:.0} MiB per million keys)",
                m.ratio_to_raw(),
                m.bytes_per_key(),
                m.bytes_per_key() * 1e6 / 1048576.0
            ),
            format!("≤ {}×", targets::MEMORY_RATIO),
            yes_no(m.ratio_to_raw() <= targets::MEMORY_RATIO),
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
