//! Tombstone collection: a tombstone goes only once every region settled it (confirmed, what
//! came before it applied, the logs truncated past it); a write after a collection still comes
//! after the delete where the tombstone is held yet; anti-entropy does not bring it back. A
//! property test runs random schedules with and without collection and compares what every
//! region ends with and every loss reported.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::{clock::ClockMode, testkit::Sim};

fn live(store: &Store) -> Vec<(String, Uuid)> {
    let mut v: Vec<_> = store
        .iter()
        .filter(|w| !w.is_tombstone())
        .map(|w| (w.key().to_owned(), w.id))
        .collect();
    v.sort();
    v
}

fn collect_everywhere(sim: &mut Sim) -> usize {
    (0..sim.cores.len()).map(|r| sim.collect_round(r)).sum()
}

fn truncate_everywhere(sim: &mut Sim) {
    for r in 0..sim.cores.len() {
        sim.truncate(r);
    }
}

#[test]
fn a_tombstone_goes_once_every_region_confirmed_it_and_the_logs_are_truncated_past_it() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]).collecting();
    sim.put(0, "k", "v");
    sim.put(0, "other", "v");
    sim.settle();
    sim.delete(1, "k");
    assert_eq!(
        collect_everywhere(&mut sim),
        0,
        "the others have not got it"
    );
    sim.deliver(1, 0, 10);
    assert_eq!(collect_everywhere(&mut sim), 0, "region 2 has not got it");
    sim.settle();
    assert_eq!(
        collect_everywhere(&mut sim),
        0,
        "the logs still hold the put"
    );
    truncate_everywhere(&mut sim);
    // First round: every region learns the others' heads; the next collects.
    collect_everywhere(&mut sim);
    collect_everywhere(&mut sim);
    for (i, c) in sim.cores.iter().enumerate() {
        assert!(
            c.store().get("k").is_none(),
            "region {i} dropped the tombstone"
        );
        assert!(c.store().get("other").is_some());
        assert_eq!(c.tombstone_counts().collected, 1, "region {i}");
        assert_eq!(c.tombstone_counts().candidates, 0, "region {i}");
    }
}

#[test]
fn a_write_concurrent_with_the_delete_still_in_flight_keeps_the_tombstone() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]).collecting();
    sim.put(0, "k", "v");
    sim.settle();
    let t = sim.delete(0, "k");
    let v = sim.put(2, "k", "concurrent"); // before region 2 applied the delete
    sim.deliver(0, 1, 10);
    sim.deliver(0, 2, 10);
    // Regions 0 and 1 have the tombstone current; region 2's put has not reached them.
    sim.deliver(2, 1, 10);
    truncate_everywhere(&mut sim);
    for _ in 0..3 {
        collect_everywhere(&mut sim);
    }
    let current = sim.cores[0].store().get("k").cloned().expect("kept");
    assert_eq!(
        current.id, t.id,
        "region 0 keeps the tombstone until region 2's put arrives"
    );
    sim.settle();
    let winner = if v.beats(&t) { v.id } else { t.id };
    for c in &sim.cores {
        assert_eq!(c.store().get("k").map(|w| w.id), Some(winner));
    }
    let losses = sim
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Conflict { .. }))
        .count();
    assert!(losses > 0, "the conflict is reported");
}

#[test]
fn a_write_after_a_collection_comes_after_the_delete_where_the_tombstone_is_held_yet() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]).collecting();
    sim.put(1, "k", "v");
    sim.settle();
    sim.delete(2, "k");
    sim.settle();
    truncate_everywhere(&mut sim);
    // Region 0 collects; regions 1 and 2 hold the tombstone yet.
    assert_eq!(sim.collect_round(0), 1);
    assert!(
        sim.cores[1]
            .store()
            .get("k")
            .is_some_and(|w| w.is_tombstone())
    );
    let again = sim.put(0, "k", "again");
    let before = sim.outcomes.len();
    sim.deliver(0, 1, 10);
    assert_eq!(
        sim.outcomes[before..],
        [(1, Outcome::Overwrote)],
        "an ordinary overwrite, not a conflict with the delete"
    );
    assert_eq!(sim.cores[1].store().get("k").map(|w| w.id), Some(again.id));
}

