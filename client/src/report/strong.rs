//! What a load run reports of multi-Region strong consistency: the `strong` section of the
//! JSON report (null in an eventual cluster), its lines in the terminal summary, and its charts
//! in the HTML report — conflict errors per region (measured beside the model), retries,
//! no-quorum refusals, and acknowledged-write latency against the configured round trip to
//! each region's nearest participant.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{html, summary::percentiles_ms};
use crate::load::LoadResult;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The `strong` section of the JSON report (null in an eventual cluster).
pub fn json(r: &LoadResult) -> Value {
    let Some(s) = &r.strong else {
        return Value::Null;
    };
    let total = s.total();
    let regions: serde_json::Map<String, Value> = s
        .by_region
        .iter()
        .map(|(region, t)| {
            let nearest = s.setup.nearest.get(region);
            let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
            v["conflict_error_rate"] = json!(t.conflict_error_rate());
            v["nearest_participant"] = json!(nearest.map(|n| &n.region));
            v["nearest_rtt_ms"] = json!(nearest.map(|n| n.rtt_ms));
            v["acked_write_latency_ms"] = s
                .acked_write_latency
                .get(region)
                .map_or(Value::Null, percentiles_ms);
            v["p50_minus_rtt_ms"] = json!(s.p50_over_rtt_ms(region));
            (region.clone(), v)
        })
        .collect();
    json!({
        "consistent_reads": s.setup.consistent_reads,
        "witness": s.setup.witness,
        "skipped_regions": s.skipped,
        "retry_conflicts": s.setup.retry_conflicts,
        "write_attempts": total.write_attempts,
        "conflict_errors": total.conflict_errors,
        "conflict_errors_in_region": total.conflict_errors_in_region,
        "conflict_retries": total.conflict_retries,
        "conflict_failed": total.conflict_failed,
        "conflict_recovered": total.conflict_recovered,
        "no_quorum_writes": total.no_quorum_writes,
        "no_quorum_reads": total.no_quorum_reads,
        "conflict_error_rate": total.conflict_error_rate(),
        "predicted_conflict_error_rate": s.predicted_conflict_error_rate,
        "strong_reads": s.reads.len(),
        "stale_strong_reads": r.checker.strong.as_ref().map_or(0, |c| c.stale_reads),
        "regions": regions,
    })
}

/// The summary's lines on strong consistency (empty in an eventual cluster).
pub fn section(r: &LoadResult) -> String {
    let Some(s) = &r.strong else {
        return String::new();
    };
    let mut out = String::new();
    let total = s.total();
    let _ = writeln!(
        out,
        "\nmulti-Region strong consistency: {} reads; {}; conflicted writes {}",
        if s.setup.consistent_reads {
            "strongly consistent"
        } else {
            "eventually consistent (local)"
        },
        match (&s.setup.witness, s.skipped.is_empty()) {
            (Some(w), false) => format!("witness {w} (serves nothing: no load sent there)"),
            (Some(w), true) => format!("witness {w}"),
            (None, _) => "three replicas".into(),
        },
        if s.setup.retry_conflicts > 0 {
            format!("retried up to {} times", s.setup.retry_conflicts)
        } else {
            "not retried".into()
        }
    );
    let _ = writeln!(
        out,
        "acknowledged writes (ms)  nearest          RTT      p50      p99  p50 − RTT   attempts  conflicts"
    );
    for (region, t) in &s.by_region {
        let nearest = s.setup.nearest.get(region);
        let h = s.acked_write_latency.get(region).filter(|h| !h.is_empty());
        let q = |p: f64| {
            h.map_or("—".into(), |h| {
                format!("{:.2}", h.value_at_quantile(p) as f64 / 1000.0)
            })
        };
        let _ = writeln!(
            out,
            "{region:<25} {:<12} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10}",
            nearest.map_or("—", |n| n.region.as_str()),
            nearest.map_or("—".into(), |n| format!("{:.1}", n.rtt_ms)),
            q(0.5),
            q(0.99),
            s.p50_over_rtt_ms(region)
                .map_or("—".into(), |d| format!("{d:+.2}")),
            t.write_attempts,
            t.conflict_errors
        );
    }
    let _ = writeln!(
        out,
        "conflict errors {:>8} measured   {:>8} predicted   ({} of {} write attempts: {} met a write in flight in the same region, {} another region's)",
        pct(total.conflict_error_rate()),
        pct(s.predicted_conflict_error_rate),
        total.conflict_errors,
        total.write_attempts,
        total.conflict_errors_in_region,
        total.conflict_errors - total.conflict_errors_in_region
    );
    let _ = writeln!(
        out,
        "retries {}: {} writes acknowledged after retrying, {} still failed with a conflict; no quorum: {} writes (outcome unknown, resolved after the run), {} strong reads refused",
        total.conflict_retries,
        total.conflict_recovered,
        total.conflict_failed,
        total.no_quorum_writes,
        total.no_quorum_reads
    );
    if let Some(c) = &r.checker.strong {
        let _ = writeln!(
            out,
            "strong reads {}: {} stale; LWW losers {}; region histories complete {} / incomplete {} / skipped {}",
            c.strong_reads,
            c.stale_reads,
            c.lww_losses,
            c.histories_complete,
            c.histories_incomplete,
            c.histories_skipped
        );
    }
    out
}

/// The HTML charts of strong consistency (empty in an eventual cluster).
pub fn charts(r: &LoadResult, label: &str) -> String {
    let Some(s) = &r.strong else {
        return String::new();
    };
    let regions: Vec<String> = s.by_region.keys().cloned().collect();
    let mut b = html::bar_chart(
        &format!("{label}Acknowledged write latency vs round trip to the nearest participant"),
        "ms",
        &regions,
        &[
            (
                "configured RTT".into(),
                regions
                    .iter()
                    .map(|r| s.setup.nearest.get(r).map_or(0.0, |n| n.rtt_ms))
                    .collect(),
            ),
            (
                "p50".into(),
                regions.iter().map(|r| quantile_ms(s, r, 0.5)).collect(),
            ),
            (
                "p99".into(),
                regions.iter().map(|r| quantile_ms(s, r, 0.99)).collect(),
            ),
        ],
    );
    b += &html::bar_chart(
        &format!("{label}ReplicatedWriteConflict errors per write attempt: measured vs model"),
        "%",
        &["conflict errors".into()],
        &[
            (
                "measured".into(),
                vec![s.total().conflict_error_rate() * 100.0],
            ),
            (
                "predicted".into(),
                vec![s.predicted_conflict_error_rate * 100.0],
            ),
        ],
    );
    b
}

fn quantile_ms(s: &crate::load::StrongResult, region: &str, q: f64) -> f64 {
    s.acked_write_latency
        .get(region)
        .filter(|h| !h.is_empty())
        .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
}
