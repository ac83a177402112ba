//! Reports of a load run: the JSON report (its field names are a public contract), the
//! terminal summary, and `.hgrm` percentile files (HdrHistogram's classic text format, values
//! in milliseconds, as wrk2 prints them).

use std::{fmt::Write as _, path::Path};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::replies as pbjson;
use crate::{
    check::history::WriteStatus,
    error::{Result, ResultExt},
    load::{LoadResult, histogram},
};

/// Percentiles of a µs histogram, in µs.
pub fn percentiles_us(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.5),
        "p90": h.value_at_quantile(0.9),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "p9999": h.value_at_quantile(0.9999),
        "max": h.max(),
        "mean": h.mean(),
    })
}

/// Percentiles of a µs histogram, in ms.
pub fn percentiles_ms(h: &Histogram<u64>) -> Value {
    let ms = |v: u64| v as f64 / 1000.0;
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.5)),
        "p90": ms(h.value_at_quantile(0.9)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": h.mean() / 1000.0,
    })
}

/// The JSON report.
pub fn to_json(r: &LoadResult) -> Value {
    let c = &r.config;
    let mut latency = serde_json::Map::new();
    for ((region, op), h) in &r.latency {
        let entry = latency.entry(region.clone()).or_insert_with(|| json!({}));
        entry[op.name()] = percentiles_us(h);
    }
    let mut replication_lag = serde_json::Map::new();
    let mut rpo_lag = serde_json::Map::new();
    for n in &r.nodes {
        for l in &n.links {
            let pair = format!("{}>{}", l.origin, n.region);
            replication_lag.insert(pair.clone(), pbjson::latency(l.lag.as_ref()));
            rpo_lag.insert(
                pair,
                json!({"rpo_lag_ms": l.rpo_lag_ms, "pending": l.pending}),
            );
        }
    }
    let count = |s: WriteStatus| r.writes.iter().filter(|w| w.status == s).count();
    let strong_total = r.strong.as_ref().map(|s| s.total()).unwrap_or_default();
    let conflict_errors_by_region: serde_json::Map<String, Value> = r
        .strong
        .iter()
        .flat_map(|s| s.by_region.iter())
        .map(|(region, t)| (region.clone(), json!(t.conflict_errors)))
        .collect();
    json!({
        "mode": r.mode.name(),
        "primary": r.primary,
        "config": {
            "regions": c.regions,
            "duration_s": c.duration.as_secs_f64(),
            "rate": c.rate,
            "loop": if c.rate > 0.0 { "open" } else { "closed" },
            "concurrency": c.concurrency,
            "keys": c.workload.keys,
            "key_distribution": c.workload.dist.describe(),
            "mix": c.workload.mix.describe(),
            "value_size": c.workload.value_size,
            "seed": c.workload.seed,
            "key_prefix": c.workload.prefix,
        },
        "elapsed_s": r.elapsed_s,
        "ops": r.ops,
        "throughput_ops": r.ops as f64 / r.elapsed_s,
        "throughput_by_region": r.ops_by_region.iter().map(|(k, v)| (k.clone(), json!(*v as f64 / r.elapsed_s))).collect::<serde_json::Map<_, _>>(),
        "latency_us": latency,
        "errors": r.errors,
        "condition_failed": r.condition_failed,
        "writes": {
            "acked": count(WriteStatus::Acked),
            "unknown": count(WriteStatus::Unknown),
            "failed": count(WriteStatus::Failed),
            "conflict_errors": strong_total.conflict_errors,
            "conflict_retries": strong_total.conflict_retries,
            "conflict_failed": strong_total.conflict_failed,
            "conflict_errors_by_region": conflict_errors_by_region,
        },
        "conflicts": r.node_conflicts,
        "conflict_pairs": r.checker.conflict_pairs,
        "conflicts_by_pair": r.checker.conflicts_by_pair,
        "causal_inversions": r.checker.causal_inversions,
        "lost_writes": r.checker.lost_writes,
        "node_lost_writes": r.node_lost,
        "conflict_rate": r.checker.conflict_rate,
        "predicted_conflict_rate": r.predicted_conflict_rate,
        "lost_write_rate": r.checker.lost_write_rate,
        "predicted_lost_write_rate": r.predicted_lost_rate,
        "lost_increments": r.lost_increments,
        "replication_lag_ms": replication_lag,
        "rpo_lag": rpo_lag,
        "link_latency_ms": r.link_latency_ms,
        "visibility_lag_ms": r.visibility.iter().map(|(k, h)| (k.clone(), percentiles_ms(h))).collect::<serde_json::Map<_, _>>(),
        "staleness": {
            "reads": r.reads,
            "stale_reads": r.stale_reads,
            "stale_fraction": if r.reads > 0 { r.stale_reads as f64 / r.reads as f64 } else { 0.0 },
            "staleness_ms": percentiles_ms(&r.staleness),
        },
        "converge_ms": r.converge_ms,
        "checker": r.checker,
        "strong": super::strong::json(r),
    })
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The terminal summary.
pub fn summary(r: &LoadResult) -> String {
    let c = &r.config;
    let mut s = String::new();
    let loop_desc = if c.rate > 0.0 {
        format!("open loop at {} ops/s", c.rate)
    } else {
        format!("closed loop, {} in flight per region", c.concurrency)
    };
    let primary = r
        .primary
        .as_ref()
        .map(|p| format!(" (primary {p})"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "Meridian load — {}{primary}: {} for {:.0} s from {}; {} keys {}, mix {}, {} B values, seed {}",
        r.mode.name(),
        loop_desc,
        c.duration.as_secs_f64(),
        c.regions.join(", "),
        c.workload.keys,
        c.workload.dist.describe(),
        c.workload.mix.describe(),
        c.workload.value_size,
        c.workload.seed
    );
    let errors: u64 = r.errors.values().sum();
    let _ = writeln!(
        s,
        "throughput {:.0} ops/s ({} ops in {:.1} s); errors {errors}{}; conditions failed {}{}",
        r.ops as f64 / r.elapsed_s,
        r.ops,
        r.elapsed_s,
        if errors > 0 {
            format!(" {:?}", r.errors)
        } else {
            String::new()
        },
        r.condition_failed,
        r.strong.as_ref().map_or(String::new(), |x| format!(
            "; ReplicatedWriteConflict errors {}",
            x.total().conflict_errors
        ))
    );
    let _ = writeln!(
        s,
        "\nlatency (ms)    op       count      p50      p90      p99    p99.9      max"
    );
    for ((region, op), h) in &r.latency {
        let _ = writeln!(
            s,
            "{region:<15} {:<6} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            op.name(),
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max())
        );
    }
    let _ = writeln!(
        s,
        "\nreplication lag (ms)        configured      p50      p99      max  pending"
    );
    for n in &r.nodes {
        for l in &n.links {
            let lag = l.lag.unwrap_or_default();
            let pair = format!("{}>{}", l.origin, n.region);
            if lag.count == 0 && l.pending == 0 {
                continue;
            }
            let configured = r.link_latency_ms.get(&pair).copied().unwrap_or(0.0);
            let _ = writeln!(
                s,
                "{pair:<27} {configured:>10.1} {:>8.1} {:>8.1} {:>8.1} {:>8}",
                lag.p50, lag.p99, lag.max, l.pending
            );
        }
    }
    if !r.visibility.is_empty() {
        let _ = writeln!(
            s,
            "\nvisibility lag (ms, probes)    count      p50      p99      max"
        );
        for (pair, h) in &r.visibility {
            let _ = writeln!(
                s,
                "{pair:<27} {:>8} {:>8.1} {:>8.1} {:>8.1}",
                h.len(),
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max())
            );
        }
    }
    let k = &r.checker;
    let _ = writeln!(
        s,
        "\nconflicts: {} detected by the nodes ({} distinct pairs{})",
        r.node_conflicts,
        k.conflict_pairs,
        if k.causal_inversions > 0 {
            format!(", {} causal inversions", k.causal_inversions)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "conflict rate   {:>8} measured   {:>8} predicted",
        pct(k.conflict_rate),
        pct(r.predicted_conflict_rate)
    );
    let _ = writeln!(
        s,
        "lost-write rate {:>8} measured   {:>8} predicted   ({} writes lost)",
        pct(k.lost_write_rate),
        pct(r.predicted_lost_rate),
        k.lost_writes
    );
    if r.lost_increments != 0 {
        let _ = writeln!(
            s,
            "lost increments: {} acknowledged increments are not in the final counters",
            r.lost_increments
        );
    }
    if r.reads > 0 {
        let _ = writeln!(
            s,
            "reads {}: {} stale ({}), staleness p50 {:.1} ms, p99 {:.1} ms",
            r.reads,
            r.stale_reads,
            pct(r.stale_reads as f64 / r.reads as f64),
            ms(r.staleness.value_at_quantile(0.5)),
            ms(r.staleness.value_at_quantile(0.99))
        );
    }
    s += &super::strong::section(r);
    let _ = match r.converge_ms {
        Some(ms) => writeln!(s, "converged {ms} ms after the load stopped"),
        None => writeln!(
            s,
            "did NOT converge within {:?} after the load stopped",
            c.converge_timeout
        ),
    };
    if k.ok && k.strong.is_some() {
        let _ = writeln!(
            s,
            "checker: OK — {} acknowledged writes over {} keys: all regions identical, no LWW loser, every acknowledged write in every region's history, writes and {} strong reads linearizable per key (keys_checked {}, keys_skipped {}{})",
            k.writes_acked,
            k.keys_checked,
            k.strong.as_ref().map_or(0, |x| x.strong_reads),
            k.keys_checked,
            k.keys_skipped,
            resolved(k)
        );
    } else if k.ok {
        let _ = writeln!(
            s,
            "checker: OK — {} acknowledged writes over {} keys: all regions identical, LWW winners, every conflict genuine, every lost write reported (keys_checked {}, keys_skipped {}{})",
            k.writes_acked,
            k.keys_checked,
            k.keys_checked,
            k.keys_skipped,
            resolved(k)
        );
    } else {
        let _ = writeln!(s, "checker: FAILED — {:?}", k.violation_counts);
        for v in &k.violations {
            let _ = writeln!(s, "  [{}] key {:?}: {}", v.kind, v.key, v.detail);
        }
    }
    s
}

/// "; unknown outcomes resolved …" when some were.
fn resolved(k: &crate::check::CheckReport) -> String {
    if k.writes_resolved_applied + k.writes_resolved_not_applied > 0 {
        format!(
            "; unknown outcomes resolved from the logs: {} committed, {} not",
            k.writes_resolved_applied, k.writes_resolved_not_applied
        )
    } else {
        String::new()
    }
}

/// Render a µs histogram as an `.hgrm` percentile distribution (values in ms).
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut s = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(1) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let inv = if q < 1.0 {
                format!("{:14.2}", 1.0 / (1.0 - q))
            } else {
                "           inf".to_owned()
            };
            let _ = writeln!(
                s,
                "{:12.3} {:14.12} {:10} {inv}",
                ms(v.value_iterated_to()),
                q,
                total
            );
        }
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        ms(h.max()),
        h.len()
    );
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig())))
        .log2()
        .ceil()
        .exp2() as u64;
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    s
}

