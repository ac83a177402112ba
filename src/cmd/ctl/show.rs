//! How `ctl` prints replies: the text a person reads and the JSON object scripts read (the
//! JSON shapes of single replies live in `meridian_client::report::replies`).

use meridian_client::report::replies as json;
use meridian_proto::v1 as pb;
use serde_json::{Value, json};

pub(super) fn show_version(v: Option<&pb::Version>) -> String {
    v.map_or("-".to_owned(), |v| {
        format!("{}.{}@{}", v.timestamp, v.logical, v.region)
    })
}

fn show_context(c: Option<&pb::CausalContext>) -> String {
    json::context(c).to_string()
}

/// A write's reply as text.
pub(super) fn write_text(key: &str, r: &pb::WriteReply) -> String {
    let lost = if r.outcome == pb::WriteOutcome::LostOnArrival as i32 {
        " (LOST on arrival: an existing write has a greater version)"
    } else {
        ""
    };
    format!(
        "{key}: written by {} as {}, write {}, context {}{lost}",
        r.committed_by,
        show_version(r.version.as_ref()),
        r.write_id,
        show_context(r.context.as_ref())
    )
}

/// A read's reply as text.
pub(super) fn get_text(key: &str, r: &pb::GetReply) -> String {
    if r.found {
        format!(
            "{key} = {}\n  version {}, write {}, context {}",
            String::from_utf8_lossy(&r.value),
            show_version(r.version.as_ref()),
            r.write_id,
            show_context(r.context.as_ref())
        )
    } else if r.tombstone {
        format!(
            "{key}: deleted (tombstone {} at {})",
            r.write_id,
            show_version(r.version.as_ref())
        )
    } else {
        format!("{key}: not found")
    }
}

/// An increment's reply: the write, and the new value.
pub(super) fn increment(key: &str, r: &pb::WriteReply) -> (Value, String) {
    let mut v = json::write_reply(key, r);
    v["new_value"] = json!(r.new_value);
    let text = format!("{} = {}\n{}", key, r.new_value, write_text(key, r));
    (v, text)
}

/// The conflict feed of `region`.
pub(super) fn conflicts(region: &str, r: &pb::ConflictsReply) -> (Value, String) {
    let events: Vec<Value> = r.events.iter().map(json::event).collect();
    let mut text = format!(
        "{} conflicts detected, {} writes lost at this region ({} events shown{})",
        r.total_conflicts,
        r.total_lost,
        r.events.len(),
        if r.dropped > 0 {
            format!(", {} older events dropped from the bounded feed", r.dropped)
        } else {
            String::new()
        }
    ) + if r.durable {
        "; the feed is durable"
    } else {
        "; memory mode: the feed starts over when the node restarts"
    };
    for e in &r.events {
        let w = e.winner.as_ref();
        let l = e.loser.as_ref();
        text += &format!(
            "\n#{} {} key {:?}: winner {} ({}) beat loser {} ({})",
            e.seq,
            json::event(e)["kind"].as_str().unwrap_or("conflict"),
            e.key,
            show_version(w.and_then(|w| w.version.as_ref())),
            w.map_or("", |w| w.write_id.as_str()),
            show_version(l.and_then(|l| l.version.as_ref())),
            l.map_or("", |l| l.write_id.as_str()),
        );
    }
    let v = json!({
        "region": region,
        "events": events,
        "next": r.next,
        "conflicts": r.total_conflicts,
        "lost_writes": r.total_lost,
        "dropped": r.dropped,
        "incarnation": r.incarnation,
        "durable": r.durable,
    });
    (v, text)
}

