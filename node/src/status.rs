//! The node's status on the wire (`Admin/Status`): role, counters, per-link statistics and the
//! Aurora Global secondaries, with the small conversions they use.

use std::sync::atomic::Ordering;

use hdrhistogram::Histogram;
use meridian_core::{
    clock::now_us,
    links::LinkSetting,
    region::{RegionId, Regions},
    replica::{Fence, Mode},
};
use meridian_proto::v1 as pb;

use crate::{lock::Unpoisoned, state::NodeState};

/// Status and statistics of `state`, as served by `Admin/Status`.
pub fn node_status(state: &NodeState) -> pb::NodeStatus {
    let now = now_us();
    let (
        role,
        items,
        (log_base, head),
        counters,
        conflicts,
        lost,
        clock_mode,
        skew_us,
        writable,
        divergent,
        secondaries,
        tombstones,
    ) = {
        let core = state.replica();
        let is_primary =
            core.role().mode == Mode::AuroraGlobal && core.role().primary == Some(state.region);
        let secondaries: Vec<_> = if is_primary {
            state
                .peers()
                .map(|p| {
                    let peer = &state.outbound(p);
                    let lag = state.peer_rpo_lag(&core, p, now);
                    pb::SecondaryStatus {
                        region: state.regions.name(p).to_owned(),
                        acked_seq: peer.acked.load(Ordering::Relaxed),
                        rpo_lag_writes: lag.writes,
                        rpo_lag_ms: lag.age_us as f64 / 1000.0,
                        rpo_lag: Some(summarize(&peer.rpo_lag_us.locked())),
                        connected: peer.streams.load(Ordering::Relaxed) > 0,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        (
            core.role().clone(),
            core.store().len() as u64,
            (core.log_base(), core.log_head()),
            core.counters(),
            core.feed().conflicts(),
            core.feed().lost(),
            core.clock().mode(),
            core.clock().skew_us(),
            core.check_writable().is_ok(),
            core.divergent_count(),
            secondaries,
            core.tombstone_counts(),
        )
    };
    let links = state
        .peers()
        .map(|origin| {
            let s = state.inbound(origin).stats.locked();
            let applied = state.applied_from(origin);
            let setting = state.links.get(origin, state.region);
            pb::LinkStatus {
                origin: state.regions.name(origin).to_owned(),
                setting: Some(link_to_pb(&state.regions, origin, state.region, &setting)),
                applied_seq: applied,
                origin_head_seq: s.origin_head,
                pending: s.origin_head.saturating_sub(applied),
                writes_applied: s.writes_applied,
                bytes_applied: s.bytes_applied,
                lag: Some(summarize(&s.lag_us)),
                last_lag_ms: s.last_lag_us as f64 / 1000.0,
                connected: s.connected,
                rpo_lag_ms: if s.oldest_pending_commit_us == 0 {
                    0.0
                } else {
                    now.saturating_sub(s.oldest_pending_commit_us) as f64 / 1000.0
                },
                rpo_lag_writes: s.origin_head.saturating_sub(applied),
                rpo_lag: Some(summarize(&s.rpo_lag_us)),
                refused_writes: s.refused_writes,
                stuck_reason: s.stuck_reason.clone(),
            }
        })
        .collect();
    pb::NodeStatus {
        region: state.region_name().to_owned(),
        mode: match role.mode {
            Mode::GlobalTables => pb::Mode::GlobalTables,
            Mode::AuroraGlobal => pb::Mode::AuroraGlobal,
        } as i32,
        primary: match role.mode {
            Mode::AuroraGlobal => role
                .primary
                .map(|p| state.regions.name(p).to_owned())
                .unwrap_or_default(),
            Mode::GlobalTables => String::new(),
        },
        epoch: role.epoch,
        writable,
        clock: clock_mode.name().to_owned(),
        items,
        log_head: head,
        log_base,
        writes_local: counters.writes_local,
        conflicts,
        lost_writes: lost,
        links,
        uptime_ms: state.started.elapsed().as_millis() as u64,
        incarnation: state.incarnation.to_string(),
        forwarded_writes: state.forwarded.load(Ordering::Relaxed),
        divergent_writes: divergent,
        clock_skew_ms: skew_us as f64 / 1000.0,
        write_forwarding: state.opts.cluster.write_forwarding,
        rpo_bound_ms: state.opts.cluster.rpo_bound_ms,
        frozen: role.frozen,
        fences: role
            .fences
            .iter()
            .map(|f| fence_to_pb(&state.regions, f))
            .collect(),
        secondaries,
        rpo_refusals: state.rpo_refusals.load(Ordering::Relaxed),
        pull_stream_refusals: state.pull_stream_refusals.load(Ordering::Relaxed),
        catch_up_writes: state.catch_up_writes.load(Ordering::Relaxed),
        tombstones_pending: tombstones.pending,
        tombstones_candidates: tombstones.candidates,
        tombstones_collected: tombstones.collected,
        collects_tombstones: state.opts.cluster.collects_tombstones(),
        multi_region_consistency: state
            .opts
            .cluster
            .multi_region_consistency
            .name()
            .to_owned(),
        witness: state.strong.as_ref().is_some_and(|s| s.witness),
        quorum: match &state.strong {
            None => String::new(),
            Some(s) if !s.participating() => {
                format!("starting without its state: {}", s.rejoining())
            }
            Some(_) => match (state.quorum_lost(), state.catching_up()) {
                (Some(why), _) => format!("lost: {why}"),
                (None, Some(how)) => format!("catching up {how}"),
                (None, None) => "ok".to_owned(),
            },
        },
        write_conflicts: state
            .strong
            .as_ref()
            .map_or(0, |s| s.write_conflicts.load(Ordering::Relaxed)),
        quorum_refusals: state
            .strong
            .as_ref()
            .map_or(0, |s| s.quorum_refusals.load(Ordering::Relaxed)),
        in_doubt_writes: state
            .strong
            .as_ref()
            .map_or(0, |s| s.in_doubt_writes.load(Ordering::Relaxed)),
    }
}

/// A fence on the wire.
pub fn fence_to_pb(regions: &Regions, f: &Fence) -> pb::Fence {
    pb::Fence {
        region: regions.name(f.region).to_owned(),
        after_seq: f.after_seq,
        epoch: f.epoch,
        cut_at_us: f.cut_at_us,
    }
}

/// A link setting on the wire.
pub fn link_to_pb(
    regions: &Regions,
    from: RegionId,
    to: RegionId,
    s: &LinkSetting,
) -> pb::LinkSetting {
    pb::LinkSetting {
        from: regions.name(from).to_owned(),
        to: regions.name(to).to_owned(),
        latency_ms: s.latency_ms,
        jitter_ms: s.jitter_ms,
        loss: s.loss,
        partitioned: s.partitioned,
    }
}

/// Summary of a µs histogram, in ms.
pub fn summarize(h: &Histogram<u64>) -> pb::LatencySummary {
    let ms = |v: u64| v as f64 / 1000.0;
    if h.is_empty() {
        return pb::LatencySummary::default();
    }
    pb::LatencySummary {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    }
}
