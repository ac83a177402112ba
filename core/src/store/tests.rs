//! Merge tests: tables of single merges, and property tests over random causal histories.

use std::{collections::HashSet, sync::Arc};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{
    clock::{ClockMode, Timestamp},
    testkit::{Rng, Sim, state_of},
};

fn r(i: usize) -> RegionId {
    RegionId::from_index(i)
}

fn write(id: u128, ts: u64, region: usize, ctx: &[u64], value: Option<&str>) -> Arc<Write> {
    Arc::new(Write {
        payload: Payload::new("k", value.map(str::as_bytes)),
        version: Version {
            timestamp: Timestamp::at(ts),
            region: r(region),
        },
        id: Uuid::from_u128(id),
        context: ctx.iter().enumerate().map(|(i, n)| (r(i), *n)).collect(),
        commit_us: ts,
        epoch: 0,
        seq: 1,
    })
}

#[test]
fn merge_table() {
    // (current, incoming, expected outcome name, expected winner id)
    let a1 = write(1, 10, 0, &[1, 0], Some("a1"));
    let b1 = write(2, 20, 1, &[0, 1], Some("b1"));
    let b2_after_a1 = write(3, 30, 1, &[1, 1], Some("b2"));
    let a_older_after = write(4, 5, 0, &[2, 1], Some("a-skewed"));
    let tomb = write(5, 40, 0, &[2, 0, 0], None);
    let c1 = write(6, 40, 2, &[0, 0, 1], Some("c1"));
    let cases: Vec<(Arc<Write>, Arc<Write>, &str, u128)> = vec![
        (a1.clone(), a1.clone(), "duplicate", 1),
        (a1.clone(), b1.clone(), "conflict", 2),
        (b1.clone(), a1.clone(), "conflict", 2),
        (a1.clone(), b2_after_a1.clone(), "overwrote", 3),
        (b2_after_a1.clone(), a1.clone(), "superseded", 3),
        (b2_after_a1.clone(), a_older_after.clone(), "inversion", 3),
        (a1.clone(), tomb.clone(), "overwrote", 5),
        // equal timestamps: the greater region name wins, both ways
        (tomb.clone(), c1.clone(), "conflict", 6),
        (c1.clone(), tomb.clone(), "conflict", 6),
    ];
    for (current, incoming, want, winner) in cases {
        let mut s = Store::new();
        s.apply(current.clone());
        let got = match s.apply(incoming.clone()) {
            Outcome::Inserted => "inserted",
            Outcome::Overwrote => "overwrote",
            Outcome::Duplicate => "duplicate",
            Outcome::Superseded => "superseded",
            Outcome::Conflict { winner, loser } => {
                assert!(
                    loser.version < winner.version,
                    "loser has the smaller version"
                );
                "conflict"
            }
            Outcome::CausalInversion { .. } => "inversion",
        };
        assert_eq!(got, want, "current {} incoming {}", current.id, incoming.id);
        assert_eq!(
            s.get("k").unwrap().id,
            Uuid::from_u128(winner),
            "winner for {} <- {}",
            current.id,
            incoming.id
        );
    }
}

#[test]
fn tombstones_take_part_in_lww_like_values() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    sim.put(0, "k", "v");
    let del = sim.delete(1, "k");
    sim.settle();
    for c in &sim.cores {
        let cur = c.store().get("k").unwrap();
        assert_eq!(cur.id, del.id);
        assert!(cur.is_tombstone());
    }
}

#[test]
fn retransmitted_loser_is_not_counted_twice() {
    let a1 = write(1, 10, 0, &[1, 0], Some("a1"));
    let b1 = write(2, 20, 1, &[0, 1], Some("b1"));
    let mut s = Store::new();
    s.apply(b1);
    assert!(matches!(s.apply(a1.clone()), Outcome::Conflict { .. }));
    assert_eq!(s.apply(a1), Outcome::Superseded);
}

/// A step of a random history.
#[derive(Clone, Debug)]
enum Step {
    Put(usize, u8),
    Delete(usize, u8),
    Deliver(usize, usize, usize),
}

fn step(regions: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..regions, 0u8..4).prop_map(|(r, k)| Step::Put(r, k)),
        1 => (0..regions, 0u8..4).prop_map(|(r, k)| Step::Delete(r, k)),
        3 => (0..regions, 0..regions, 1usize..4).prop_map(|(a, b, n)| Step::Deliver(a, b, n)),
    ]
}

fn run(mode: ClockMode, skews: &[i64], steps: &[Step]) -> Sim {
    let mut sim = Sim::new(mode, skews);
    for s in steps {
        match *s {
            Step::Put(r, k) => {
                let value = format!("v{}", sim.now_us);
                sim.put(r, &format!("k{k}"), &value);
            }
            Step::Delete(r, k) => {
                sim.delete(r, &format!("k{k}"));
            }
            Step::Deliver(a, b, n) => sim.deliver(a, b, n),
        }
    }
    sim
}

