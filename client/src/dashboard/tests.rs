//! The dashboard's pure parts, without a network: raw samples built by hand go through
//! [`State::update`] and the snapshots say what the page would show — rates from counters,
//! the lag of the writes applied between two updates, states in words, role changes, and
//! bounded history and recordings.

use std::collections::BTreeMap;

use meridian_proto::v1 as pb;

use super::{
    derive::{interval_mean_lag, quantile, rate},
    feed::Cursor,
    model::{Controls, RoleChange},
    sample::{Process, RawRegion, RawSample},
    state::{HISTORY_SECONDS, MAX_RECORDED_SNAPSHOTS, State},
};
use crate::load::live::LiveLoad;

const REGIONS: [&str; 3] = ["a", "b", "c"];

/// A link into a node from `origin`.
fn link(origin: &str, to: &str, connected: bool, lag: (u64, f64)) -> pb::LinkStatus {
    pb::LinkStatus {
        origin: origin.into(),
        setting: Some(pb::LinkSetting {
            from: origin.into(),
            to: to.into(),
            latency_ms: 40.0,
            jitter_ms: 2.0,
            loss: 0.0,
            partitioned: false,
        }),
        connected,
        pending: 0,
        writes_applied: lag.0,
        lag: Some(pb::LatencySummary {
            count: lag.0,
            mean: lag.1,
            p50: lag.1,
            p99: lag.1 * 1.5,
            ..Default::default()
        }),
        last_lag_ms: lag.1,
        ..Default::default()
    }
}

/// A Global Tables node's status: every peer connected, the given counters.
fn status(region: &str, writes: u64, conflicts: u64, lag: (u64, f64)) -> pb::NodeStatus {
    pb::NodeStatus {
        region: region.into(),
        mode: pb::Mode::GlobalTables as i32,
        writable: true,
        writes_local: writes,
        conflicts,
        incarnation: format!("inc-{region}"),
        links: REGIONS
            .iter()
            .filter(|o| **o != region)
            .map(|o| link(o, region, true, lag))
            .collect(),
        ..Default::default()
    }
}

fn raw(at_s: f64, regions: Vec<RawRegion>) -> RawSample {
    RawSample {
        at_ms: (1_000_000.0 + at_s * 1000.0) as u64,
        mono_s: at_s,
        regions,
        links: None,
    }
}

fn up(s: pb::NodeStatus) -> RawRegion {
    RawRegion {
        name: s.region.clone(),
        addr: "127.0.0.1:1".into(),
        status: Some(s),
        ..RawRegion::default()
    }
}

fn down(region: &str, process: Process) -> RawRegion {
    RawRegion {
        name: region.into(),
        addr: "127.0.0.1:1".into(),
        error: Some("Unavailable: connection refused".into()),
        process,
        ..RawRegion::default()
    }
}

fn state() -> State {
    State::new(500, Controls::default(), false)
}

#[test]
fn rates_are_per_second_and_unknown_across_a_restart() {
    assert_eq!(rate(Some(10), Some(30), 0.5), Some(40.0));
    assert_eq!(
        rate(Some(30), Some(10), 0.5),
        None,
        "a counter that went back"
    );
    assert_eq!(rate(None, Some(10), 0.5), None);
    assert_eq!(rate(Some(1), Some(2), 0.0), None);
}

#[test]
fn the_lag_of_an_update_is_the_mean_of_the_writes_applied_in_it() {
    let summary = |count, mean| pb::LatencySummary {
        count,
        mean,
        ..Default::default()
    };
    // 10 writes at 40 ms, then 10 more averaging 100 ms: the total went from 400 to 1400.
    assert_eq!(
        interval_mean_lag(Some(&summary(10, 40.0)), Some(&summary(20, 70.0))),
        Some(100.0)
    );
    assert_eq!(
        interval_mean_lag(Some(&summary(20, 70.0)), Some(&summary(20, 70.0))),
        None,
        "no write applied"
    );
    assert_eq!(quantile(&[5.0, 1.0, 3.0], 0.5), Some(3.0));
    assert_eq!(quantile(&[5.0, 1.0, 3.0], 0.99), Some(5.0));
    assert_eq!(quantile(&[], 0.5), None);
}