/// The whole state of `region`, by key.
pub(super) fn dump(region: &str, mut items: Vec<pb::WriteRecord>) -> (Value, String) {
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let text = items
        .iter()
        .map(|w| {
            let v = if w.tombstone {
                "<deleted>".to_owned()
            } else {
                String::from_utf8_lossy(&w.value).into_owned()
            };
            format!(
                "{} = {}  ({}, {})",
                w.key,
                v,
                show_version(w.version.as_ref()),
                w.write_id
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let v = json!({"region": region, "items": items.iter().map(json::record).collect::<Vec<_>>()});
    (
        v,
        if text.is_empty() {
            "(no keys)".to_owned()
        } else {
            text
        },
    )
}

/// The divergent writes of `region`.
pub(super) fn divergent(region: &str, writes: &[pb::WriteRecord]) -> (Value, String) {
    let mut text = format!(
        "{} divergent writes at {} (made after a failover fenced them off; set aside, never merged)",
        writes.len(),
        region
    );
    for w in writes {
        text += &format!(
            "\n  seq {:<6} key {:<16} write {}  epoch {}",
            w.seq, w.key, w.write_id, w.epoch
        );
    }
    let v = json!({
        "region": region,
        "count": writes.len(),
        "writes": writes.iter().map(json::record).collect::<Vec<_>>(),
    });
    (v, text)
}

/// A link table.
pub(super) fn links(t: &pb::LinkTable) -> (Value, String) {
    (links_json(t), links_text(t))
}

fn links_json(t: &pb::LinkTable) -> Value {
    json!({"links": t.links.iter().map(json::link).collect::<Vec<_>>(), "unreachable": t.unreachable, "source": t.source})
}

fn links_text(t: &pb::LinkTable) -> String {
    let mut s = format!(
        "link settings: {}\nfrom         to           latency_ms  jitter_ms  loss   partitioned",
        if t.source.is_empty() {
            "cluster file"
        } else {
            &t.source
        }
    );
    for l in &t.links {
        s += &format!(
            "\n{:<12} {:<12} {:>10.1} {:>10.1} {:>5.2}  {}",
            l.from,
            l.to,
            l.latency_ms,
            l.jitter_ms,
            l.loss,
            if l.partitioned { "PARTITIONED" } else { "-" }
        );
    }
    if !t.unreachable.is_empty() {
        s += &format!(
            "\nwarning: not passed on to unreachable regions: {}",
            t.unreachable.join(", ")
        );
    }
    s
}

pub(super) fn stats_text(s: &pb::NodeStatus) -> String {
    let mode = json::mode_name(s.mode);
    let role = if s.primary.is_empty() {
        String::new()
    } else {
        let state = match (s.writable, s.frozen) {
            (true, _) => "writable",
            (false, true) => "FROZEN (switchover)",
            (false, false) => "read-only",
        };
        format!(", primary {} (epoch {}), {state}", s.primary, s.epoch)
    };
    let mut t = format!(
        "region {} — mode {mode}{role}, clock {} (skew {} ms)\nitems {}, local writes {}, log head {}, conflicts {}, lost writes {}, forwarded {}\n",
        s.region,
        s.clock,
        s.clock_skew_ms,
        s.items,
        s.writes_local,
        s.log_head,
        s.conflicts,
        s.lost_writes,
        s.forwarded_writes
    );
    for f in &s.fences {
        t += &format!(
            "fence: writes of {} after seq {} made before epoch {} are divergent (never applied)\n",
            f.region, f.after_seq, f.epoch
        );
    }
    if s.multi_region_consistency == "strong" {
        t += &format!(
            "multi-Region strong consistency{}: quorum {}; write conflicts (ReplicatedWriteConflict) {}, refused for want of a quorum {}, in doubt {}\n",
            if s.witness { " (witness)" } else { "" },
            s.quorum,
            s.write_conflicts,
            s.quorum_refusals,
            s.in_doubt_writes
        );
    }
    t += &format!(
        "own log: entries {}..={} held\n",
        s.log_base + 1,
        s.log_head
    );
    if s.rpo_bound_ms > 0 {
        t += &format!(
            "RPO bound {} ms: {} commits refused\n",
            s.rpo_bound_ms, s.rpo_refusals
        );
    }
    t += "from         link(ms)  applied   pending  lag p50    p99      max     connected  rpo ms  rpo writes";
    for l in &s.links {
        let lag = l.lag.unwrap_or_default();
        let set = l.setting.clone().unwrap_or_default();
        t += &format!(
            "\n{:<12} {:>7.1}{} {:>8} {:>8} {:>8.1} {:>8.1} {:>8.1}  {:<9} {:>7.1} {:>10}",
            l.origin,
            set.latency_ms,
            if set.partitioned { "P" } else { " " },
            l.applied_seq,
            l.pending,
            lag.p50,
            lag.p99,
            lag.max,
            if l.connected { "yes" } else { "no" },
            l.rpo_lag_ms,
            l.rpo_lag_writes
        );
    }
    if !s.secondaries.is_empty() {
        t += "\nsecondaries (RPO lag behind this primary's acknowledged writes, from their acks; sampled every 100 ms):";
        t += "\nsecondary    acked     rpo writes  rpo ms   p50      p99      max      connected";
        for p in &s.secondaries {
            let h = p.rpo_lag.unwrap_or_default();
            t += &format!(
                "\n{:<12} {:>8} {:>11} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  {}",
                p.region,
                p.acked_seq,
                p.rpo_lag_writes,
                p.rpo_lag_ms,
                h.p50,
                h.p99,
                h.max,
                if p.connected { "yes" } else { "no" }
            );
        }
    }
    t
}
