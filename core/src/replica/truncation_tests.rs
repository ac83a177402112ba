//! Own-log truncation: invisible to peers that acknowledged, a wiped peer is served from the
//! store and ends where it would have, fences keep divergent writes, RPO ages stay upper
//! bounds, repair accepts truncated own writes only as no-ops. A property test runs random
//! schedules with and without truncation and compares every outcome.

use std::sync::Arc;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{
    clock::ClockMode,
    testkit::{Sim, state_of},
};

#[test]
fn truncation_stops_at_the_slowest_peer_and_keeps_seqs() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]);
    for i in 0..10 {
        sim.put(0, &format!("k{i}"), "v");
    }
    sim.deliver(0, 1, 10);
    sim.deliver(0, 2, 4);
    assert_eq!(sim.truncate(0), 4, "region 2 has only 4");
    assert_eq!(sim.cores[0].log_head(), 10);
    assert_eq!(sim.cores[0].own_log().len(), 6);
    sim.deliver(0, 2, 100);
    assert_eq!(sim.delivered(0, 2), 10, "the rest came from the log");
    assert_eq!(sim.truncate(0), 10);
    let next = sim.put(0, "k0", "w");
    assert_eq!(next.seq, 11, "seqs run on past the base");
    sim.settle();
    let want = state_of(sim.cores[0].store());
    for c in &sim.cores {
        assert_eq!(state_of(c.store()), want);
    }
}

/// A peer that lost its state after the origin truncated is served the origin's surviving
/// writes from the store: it ends with the same state as a peer that saw the whole log.
#[test]
fn a_wiped_peer_catches_up_from_the_store_after_truncation() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]);
    for round in 0..5 {
        for k in 0..4 {
            sim.put(round % 2, &format!("k{k}"), &format!("r{round}"));
        }
        sim.delete(0, "k3");
        sim.settle();
    }
    sim.truncate(0);
    sim.truncate(1);
    assert_eq!(sim.cores[0].own_log().len(), 0);
    sim.now_us += 1_000;
    sim.wipe(2);
    sim.settle();
    let want = state_of(sim.cores[0].store());
    assert_eq!(state_of(sim.cores[2].store()), want);
    assert_eq!(state_of(sim.cores[1].store()), want);
    // Superseded writes were not served: only each key's current one.
    let served = sim.cores[0].own_writes_between(0, sim.cores[0].log_base());
    assert!(served.iter().all(|w| {
        sim.cores[0]
            .store()
            .get(w.key())
            .is_some_and(|c| Arc::ptr_eq(c, w))
    }));
    assert!(
        served.windows(2).all(|p| p[0].seq < p[1].seq),
        "in seq order"
    );
}

#[test]
fn truncation_keeps_the_writes_a_failover_fence_cut_off() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let w1 = sim.put(0, "a", "1");
    sim.deliver(0, 1, 1);
    let w2 = sim.put(0, "b", "2");
    let w3 = sim.put(0, "c", "3");
    let role = Role {
        mode: Mode::AuroraGlobal,
        primary: Some(RegionId::from_index(1)),
        epoch: 1,
        frozen: false,
        fences: vec![Fence {
            region: RegionId::from_index(0),
            after_seq: w1.seq,
            epoch: 1,
            cut_at_us: 0,
        }],
    };
    for c in &mut sim.cores {
        c.set_role(role.clone()).unwrap();
    }
    sim.deliver(0, 1, 10);
    assert_eq!(sim.delivered(0, 1), 3, "delivered (and refused)");
    assert_eq!(sim.truncate(0), 1, "only up to the fence");
    let ids: Vec<_> = sim.cores[0]
        .divergent_writes()
        .iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, [w2.id, w3.id]);
    assert_eq!(sim.cores[0].divergent_count(), 2);
}

#[test]
fn rpo_age_of_a_truncated_write_counts_from_the_first_write() {
    let mut core = Sim::new(ClockMode::Hybrid, &[0, 0]).cores.remove(0);
    for (i, at) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        core.write(
            &format!("k{i}"),
            put(),
            None,
            Uuid::from_u128(i as u128 + 1),
            at,
        )
        .unwrap();
    }
    assert_eq!(core.truncate_log(2), Some(2));
    assert_eq!(core.truncate_log(2), None, "did not move");
    let lag = core.rpo_lag(2, 10_000);
    assert_eq!((lag.writes, lag.age_us), (1, 7_000), "retained: exact");
    let lag = core.rpo_lag(0, 10_000);
    assert_eq!(
        (lag.writes, lag.age_us),
        (3, 9_000),
        "truncated: from seq 1, never less"
    );
}

#[test]
fn repair_accepts_a_truncated_own_write_only_as_a_no_op() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let old = sim.put(0, "k", "old");
    sim.put(0, "k", "new");
    sim.settle();
    sim.truncate(0);
    assert_eq!(sim.cores[0].log_base(), 2);
    let now = sim.now_us;
    assert_eq!(
        sim.cores[0].check_repair(&old, now, false),
        Ok(()),
        "a peer's stale copy: its dot is known and it would not win"
    );
    let mut forged = (*old).clone();
    forged.version.timestamp.physical_us = now;
    forged.version.timestamp.logical = 99;
    assert!(
        sim.cores[0].check_repair(&forged, now, false).is_err(),
        "one that would win is not ours"
    );
    let mut unknown = (*old).clone();
    unknown.context.set(RegionId::from_index(0), 1 << 40);
    assert!(sim.cores[0].check_repair(&unknown, now, false).is_err());
}

fn put() -> WriteOp {
    WriteOp::Put(Arc::from(&b"v"[..]))
}

/// One step of a schedule.
#[derive(Clone, Debug)]
enum Step {
    Put(usize, u8),
    Delete(usize, u8),
    Deliver(usize, usize, usize),
    Truncate(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 0..4u8).prop_map(|(r, k)| Step::Put(r, k)),
        1 => (0..3usize, 0..4u8).prop_map(|(r, k)| Step::Delete(r, k)),
        3 => (0..3usize, 0..3usize, 1..4usize).prop_map(|(f, t, n)| Step::Deliver(f, t, n)),
        2 => (0..3usize).prop_map(Step::Truncate),
    ]
}

fn run(steps: &[Step], truncate: bool) -> Sim {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 300, -200]);
    for s in steps {
        match *s {
            Step::Put(r, k) => {
                sim.put(r, &format!("k{k}"), "v");
            }
            Step::Delete(r, k) => {
                sim.delete(r, &format!("k{k}"));
            }
            Step::Deliver(f, t, n) => sim.deliver(f, t, n),
            Step::Truncate(r) if truncate => {
                sim.truncate(r);
            }
            Step::Truncate(_) => {}
        }
    }
    sim.settle();
    sim
}

proptest! {
    /// Truncating up to what every peer has is invisible: the same outcomes everywhere (every
    /// conflict and loss reported as before) and the same final states.
    #[test]
    fn truncation_at_the_slowest_peer_changes_nothing(steps in prop::collection::vec(step(), 1..60)) {
        let plain = run(&steps, false);
        let cut = run(&steps, true);
        prop_assert_eq!(format!("{:?}", plain.outcomes), format!("{:?}", cut.outcomes));
        for (a, b) in plain.cores.iter().zip(&cut.cores) {
            prop_assert_eq!(state_of(a.store()), state_of(b.store()));
        }
    }
}