#[test]
fn successive_samples_give_write_conflict_and_lag_rates() {
    let mut st = state();
    let first = st.update(
        raw(
            0.0,
            REGIONS
                .iter()
                .map(|r| up(status(r, 100, 5, (10, 40.0))))
                .collect(),
        ),
        None,
    );
    assert_eq!(first.seq, 1);
    assert_eq!(first.regions[0].write_rate, None, "no rate from one sample");
    let s = st.update(
        raw(
            0.5,
            vec![
                up(status("a", 150, 6, (20, 70.0))),
                up(status("b", 100, 5, (10, 40.0))),
                up(status("c", 100, 5, (10, 40.0))),
            ],
        ),
        None,
    );
    assert_eq!(s.seq, 2);
    let a = &s.regions[0];
    assert_eq!((a.state.as_str(), a.health.as_str()), ("up", "up"));
    assert_eq!(a.role.as_deref(), Some("read-write"));
    assert_eq!(a.write_rate, Some(100.0));
    assert_eq!(a.conflict_rate, Some(2.0));
    assert_eq!((a.reachable_peers, a.peers, a.majority), (2, 2, true));
    let into_a = s
        .links
        .iter()
        .find(|l| l.from == "b" && l.to == "a")
        .unwrap();
    assert_eq!(into_a.state, "ok");
    assert_eq!(into_a.lag_ms, Some(100.0));
    assert_eq!(into_a.apply_rate, Some(20.0));
    assert_eq!(into_a.lag_p50_ms, Some(70.0), "since start, from the node");
    let into_b = s.links.iter().find(|l| l.to == "b").unwrap();
    assert_eq!(into_b.lag_ms, None, "nothing applied into b in between");
    assert_eq!(s.links.len(), 6, "every ordered pair");
    assert_eq!(s.totals.conflicts, 16);
    assert_eq!(s.point.conflicts, Some(2.0));
    assert_eq!(s.point.links["b>a"].lag_ms, Some(100.0));
}

#[test]
fn a_restarted_node_has_no_rates_until_its_second_sample() {
    let mut st = state();
    st.update(raw(0.0, vec![up(status("a", 100, 0, (0, 0.0)))]), None);
    let mut restarted = status("a", 3, 0, (0, 0.0));
    restarted.incarnation = "inc-a-2".into();
    let s = st.update(raw(0.5, vec![up(restarted)]), None);
    assert_eq!(s.regions[0].write_rate, None);
}

#[test]
fn a_down_region_and_its_links_say_down_in_words() {
    let mut st = state();
    let mut a = status("a", 1, 0, (1, 10.0));
    a.links
        .iter_mut()
        .find(|l| l.origin == "c")
        .unwrap()
        .connected = false;
    let s = st.update(
        raw(
            0.0,
            vec![
                up(a),
                up(status("b", 1, 0, (1, 10.0))),
                down("c", Process::Gone(4242)),
            ],
        ),
        None,
    );
    let c = &s.regions[2];
    assert_eq!(c.state, "down");
    assert_eq!(c.health, "down (process not running)");
    assert_eq!(c.pid, Some(4242));
    assert!(c.error.as_deref().unwrap().contains("connection refused"));
    for l in s.links.iter().filter(|l| l.from == "c" || l.to == "c") {
        assert_eq!(l.state, "down", "{} -> {}", l.from, l.to);
    }
    assert_eq!(s.cluster.regions_up, 2);
    let hung = st.update(raw(0.5, vec![down("a", Process::Running(7))]), None);
    assert_eq!(
        hung.regions[0].health,
        "down (process running, not answering)"
    );
}

#[test]
fn a_strong_region_catching_up_says_so() {
    let mut c = status("c", 1, 0, (1, 10.0));
    c.quorum = "catching up after a restart: asking a and b for their log heads".into();
    let s = state().update(
        raw(0.0, vec![up(status("a", 1, 0, (1, 10.0))), up(c)]),
        None,
    );
    assert_eq!(
        s.regions[1].health,
        "up; catching up after a restart: asking a and b for their log heads"
    );
}