#[test]
fn anti_entropy_does_not_bring_back_a_collected_tombstone_or_what_it_deleted() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]).collecting();
    sim.put(1, "k", "v");
    sim.settle();
    sim.delete(0, "k");
    sim.settle();
    truncate_everywhere(&mut sim);
    assert_eq!(sim.collect_round(1), 1);
    // Region 0 (the tombstone's origin) and 2 still hold it; they repair region 1.
    sim.repair(0, 1);
    sim.repair(2, 1);
    assert!(sim.cores[1].store().get("k").is_none(), "not brought back");
    let t = sim.cores[0].store().get("k").cloned().expect("held yet");
    assert!(sim.cores[1].is_collected(&t, sim.delivered(0, 1), false));
    // The origin collects too, then region 2 sends the tombstone back to it.
    assert_eq!(sim.collect_round(0), 1);
    let now = sim.now_us;
    assert!(
        sim.cores[0].check_repair(&t, now, false).is_ok(),
        "its own, collected"
    );
    sim.repair(2, 0);
    assert!(sim.cores[0].store().get("k").is_none());
}

#[test]
fn a_log_still_holding_what_the_delete_superseded_keeps_the_tombstone() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]).collecting();
    sim.put(1, "k", "v");
    sim.settle();
    sim.delete(0, "k");
    sim.settle();
    // The delete's origin truncates its log; region 1's log still holds the put.
    sim.truncate(0);
    sim.truncate(2);
    assert_eq!(collect_everywhere(&mut sim), 0);
    assert_eq!(collect_everywhere(&mut sim), 0);
    // Region 2 loses its state and pulls the logs again: it gets the put from region 1's log
    // and the tombstone from region 0's store (served for the truncated part of its log).
    sim.wipe(2);
    sim.settle();
    assert!(
        sim.cores[2]
            .store()
            .get("k")
            .is_some_and(|w| w.is_tombstone())
    );
    truncate_everywhere(&mut sim);
    collect_everywhere(&mut sim);
    collect_everywhere(&mut sim);
    for c in &sim.cores {
        assert!(c.store().get("k").is_none());
    }
}

#[test]
fn dots_grow_along_the_log_across_keys() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let a = sim.put(0, "a", "v");
    let b = sim.put(0, "b", "v");
    let a2 = sim.put(0, "a", "v");
    let r0 = RegionId::from_index(0);
    assert!(a.context.get(r0) < b.context.get(r0));
    assert!(b.context.get(r0) < a2.context.get(r0));
}

#[test]
fn the_queue_drops_superseded_tombstones_while_the_candidates_are_at_their_cap() {
    use tombstones::{MAX_CANDIDATES, Tombstones};
    let tombstone = |n: usize| {
        Arc::new(Write {
            payload: Payload::new(&format!("k{n}"), None),
            version: Version {
                timestamp: Timestamp {
                    physical_us: n as u64,
                    logical: 0,
                },
                region: RegionId::from_index(0),
            },
            id: Uuid::from_u128(n as u128),
            context: Default::default(),
            commit_us: 0,
            epoch: 0,
            seq: n as u64,
        })
    };
    let mut t = Tombstones::default();
    t.enable(0);
    // Current tombstones fill the candidates and stay queued behind them.
    let held = MAX_CANDIDATES + 10;
    for n in 0..held {
        t.became_current(&tombstone(n));
    }
    let current = |w: &Write| w.seq < held as u64;
    t.promote(1, 0, 3, current);
    assert_eq!(t.counts().candidates, MAX_CANDIDATES as u64);
    assert_eq!(t.counts().pending, 10);
    // Many more deletes, each superseded by the time a round runs (the key written again).
    for round in 0..4 {
        for n in 0..MAX_CANDIDATES {
            t.became_current(&tombstone(held + round * MAX_CANDIDATES + n));
        }
        t.promote(1, 0, 3, current);
    }
    // Only the ten current ones are left queued: they are collected once there is room.
    assert_eq!(
        t.counts().pending,
        10,
        "after 4 x {MAX_CANDIDATES} superseded deletes"
    );
}

