//! JSON renderings of replies, as printed by `meridian ctl --json` and embedded in reports.
//! Field names here are a public contract: scripts depend on them.

use meridian_proto::v1 as pb;
use serde_json::{Value, json};

/// A version: `{"timestamp": µs, "logical": n, "region": name}`.
pub fn version(v: Option<&pb::Version>) -> Value {
    match v {
        None => Value::Null,
        Some(v) => json!({"timestamp": v.timestamp, "logical": v.logical, "region": v.region}),
    }
}

/// A causal context: `{region: count, ...}`.
pub fn context(c: Option<&pb::CausalContext>) -> Value {
    let mut entries: Vec<_> = c.map(|c| c.entries.iter().collect()).unwrap_or_default();
    entries.sort();
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
    )
}

/// A write reply.
pub fn write_reply(key: &str, r: &pb::WriteReply) -> Value {
    let outcome = match pb::WriteOutcome::try_from(r.outcome) {
        Ok(pb::WriteOutcome::LostOnArrival) => "lost-on-arrival",
        _ => "applied",
    };
    json!({
        "key": key,
        "version": version(r.version.as_ref()),
        "write_id": r.write_id,
        "context": context(r.context.as_ref()),
        "outcome": outcome,
        "committed_by": r.committed_by,
        "seq": r.seq,
    })
}

/// A get reply.
pub fn get_reply(key: &str, r: &pb::GetReply) -> Value {
    json!({
        "key": key,
        "found": r.found,
        "value": if r.found { json!(String::from_utf8_lossy(&r.value)) } else { Value::Null },
        "tombstone": r.tombstone,
        "version": version(r.version.as_ref()),
        "write_id": if r.write_id.is_empty() { Value::Null } else { json!(r.write_id) },
        "context": context(r.context.as_ref()),
    })
}

/// A latency summary, ms.
pub fn latency(l: Option<&pb::LatencySummary>) -> Value {
    let l = l.cloned().unwrap_or_default();
    json!({"count": l.count, "p50": l.p50, "p90": l.p90, "p99": l.p99, "p999": l.p999, "max": l.max, "mean": l.mean})
}

/// A link setting.
pub fn link(l: &pb::LinkSetting) -> Value {
    json!({"from": l.from, "to": l.to, "latency_ms": l.latency_ms, "jitter_ms": l.jitter_ms, "loss": l.loss, "partitioned": l.partitioned})
}

/// The mode's name.
pub fn mode_name(m: i32) -> &'static str {
    match pb::Mode::try_from(m) {
        Ok(pb::Mode::AuroraGlobal) => "aurora-global",
        _ => "global-tables",
    }
}

/// Node status and statistics.
pub fn status(s: &pb::NodeStatus) -> Value {
    let links: Vec<Value> = s
        .links
        .iter()
        .map(|l| {
            json!({
                "origin": l.origin,
                "setting": l.setting.as_ref().map(link),
                "connected": l.connected,
                "applied_seq": l.applied_seq,
                "origin_head_seq": l.origin_head_seq,
                "pending": l.pending,
                "writes_applied": l.writes_applied,
                "bytes_applied": l.bytes_applied,
                "lag_ms": latency(l.lag.as_ref()),
                "last_lag_ms": l.last_lag_ms,
                "rpo_lag_ms": l.rpo_lag_ms,
                "rpo_lag_writes": l.rpo_lag_writes,
                "rpo_lag": latency(l.rpo_lag.as_ref()),
                "refused_writes": l.refused_writes,
                "stuck_reason": if l.stuck_reason.is_empty() { Value::Null } else { json!(l.stuck_reason) },
            })
        })
        .collect();
    let secondaries: Vec<Value> = s
        .secondaries
        .iter()
        .map(|p| {
            json!({
                "region": p.region,
                "acked_seq": p.acked_seq,
                "rpo_lag_writes": p.rpo_lag_writes,
                "rpo_lag_ms": p.rpo_lag_ms,
                "rpo_lag": latency(p.rpo_lag.as_ref()),
                "connected": p.connected,
            })
        })
        .collect();
    let fences: Vec<Value> = s
        .fences
        .iter()
        .map(|f| json!({"region": f.region, "after_seq": f.after_seq, "epoch": f.epoch}))
        .collect();
    json!({
        "region": s.region,
        "mode": mode_name(s.mode),
        "primary": if s.primary.is_empty() { Value::Null } else { json!(s.primary) },
        "epoch": s.epoch,
        "writable": s.writable,
        "frozen": s.frozen,
        "fences": fences,
        "clock": s.clock,
        "clock_skew_ms": s.clock_skew_ms,
        "items": s.items,
        "log_head": s.log_head,
        "log_base": s.log_base,
        "catch_up_writes": s.catch_up_writes,
        "collects_tombstones": s.collects_tombstones,
        "tombstones_pending": s.tombstones_pending,
        "tombstones_candidates": s.tombstones_candidates,
        "tombstones_collected": s.tombstones_collected,
        "multi_region_consistency": s.multi_region_consistency,
        "witness": s.witness,
        "quorum": s.quorum,
        "write_conflicts": s.write_conflicts,
        "quorum_refusals": s.quorum_refusals,
        "in_doubt_writes": s.in_doubt_writes,
        "writes_local": s.writes_local,
        "conflicts": s.conflicts,
        "lost_writes": s.lost_writes,
        "forwarded_writes": s.forwarded_writes,
        "divergent_writes": s.divergent_writes,
        "write_forwarding": s.write_forwarding,
        "rpo_bound_ms": s.rpo_bound_ms,
        "rpo_refusals": s.rpo_refusals,
        "pull_stream_refusals": s.pull_stream_refusals,
        "uptime_ms": s.uptime_ms,
        "incarnation": s.incarnation,
        "links": links,
        "secondaries": secondaries,
    })
}

/// A write summary inside a conflict event.
pub fn write_summary(w: Option<&pb::WriteSummary>) -> Value {
    match w {
        None => Value::Null,
        Some(w) => json!({
            "version": version(w.version.as_ref()),
            "write_id": w.write_id,
            "context": context(w.context.as_ref()),
            "tombstone": w.tombstone,
        }),
    }
}

/// A conflict event.
pub fn event(e: &pb::ConflictEvent) -> Value {
    let kind = match pb::EventKind::try_from(e.kind) {
        Ok(pb::EventKind::CausalInversion) => "causal-inversion",
        _ => "conflict",
    };
    json!({
        "seq": e.seq,
        "kind": kind,
        "key": e.key,
        "region": e.region,
        "detected_at_us": e.detected_at_us,
        "winner": write_summary(e.winner.as_ref()),
        "loser": write_summary(e.loser.as_ref()),
    })
}

/// A write record.
pub fn record(w: &pb::WriteRecord) -> Value {
    json!({
        "seq": w.seq,
        "key": w.key,
        "value": if w.tombstone { Value::Null } else { json!(String::from_utf8_lossy(&w.value)) },
        "tombstone": w.tombstone,
        "version": version(w.version.as_ref()),
        "write_id": w.write_id,
        "context": context(w.context.as_ref()),
        "commit_time_us": w.commit_time_us,
        "epoch": w.epoch,
    })
}