#[test]
fn a_partition_is_named_on_the_region_and_on_its_links() {
    let mut st = state();
    let cut = |mut s: pb::NodeStatus, from: &[&str]| {
        for l in &mut s.links {
            if from.contains(&l.origin.as_str()) {
                l.setting.as_mut().unwrap().partitioned = true;
                l.connected = false;
            }
        }
        s
    };
    let mut c = status("c", 1, 0, (1, 10.0));
    c = cut(c, &["a", "b"]);
    let a = cut(status("a", 1, 0, (1, 10.0)), &["c"]);
    let b = cut(status("b", 1, 0, (1, 10.0)), &["c"]);
    let s = st.update(raw(0.0, vec![up(a), up(b), up(c)]), None);
    let c = &s.regions[2];
    assert_eq!(c.health, "partitioned");
    assert!(c.partitioned);
    let ca = s
        .links
        .iter()
        .find(|l| l.from == "c" && l.to == "a")
        .unwrap();
    assert_eq!(ca.backlog, Some(0), "nothing written at c yet");
    assert_eq!(c.partitioned_from, ["a", "b"]);
    assert_eq!((c.reachable_peers, c.majority), (0, false));
    assert_eq!(s.regions[0].health, "partitioned from c");
    assert!(!s.regions[0].partitioned);
    let ca = s
        .links
        .iter()
        .find(|l| l.from == "c" && l.to == "a")
        .unwrap();
    assert_eq!(ca.state, "partitioned");
    let ab = s
        .links
        .iter()
        .find(|l| l.from == "a" && l.to == "b")
        .unwrap();
    assert_eq!(ab.state, "ok");
}

#[test]
fn the_backlog_is_the_origins_head_beyond_what_the_receiver_applied() {
    let mut st = state();
    let mut a = status("a", 0, 0, (0, 0.0));
    a.log_head = 12;
    let mut b = status("b", 0, 0, (0, 0.0));
    let from_a = b.links.iter_mut().find(|l| l.origin == "a").unwrap();
    from_a.applied_seq = 5;
    from_a.pending = 0; // cut off, b has not heard of a's new writes
    let s = st.update(raw(0.0, vec![up(a), up(b)]), None);
    let ab = s
        .links
        .iter()
        .find(|l| l.from == "a" && l.to == "b")
        .unwrap();
    assert_eq!((ab.pending, ab.backlog), (Some(0), Some(7)));
    assert_eq!(s.point.links["a>b"].backlog, Some(7));
    let s = st.update(
        raw(
            0.5,
            vec![down("a", Process::Unknown), up(status("b", 0, 0, (0, 0.0)))],
        ),
        None,
    );
    let ab = s
        .links
        .iter()
        .find(|l| l.from == "a" && l.to == "b")
        .unwrap();
    assert_eq!(ab.backlog, None, "unknown while the origin is down");
}

#[test]
fn a_disconnected_stream_is_named_so() {
    let mut st = state();
    let mut a = status("a", 1, 0, (1, 10.0));
    a.links
        .iter_mut()
        .find(|l| l.origin == "b")
        .unwrap()
        .connected = false;
    let s = st.update(
        raw(0.0, vec![up(a), up(status("b", 1, 0, (1, 10.0)))]),
        None,
    );
    let ba = s
        .links
        .iter()
        .find(|l| l.from == "b" && l.to == "a")
        .unwrap();
    assert_eq!(ba.state, "disconnected");
}

fn aurora(region: &str, primary: &str, epoch: u64) -> pb::NodeStatus {
    let mut s = status(region, 0, 0, (0, 0.0));
    s.mode = pb::Mode::AuroraGlobal as i32;
    s.primary = primary.into();
    s.epoch = epoch;
    s.writable = region == primary;
    if region == primary {
        s.secondaries = REGIONS
            .iter()
            .filter(|r| **r != region)
            .map(|r| pb::SecondaryStatus {
                region: (*r).into(),
                rpo_lag_ms: 12.5,
                ..Default::default()
            })
            .collect();
    }
    s
}

