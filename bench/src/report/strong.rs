//! Multi-Region strong consistency's figures: its rows of the headline table (throughput as a
//! ratio to eventual in the same run; p50 write latency over the nearest round trip against its
//! target) and its own table, per region.

use super::{
    tables::{n0, n2, yes_no},
    targets,
};
use crate::{
    options::Options,
    results::{Results, StrongResult},
    table::Table,
};

/// The headline rows of every strong run.
pub fn headline_rows(t: &mut Table, r: &Results) {
    for s in &r.strong {
        t.row(vec![
            "3-region MRSC / MREC acknowledged writes, flat out (same run)".into(),
            s.storage.clone(),
            format!(
                "{} ({} vs {} writes/s; Little's-law bound {}; {} strong refusals)",
                n2(s.ratio()),
                n0(StrongResult::acked_rate(&s.strong)),
                n0(StrongResult::acked_rate(&s.eventual)),
                n0(s.strong_bound),
                s.strong.errors
            ),
            "-".into(),
            "-".into(),
        ]);
        if let Some(w) = s.worst() {
            let d = w.p50_over_rtt_ms();
            t.row(vec![
                format!(
                    "MRSC write p50 − nearest RTT, worst region (at {} ops/s)",
                    n0(s.paced_rate)
                ),
                s.storage.clone(),
                format!(
                    "{d:+.2} ms ({}, RTT {} ms to {})",
                    w.region,
                    n0(w.rtt_ms),
                    w.nearest
                ),
                format!("≤ {} ms", targets::STRONG_OVER_RTT_MS),
                yes_no(d <= targets::STRONG_OVER_RTT_MS),
            ]);
        }
    }
}

/// Per storage mode and region: the strong cluster's write latency at the moderate rate, and
/// both clusters' flat-out throughput.
pub fn table(r: &Results, opts: &Options) -> Table {
    let mut t = Table::new(
        "strong",
        "Multi-Region strong consistency vs eventual",
        &format!(
            "Built-in cluster, Global Tables. Flat out: every region's node driven closed loop at {} puts in flight over {} keys, first with eventual then with strong multi-Region consistency (fresh clusters; a strong region cannot exceed in-flight / round trip). Latency: the strong cluster paced at {} ops/s over all regions, from each put's intended start; the round trip is the configured one-way latency to the nearest participant and back (jitter is symmetric).",
            opts.inflight, opts.keys, n0(opts.fidelity_rate)
        ),
        &[
            "storage",
            "region",
            "nearest",
            "RTT ms",
            "p50 ms",
            "p99 ms",
            "p50 − RTT ms",
            "puts",
            "errors",
        ],
    )
    .keyed_by(2);
    for s in &r.strong {
        for p in &s.paced {
            t.row(vec![
                s.storage.clone(),
                p.region.clone(),
                p.nearest.clone(),
                n0(p.rtt_ms),
                n2(p.puts.quantile_ms(0.5)),
                n2(p.puts.quantile_ms(0.99)),
                format!("{:+.2}", p.p50_over_rtt_ms()),
                p.puts.calls.to_string(),
                p.puts.errors.to_string(),
            ]);
        }
        for (name, o) in [
            ("flat out, eventual", &s.eventual),
            ("flat out, strong", &s.strong),
        ] {
            t.row(vec![
                s.storage.clone(),
                name.into(),
                "-".into(),
                "-".into(),
                n2(o.quantile_ms(0.5)),
                n2(o.quantile_ms(0.99)),
                "-".into(),
                format!("{} ({} acked/s)", o.calls, n0(StrongResult::acked_rate(o))),
                o.errors.to_string(),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use meridian_client::load::histogram;

    use super::*;
    use crate::{driver::Outcome, results::StrongRegion};

    fn outcome(calls: u64, errors: u64, latency_ms: &[u64]) -> Outcome {
        let mut latency = histogram();
        for ms in latency_ms {
            latency.record(ms * 1000).unwrap();
        }
        Outcome {
            calls,
            errors,
            first_error: None,
            elapsed: Duration::from_secs(1),
            latency,
        }
    }

    #[test]
    fn the_headline_sets_acked_writes_against_eventual_and_the_worst_region_against_the_target() {
        let region = |name: &str, rtt_ms: f64, p50: u64| StrongRegion {
            region: name.into(),
            nearest: "x".into(),
            rtt_ms,
            puts: outcome(3, 0, &[p50, p50, p50]),
        };
        let r = Results {
            strong: vec![StrongResult {
                storage: "durable".into(),
                eventual: outcome(1000, 0, &[5]),
                strong: outcome(510, 10, &[80]),
                strong_bound: 2000.0,
                paced_rate: 300.0,
                paced: vec![region("a", 76.0, 77), region("b", 120.0, 124)],
            }],
            ..Results::default()
        };
        let s = &r.strong[0];
        assert_eq!(s.ratio(), 0.5, "acknowledged writes only");
        assert_eq!(s.worst().unwrap().region, "b");
        let mut t = Table::new(
            "h",
            "h",
            "",
            &["figure", "storage", "measured", "target", "met"],
        );
        headline_rows(&mut t, &r);
        let md = t.markdown();
        assert!(md.contains("| 0.50 (500 vs 1000 writes/s"), "{md}");
        assert!(md.contains("+4.") && md.contains("≤ 2 ms | no"), "{md}");
    }
}
