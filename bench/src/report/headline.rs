//! The headline table: every figure of the run against its target (met or not, honestly), per
//! node storage mode.

use super::{
    tables::{load_name, n0, n2, ratio, yes_no},
    targets,
};
use crate::{results::Results, table::Table};

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
                format!("≥ {}", targets::put_ratio(&one.storage)),
                yes_no(x >= targets::put_ratio(&one.storage)),
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
    super::strong::headline_rows(&mut t, r);
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
            format!("≤ {}×", targets::memory_ratio(&m.storage)),
            yes_no(m.ratio_to_raw() <= targets::memory_ratio(&m.storage)),
        ]);
    }
    t
}