#[test]
fn aurora_roles_split_brain_and_role_changes_seen_from_outside() {
    let mut st = state();
    let s = st.update(
        raw(0.0, REGIONS.iter().map(|r| up(aurora(r, "a", 1))).collect()),
        None,
    );
    assert_eq!(s.cluster.mode.as_deref(), Some("aurora-global"));
    assert_eq!(s.cluster.primary.as_deref(), Some("a"));
    assert_eq!(s.regions[0].role.as_deref(), Some("primary"));
    assert_eq!(s.regions[1].role.as_deref(), Some("secondary"));
    assert_eq!(s.regions[0].rpo_lag_ms, Some(12.5));
    assert_eq!(s.point.rpo_lag_ms["b"], 12.5);

    // A failover made by `ctl`: b is the primary in epoch 2; a, cut off, still believes it is.
    let s = st.update(
        raw(
            0.5,
            vec![
                up(aurora("a", "a", 1)),
                up(aurora("b", "b", 2)),
                up(aurora("c", "b", 2)),
            ],
        ),
        None,
    );
    assert_eq!(s.cluster.primary.as_deref(), Some("b"));
    assert_eq!(s.cluster.epoch, 2);
    assert_eq!(
        s.regions[0].health,
        "up; cut off: still believes it is the primary (epoch 1 < 2)"
    );
    assert_eq!(s.role_changes.len(), 1);
    let seen = &s.role_changes[0];
    assert_eq!(
        (
            seen.kind.as_str(),
            seen.from.as_str(),
            seen.to.as_str(),
            seen.epoch
        ),
        ("observed", "a", "b", 2)
    );
    assert_eq!(seen.rpo_writes, None, "not known from outside");

    // The report arrives (the demo's failover): it replaces the observation.
    st.record_role_change(RoleChange {
        kind: "failover".into(),
        from: "a".into(),
        to: "b".into(),
        epoch: 2,
        rpo_writes: Some(3),
        rpo_ms: Some(20.0),
        rto_ms: Some(4.0),
        by: "demo".into(),
        ..RoleChange::default()
    });
    let s = st.update(
        raw(
            1.0,
            vec![
                up(aurora("a", "a", 1)),
                up(aurora("b", "b", 2)),
                up(aurora("c", "b", 2)),
            ],
        ),
        None,
    );
    assert_eq!(s.role_changes.len(), 1);
    assert_eq!(s.role_changes[0].kind, "failover");
    assert_eq!(s.role_changes[0].rpo_writes, Some(3));
}

#[test]
fn client_latency_comes_from_the_probes_or_from_the_load_beside_the_dashboard() {
    let mut st = state();
    for (i, ms) in [1.0, 2.0, 3.0, 40.0].iter().enumerate() {
        let mut r = up(status("a", 0, 0, (0, 0.0)));
        r.probe_ms = Some(*ms);
        let s = st.update(raw(i as f64 * 0.5, vec![r]), None);
        if i == 3 {
            let l = s.regions[0].latency.as_ref().unwrap();
            assert_eq!((l.p50_ms, l.p99_ms, l.samples), (2.0, 40.0, 4));
            assert_eq!(l.source, "probe");
        }
    }
    let live = LiveLoad::default();
    live.record("a", crate::workload::OpKind::Get, 5_000, true);
    live.record("a", crate::workload::OpKind::Put, 9_000, true);
    let windows = live.take();
    let s = st.update(
        raw(2.0, vec![up(status("a", 0, 0, (0, 0.0)))]),
        Some(&windows),
    );
    let l = s.regions[0].latency.as_ref().unwrap();
    assert_eq!(l.source, "load");
    assert_eq!(l.samples, 2);
    assert!((l.p99_ms - 9.0).abs() < 0.01, "{}", l.p99_ms);
    assert_eq!(s.regions[0].read_rate, Some(2.0), "1 read in 0.5 s");
    assert_eq!(s.regions[0].read_rate_source.as_deref(), Some("load"));
    let empty = BTreeMap::new();
    let s = st.update(
        raw(2.5, vec![up(status("a", 0, 0, (0, 0.0)))]),
        Some(&empty),
    );
    assert_eq!(
        s.regions[0].latency, None,
        "nothing completed in this update"
    );
}