/// One step of a schedule.
#[derive(Clone, Debug)]
enum Step {
    Put(usize, u8),
    Delete(usize, u8),
    Deliver(usize, usize, usize),
    Truncate(usize),
    Collect(usize),
    Repair(usize, usize),
    Wipe(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 0..3u8).prop_map(|(r, k)| Step::Put(r, k)),
        3 => (0..3usize, 0..3u8).prop_map(|(r, k)| Step::Delete(r, k)),
        5 => (0..3usize, 0..3usize, 1..4usize).prop_map(|(f, t, n)| Step::Deliver(f, t, n)),
        3 => (0..3usize).prop_map(Step::Truncate),
        4 => (0..3usize).prop_map(Step::Collect),
        1 => (0..3usize, 0..3usize).prop_map(|(f, t)| Step::Repair(f, t)),
    ]
}

/// [`step`], and now and then a region losing its state.
fn step_or_wipe() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => step(),
        1 => (0..3usize).prop_map(Step::Wipe),
    ]
}

fn run(steps: &[Step], collect: bool) -> Sim {
    let sim = Sim::new(ClockMode::Hybrid, &[0, 300, -200]);
    let mut sim = if collect { sim.collecting() } else { sim };
    for s in steps {
        match *s {
            Step::Put(r, k) => {
                sim.put(r, &format!("k{k}"), "v");
            }
            Step::Delete(r, k) => {
                sim.delete(r, &format!("k{k}"));
            }
            Step::Deliver(f, t, n) => sim.deliver(f, t, n),
            Step::Truncate(r) => {
                sim.truncate(r);
            }
            Step::Collect(r) if collect => {
                sim.collect_round(r);
            }
            Step::Collect(_) => {}
            Step::Repair(f, t) => sim.repair(f, t),
            Step::Wipe(r) => sim.wipe(r),
        }
    }
    sim.settle();
    truncate_everywhere(&mut sim);
    if collect {
        for _ in 0..3 {
            collect_everywhere(&mut sim);
        }
    }
    sim.settle();
    sim
}

/// Every write some region reported lost, with how it lost.
fn losses(sim: &Sim) -> BTreeSet<(Uuid, bool)> {
    sim.outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Conflict { loser, .. } => Some((loser.id, true)),
            Outcome::CausalInversion { loser, .. } => Some((loser.id, false)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Collecting tombstones is invisible: every region ends with the same live keys as without
    /// it, every region agrees, the same writes are reported lost, and a settled cluster holds
    /// no tombstone at all.
    #[test]
    fn collecting_tombstones_changes_nothing_visible(steps in prop::collection::vec(step(), 1..80)) {
        let plain = run(&steps, false);
        let collected = run(&steps, true);
        for (a, b) in plain.cores.iter().zip(&collected.cores) {
            prop_assert_eq!(live(a.store()), live(b.store()));
        }
        for c in &collected.cores {
            prop_assert_eq!(live(c.store()), live(collected.cores[0].store()));
            prop_assert_eq!(c.store().iter().filter(|w| w.is_tombstone()).count(), 0);
        }
        prop_assert_eq!(losses(&plain), losses(&collected));
    }

    /// With regions losing their state too (then a region's new writes to a collected key may
    /// be reported as conflicts with the tombstone, so losses are not compared): nothing
    /// collected comes back — every region holds the live keys it holds without collection.
    #[test]
    fn collecting_tombstones_brings_nothing_back_when_regions_lose_their_state(
        steps in prop::collection::vec(step_or_wipe(), 1..80)
    ) {
        let plain = run(&steps, false);
        let collected = run(&steps, true);
        for (a, b) in plain.cores.iter().zip(&collected.cores) {
            prop_assert_eq!(live(a.store()), live(b.store()));
        }
    }
}