/// Write one `.hgrm` file per histogram into `dir`; returns the paths.
pub fn write_hgrm_files(r: &LoadResult, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    let mut write = |name: String, h: &Histogram<u64>| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, hgrm(h))
            .with_context(|| format!("cannot write {}", path.display()))?;
        out.push(path);
        Ok(())
    };
    for ((region, op), h) in &r.latency {
        write(format!("latency_{region}_{}.hgrm", op.name()), h)?;
    }
    for (pair, h) in &r.visibility {
        write(format!("visibility_{}.hgrm", pair.replace('>', "_to_")), h)?;
    }
    if !r.staleness.is_empty() {
        write("staleness.hgrm".into(), &r.staleness)?;
    }
    Ok(out)
}

/// All operations' latency in one histogram per region (for charts).
pub fn merged_latency(r: &LoadResult, write_only: bool) -> Vec<(String, Histogram<u64>)> {
    let mut out: Vec<(String, Histogram<u64>)> = Vec::new();
    for ((region, op), h) in &r.latency {
        if write_only && !op.is_write() {
            continue;
        }
        match out.iter_mut().find(|(r, _)| r == region) {
            Some((_, m)) => m.add(h).expect("same bounds"),
            None => {
                let mut m = histogram();
                m.add(h).expect("same bounds");
                out.push((region.clone(), m));
            }
        }
    }
    out
}