fn history() -> impl Strategy<Value = (bool, Vec<i64>, Vec<Step>)> {
    (
        any::<bool>(),
        proptest::collection::vec(-2_000i64..2_000, 3),
    )
        .prop_flat_map(|(wall, skews)| {
            (
                Just(wall),
                Just(skews),
                proptest::collection::vec(step(3), 1..60),
            )
        })
}

fn mode(wall: bool) -> ClockMode {
    if wall {
        ClockMode::Wall
    } else {
        ClockMode::Hybrid
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any order and any duplication of a set of writes, tombstones included, ends in the same
    /// state: the LWW-greatest write of each key.
    #[test]
    fn any_order_and_duplication_converges((wall, skews, steps) in history(), seed in any::<u64>()) {
        let sim = run(mode(wall), &skews, &steps);
        let writes = sim.all_writes();
        let mut reference = Store::new();
        for w in &writes { reference.apply(w.clone()); }
        let mut rng = Rng::new(seed);
        let mut shuffled: Vec<_> = writes.iter().cloned().chain(writes.iter().filter(|_| rng.below(3) == 0).cloned()).collect();
        rng.shuffle(&mut shuffled);
        let mut other = Store::new();
        for w in shuffled { other.apply(w); }
        prop_assert_eq!(state_of(&reference), state_of(&other));
        for w in &writes {
            let cur = reference.get(w.key()).unwrap();
            prop_assert!(!w.beats(cur), "current of {} is the LWW-greatest write", w.key());
        }
    }

    /// After every write is delivered everywhere, every region holds the same state.
    #[test]
    fn regions_converge_after_settling((wall, skews, steps) in history()) {
        let mut sim = run(mode(wall), &skews, &steps);
        sim.settle();
        let first = state_of(sim.cores[0].store());
        for c in &sim.cores[1..] { prop_assert_eq!(&first, &state_of(c.store())); }
    }

    /// Conflicts are only ever reported between concurrent writes, naming the smaller version as
    /// loser; a causal overwrite is never a conflict.
    #[test]
    fn conflicts_are_between_concurrent_writes_only((wall, skews, steps) in history()) {
        let mut sim = run(mode(wall), &skews, &steps);
        sim.settle();
        for (_, o) in &sim.outcomes {
            match o {
                Outcome::Conflict { winner, loser } => {
                    prop_assert_eq!(winner.context.compare(&loser.context), Causality::Concurrent);
                    prop_assert!(loser.version < winner.version);
                }
                Outcome::CausalInversion { winner, loser } => {
                    prop_assert!(wall, "causal inversions need wall clocks");
                    prop_assert_eq!(loser.context.compare(&winner.context), Causality::After);
                    prop_assert!(loser.version < winner.version);
                }
                _ => {}
            }
        }
    }

    /// Every write that no other write happened after, other than the final value, was
    /// reported lost somewhere (nothing is discarded uncounted).
    #[test]
    fn every_maximal_non_final_write_is_reported_lost((wall, skews, steps) in history()) {
        let mut sim = run(mode(wall), &skews, &steps);
        sim.settle();
        let writes = sim.all_writes();
        let lost: HashSet<Uuid> = sim.outcomes.iter().filter_map(|(_, o)| o.loser().map(|w| w.id)).collect();
        for w in &writes {
            let maximal = !writes.iter().any(|o| o.key() == w.key() && o.id != w.id
                && w.context.compare(&o.context) == Causality::Before);
            let fin = sim.cores[0].store().get(w.key()).unwrap().id == w.id;
            if maximal && !fin {
                prop_assert!(lost.contains(&w.id), "write {} to {} was discarded uncounted", w.id, w.key());
            }
        }
    }

    /// Writes made without seeing each other are always a conflict where they meet.
    #[test]
    fn concurrent_writes_always_conflict(wall in any::<bool>(), skews in proptest::collection::vec(-2_000i64..2_000, 2)) {
        let mut sim = Sim::new(mode(wall), &skews);
        sim.put(0, "k", "a");
        sim.put(1, "k", "b");
        sim.outcomes.clear();
        sim.settle();
        prop_assert_eq!(sim.outcomes.len(), 2);
        for (_, o) in &sim.outcomes { let is_conflict = matches!(o, Outcome::Conflict { .. }); prop_assert!(is_conflict); }
    }

    /// A write made after seeing another is never a conflict with it, in either mode.
    #[test]
    fn causal_overwrite_is_never_a_conflict(wall in any::<bool>(), skews in proptest::collection::vec(-2_000i64..2_000, 3)) {
        let mut sim = Sim::new(mode(wall), &skews);
        sim.put(0, "k", "first");
        sim.deliver(0, 1, 1);
        sim.put(1, "k", "second");
        sim.settle();
        for (_, o) in &sim.outcomes { let is_conflict = matches!(o, Outcome::Conflict { .. }); prop_assert!(!is_conflict); }
    }
}

#[test]
fn a_write_fits_a_128_byte_allocation() {
    // With the two reference counts of its `Arc`, 120 bytes: one 128-byte chunk of glibc's
    // allocator (8 bytes of header). Key and value are a second allocation (`Payload`).
    assert_eq!(std::mem::size_of::<Version>(), 16);
    assert_eq!(std::mem::size_of::<Write>(), 104);
}