#[test]
fn reads_per_second_come_from_the_metrics_counter_when_there_is_one() {
    let mut st = state();
    let mut r = up(status("a", 0, 0, (0, 0.0)));
    r.reads_total = Some(100);
    r.probe_sent = true;
    st.update(raw(0.0, vec![r.clone()]), None);
    // 51 more reads, one of them the dashboard's own probe of the last update.
    r.reads_total = Some(151);
    let s = st.update(raw(0.5, vec![r.clone()]), None);
    assert_eq!(s.regions[0].read_rate, Some(100.0));
    assert_eq!(s.regions[0].read_rate_source.as_deref(), Some("metrics"));
    // Only the probe: an idle region reads 0/s.
    r.reads_total = Some(152);
    let s = st.update(raw(1.0, vec![r]), None);
    assert_eq!(s.regions[0].read_rate, Some(0.0));
}

#[test]
fn conflicts_move_the_cursor_and_are_listed_once() {
    let mut st = state();
    let event = |region: &str| pb::ConflictEvent {
        seq: 1,
        kind: pb::EventKind::Conflict as i32,
        key: "k".into(),
        winner: Some(pb::WriteSummary {
            write_id: "w".into(),
            ..Default::default()
        }),
        loser: Some(pb::WriteSummary {
            write_id: "l".into(),
            ..Default::default()
        }),
        region: region.into(),
        detected_at_us: 5,
    };
    let mut a = up(status("a", 0, 1, (0, 0.0)));
    a.events = vec![event("a")];
    a.cursor = Some(Cursor {
        after: 1,
        incarnation: "inc-a".into(),
    });
    let mut b = up(status("b", 0, 1, (0, 0.0)));
    b.events = vec![event("b")];
    let s = st.update(raw(0.0, vec![a, b]), None);
    assert_eq!(s.conflicts.len(), 1);
    assert_eq!(s.conflicts[0].detected_by, ["a", "b"]);
    assert_eq!(st.feed().cursor("a").after, 1);
    st.retarget();
    assert_eq!(
        st.feed().cursor("a").after,
        0,
        "a new cluster is read from its start"
    );
    let s = st.update(raw(0.5, vec![]), None);
    assert_eq!(s.conflicts.len(), 1, "the list outlives a retarget");
}

#[test]
fn history_and_recordings_stay_bounded() {
    let mut st = State::new(500, Controls::default(), true);
    let keep = (HISTORY_SECONDS * 2) as usize;
    let n = MAX_RECORDED_SNAPSHOTS + 10;
    for i in 0..n {
        st.update(
            raw(i as f64 * 0.5, vec![up(status("a", i as u64, 0, (0, 0.0)))]),
            None,
        );
    }
    let h = st.history();
    assert_eq!(h.len(), keep);
    assert!(h[0].t < h[keep - 1].t);
    let rec = st.recording().unwrap();
    assert!(rec.snapshots.len() < MAX_RECORDED_SNAPSHOTS);
    assert!(rec.snapshots.len() >= MAX_RECORDED_SNAPSHOTS / 2);
    assert!(
        rec.snapshots.last().unwrap().seq as usize > n - 4,
        "the recording reaches the end of the run"
    );
    assert!(rec.snapshots.iter().all(|s| !s.controls.enabled));
    assert!(state().recording().is_none(), "not recording unless asked");
}

#[test]
fn actions_are_numbered_newest_first_and_bounded() {
    let mut st = state();
    for i in 0..25 {
        st.record_action(format!("partition r{i}"), i % 2 == 0, "done".into(), i);
    }
    let s = st.update(raw(0.0, vec![]), None);
    assert_eq!(s.actions.len(), 20);
    assert_eq!(s.actions[0].id, 25);
    assert_eq!(s.actions[0].action, "partition r24");
}
