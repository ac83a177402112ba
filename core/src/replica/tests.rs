//! Replica tests: conditions, increments, roles, and the clock anomalies seen end to end.

use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::{clock::ClockMode, testkit::Sim};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn put(v: &str) -> WriteOp {
    WriteOp::Put(Arc::from(v.as_bytes()))
}

/// The anomaly `wall` mode exists for: region 1's clock runs 1 s behind; it reads region 0's
/// write and overwrites it, but its write carries the smaller timestamp and loses everywhere.
#[test]
fn wall_clock_skew_makes_a_causally_later_write_lose() {
    let mut sim = Sim::new(ClockMode::Wall, &[0, -1_000_000]);
    let first = sim.put(0, "k", "first");
    sim.deliver(0, 1, 1);
    let later = sim.put(1, "k", "later");
    assert!(
        matches!(
            sim.outcomes.last(),
            Some((1, Outcome::CausalInversion { .. }))
        ),
        "lost on arrival"
    );
    sim.settle();
    for c in &sim.cores {
        assert_eq!(
            c.store().get("k").unwrap().id,
            first.id,
            "the causally earlier write won"
        );
    }
    assert!(
        sim.outcomes
            .iter()
            .any(|(_, o)| o.loser().is_some_and(|l| l.id == later.id)),
        "and the loss is reported"
    );
}

/// The same history with hybrid clocks: the later write wins, no anomaly.
#[test]
fn hybrid_clock_lets_the_causally_later_write_win_despite_skew() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, -1_000_000]);
    sim.put(0, "k", "first");
    sim.deliver(0, 1, 1);
    let later = sim.put(1, "k", "later");
    sim.settle();
    for c in &sim.cores {
        assert_eq!(c.store().get("k").unwrap().id, later.id);
    }
    assert!(sim.outcomes.iter().all(|(_, o)| o.loser().is_none()));
}

#[test]
fn conditional_put_passes_in_two_regions_and_one_write_then_loses() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let a = sim.cores[0]
        .write("k", put("a"), Some(&Condition::IfAbsent), id(100), 10)
        .unwrap();
    let b = sim.cores[1]
        .write("k", put("b"), Some(&Condition::IfAbsent), id(101), 20)
        .unwrap();
    sim.settle();
    let winner = sim.cores[0].store().get("k").unwrap().id;
    assert_eq!(winner, b.write.id, "greater timestamp wins");
    assert_eq!(sim.cores[1].store().get("k").unwrap().id, winner);
    let mut lost: Vec<_> = sim
        .outcomes
        .iter()
        .filter_map(|(_, o)| o.loser().map(|l| l.id))
        .collect();
    lost.dedup();
    assert_eq!(
        lost,
        vec![a.write.id],
        "the losing write is reported (by each region that merged the pair)"
    );
    // and now the condition fails locally
    let err = sim.cores[0]
        .write("k", put("c"), Some(&Condition::IfAbsent), id(102), 30)
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed(_)), "{err}");
}

#[test]
fn if_version_condition_checks_the_current_version() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0]);
    let w = sim.put(0, "k", "a");
    let stale = Version {
        timestamp: crate::clock::Timestamp::at(1),
        region: w.version.region,
    };
    let err = sim.cores[0]
        .write(
            "k",
            put("b"),
            Some(&Condition::IfVersion(stale)),
            id(50),
            100,
        )
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed(_)));
    let ok = sim.cores[0].write(
        "k",
        put("b"),
        Some(&Condition::IfVersion(w.version)),
        id(51),
        100_000_000,
    );
    assert!(ok.is_ok());
}

#[test]
fn increment_reads_modifies_and_writes_the_whole_value() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let a = sim.cores[0]
        .write("n", WriteOp::Increment(5), None, id(1), 10)
        .unwrap();
    assert_eq!(a.new_value, Some(5));
    sim.settle();
    // both regions increment concurrently from 5: one update is lost
    sim.cores[0]
        .write("n", WriteOp::Increment(1), None, id(2), 20)
        .unwrap();
    sim.cores[1]
        .write("n", WriteOp::Increment(1), None, id(3), 30)
        .unwrap();
    sim.settle();
    let v = sim.cores[0]
        .store()
        .get("n")
        .unwrap()
        .value()
        .unwrap()
        .to_vec();
    assert_eq!(&*v, b"6", "lost update: 5 + 1 + 1 = 6");
    sim.cores[0]
        .write("s", put("text"), None, id(4), 40)
        .unwrap();
    let err = sim.cores[0]
        .write("s", WriteOp::Increment(1), None, id(5), 50)
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed(_)));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0]);
    let core = &mut sim.cores[0];
    let big = WriteOp::Put(Arc::from(vec![
        0u8;
        crate::error::MAX_STORED_VALUE_BYTES + 1
    ]));
    assert!(matches!(
        core.write("k", big, None, id(1), 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        core.write("", put("v"), None, id(2), 1),
        Err(Error::InvalidArgument(_))
    ));
    let long_key = "k".repeat(crate::error::MAX_STORED_KEY_BYTES + 1);
    assert!(matches!(
        core.write(&long_key, put("v"), None, id(3), 1),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(core.log_head(), 0);
    assert!(core.store().is_empty());
}

#[test]
fn aurora_secondary_refuses_writes_naming_the_primary() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let role = Role {
        mode: Mode::AuroraGlobal,
        primary: Some(RegionId::from_index(0)),
        epoch: 1,
        frozen: false,
        fences: vec![],
    };
    for c in &mut sim.cores {
        c.set_role(role.clone()).unwrap();
    }
    let err = sim.cores[1]
        .write("k", put("v"), None, id(1), 1)
        .unwrap_err();
    assert!(err.to_string().contains("primary is r0"), "{err}");
    assert!(sim.cores[0].write("k", put("v"), None, id(2), 1).is_ok());
    sim.cores[0].set_frozen(true);
    assert!(matches!(
        sim.cores[0].write("k", put("v"), None, id(3), 2),
        Err(Error::Frozen(_))
    ));
    let older = Role { epoch: 0, ..role };
    assert!(
        sim.cores[0].set_role(older).is_err(),
        "no going back in epochs"
    );
}

#[test]
fn failover_fence_refuses_and_lists_divergent_writes() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let w1 = sim.put(0, "a", "1");
    sim.deliver(0, 1, 1);
    let w2 = sim.put(0, "b", "2");
    // region 1 is promoted having seen seq 1 of region 0
    let fence = Fence {
        region: RegionId::from_index(0),
        after_seq: w1.seq,
        epoch: 1,
        cut_at_us: 0,
    };
    let role = Role {
        mode: Mode::AuroraGlobal,
        primary: Some(RegionId::from_index(1)),
        epoch: 1,
        frozen: false,
        fences: vec![fence],
    };
    for c in &mut sim.cores {
        c.set_role(role.clone()).unwrap();
    }
    sim.deliver(0, 1, 10);
    assert!(
        sim.cores[1].store().get("b").is_none(),
        "divergent write not applied"
    );
    assert_eq!(
        sim.cores[0]
            .divergent_writes()
            .iter()
            .map(|w| w.id)
            .collect::<Vec<_>>(),
        vec![w2.id]
    );
    assert_eq!(
        sim.cores[0].divergent_count(),
        1,
        "the running count agrees"
    );
    assert_eq!(sim.cores[1].divergent_count(), 0);
}

#[test]
fn rpo_lag_counts_unacknowledged_writes_and_ages_the_oldest() {
    let lag = |writes, age_us| RpoLag { writes, age_us };
    let mut core = Sim::new(ClockMode::Hybrid, &[0]).cores.remove(0);
    assert_eq!(core.rpo_lag(0, 1_000), lag(0, 0), "nothing written");
    core.write("a", put("1"), None, id(1), 1_000).unwrap();
    core.write("b", put("2"), None, id(2), 3_000).unwrap();
    assert_eq!(
        core.rpo_lag(0, 10_000),
        lag(2, 9_000),
        "aged from the oldest"
    );
    assert_eq!(core.rpo_lag(1, 10_000), lag(1, 7_000));
    assert_eq!(core.rpo_lag(2, 10_000), lag(0, 0), "caught up");
    assert_eq!(core.rpo_lag(5, 10_000), lag(0, 0), "an ack past the head");
}

#[test]
fn fences_of_successive_failovers_all_hold() {
    let r = RegionId::from_index;
    let aurora = |primary: usize, epoch: u64, fences: Vec<Fence>| Role {
        mode: Mode::AuroraGlobal,
        primary: Some(r(primary)),
        epoch,
        frozen: false,
        fences,
    };
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]);
    // Epoch 1: r0 writes twice; only the first reaches r1 before r0 is lost.
    for c in &mut sim.cores {
        c.set_role(aurora(0, 1, vec![])).unwrap();
    }
    let kept0 = sim.put(0, "a", "1");
    let cut0 = sim.put(0, "b", "2");
    sim.deliver(0, 1, 1);
    // Epoch 2: r1 takes over, writes twice; only the first reaches r2 before r1 is lost.
    let first = Fence {
        region: r(0),
        after_seq: kept0.seq,
        epoch: 2,
        cut_at_us: 0,
    };
    sim.cores[1].set_role(aurora(1, 2, vec![first])).unwrap();
    let kept1 = sim.put(1, "c", "3");
    let cut1 = sim.put(1, "d", "4");
    sim.deliver(1, 2, 1);
    // Epoch 3: r2 takes over; it must refuse the cut writes of both lost primaries.
    let second = Fence {
        region: r(1),
        after_seq: kept1.seq,
        epoch: 3,
        cut_at_us: 0,
    };
    let mut role = aurora(2, 3, vec![first]);
    role.add_fences([second, first]);
    assert_eq!(role.fences, vec![first, second], "a fence is held once");
    sim.cores[2].set_role(role).unwrap();
    sim.settle();
    let at_r2: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| sim.cores[2].store().get(k).map(|w| w.id))
        .collect();
    assert_eq!(at_r2, vec![Some(kept0.id), None, Some(kept1.id), None]);
    assert!(
        !sim.cores[2].role().fenced(&kept1)
            && sim.cores[2].role().fenced(&cut0)
            && sim.cores[2].role().fenced(&cut1)
    );
}

/// The scenario of a region that loses its state (issue 9): r0 writes W1, r1 writes Wb
/// concurrently and wins; r0 is wiped and, having learnt Wb again, writes W1'; r2 (which saw W1
/// and Wb but not W1') writes Wc later. W1' and Wc are concurrent, so W1' losing is a conflict
/// everywhere — it would be a silent "causal overwrite" if W1' reused W1's dot.
#[test]
fn a_region_that_lost_its_state_never_reuses_a_dot_so_its_later_loss_is_reported() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0, 0]);
    let w1 = sim.put(0, "k", "w1");
    let wb = sim.put(1, "k", "wb");
    sim.settle();
    sim.wipe(0);
    sim.deliver(1, 0, usize::MAX);
    let w1b = sim.put(0, "k", "w1'");
    assert_ne!(
        w1b.context.get(RegionId::from_index(0)),
        w1.context.get(RegionId::from_index(0)),
        "a new dot after the wipe"
    );
    assert_eq!(
        w1b.context.get(RegionId::from_index(1)),
        wb.context.get(RegionId::from_index(1))
    );
    let wc = sim.put(2, "k", "wc");
    sim.settle();
    for (i, c) in sim.cores.iter().enumerate() {
        assert_eq!(c.store().get("k").unwrap().id, wc.id, "region {i}");
    }
    for r in [1, 2] {
        assert!(
            sim.outcomes.iter().any(|(at, o)| *at == r
                && matches!(o, Outcome::Conflict { loser, .. } if loser.id == w1b.id)),
            "region {r} reports W1' lost"
        );
    }
}

#[test]
fn a_forged_counter_at_the_top_cannot_wrap_a_regions_dot() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let mut forged = (*sim.put(1, "k", "v")).clone();
    forged.id = id(999);
    forged.version.timestamp = Timestamp::at(5_000_000);
    forged.context.set(RegionId::from_index(0), u64::MAX);
    sim.cores[0].apply_remote(Arc::new(forged), 5_000_001);
    let err = sim.cores[0]
        .write("k", put("x"), None, id(1000), 5_000_002)
        .unwrap_err();
    assert!(err.to_string().contains("exhausted"), "{err}");
}

/// Received writes a region can never have made are refused with a reason; honest ones pass.
#[test]
fn received_writes_with_impossible_contexts_timestamps_or_origins_are_refused() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let now = sim.now_us;
    sim.cores[0].set_max_clock_ahead(500_000);
    let honest = sim.put(1, "k", "v");
    assert_eq!(sim.cores[0].check_remote(&honest, now), Ok(()));
    let forged = |f: &dyn Fn(&mut Write)| {
        let mut w = (*honest).clone();
        f(&mut w);
        w
    };
    let cases: Vec<(&str, Write, &str)> = vec![
        (
            "a wrapped counter for the receiver",
            forged(&|w| w.context.set(RegionId::from_index(0), u64::MAX)),
            "causal counter",
        ),
        (
            "ten years ahead",
            forged(&|w| w.version.timestamp = Timestamp::at(now + 10 * 365 * 86_400_000_000)),
            "ahead of this clock",
        ),
        (
            "the top of the clock",
            forged(&|w| {
                w.version.timestamp = Timestamp {
                    physical_us: u64::MAX,
                    logical: u32::MAX,
                }
            }),
            "ahead of this clock",
        ),
        (
            "the receiver as origin",
            forged(&|w| w.version.region = RegionId::from_index(0)),
            "as its origin",
        ),
        (
            "a region outside the cluster",
            forged(&|w| w.context.set(RegionId::from_index(7), 1)),
            "region #7",
        ),
    ];
    for (what, w, reason) in cases {
        let err = sim.cores[0].check_remote(&w, now).unwrap_err();
        assert!(err.contains(reason), "{what}: {err}");
    }
    // Within the bound (a configured skew) is fine.
    let near = forged(&|w| w.version.timestamp = Timestamp::at(now + 400_000));
    assert_eq!(sim.cores[0].check_remote(&near, now), Ok(()));
}

/// Anti-entropy gives a wiped region its own lost writes back, but no other write claiming it
/// as origin.
#[test]
fn repair_takes_back_only_the_regions_own_lost_writes() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let own = sim.put(0, "k", "v");
    let now = sim.now_us;
    assert_eq!(
        sim.cores[0].check_repair(&own, now, false),
        Ok(()),
        "one it holds"
    );
    sim.now_us += 1_000;
    sim.wipe(0);
    assert_eq!(
        sim.cores[0].check_repair(&own, now, true),
        Ok(()),
        "lost, from before the wipe"
    );
    let mut forged = (*own).clone();
    forged.context.set(RegionId::from_index(0), sim.now_us + 5);
    assert!(
        sim.cores[0].check_repair(&forged, now, true).is_err(),
        "a dot of this incarnation"
    );
    assert!(
        sim.cores[0].check_repair(&own, now, false).is_err(),
        "not fresh: it would hold it"
    );
}

/// A client-chosen write id used twice names two writes: the second is merged as a write of
/// its own (never a "duplicate" of the first), here and at every peer.
#[test]
fn a_write_id_used_twice_names_two_writes() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    sim.cores[0]
        .write("k", put("v1"), None, id(42), 10)
        .unwrap();
    let second = sim.cores[0]
        .write("k", put("v2"), None, id(42), 20)
        .unwrap();
    assert_eq!(second.outcome, Outcome::Overwrote);
    sim.settle();
    for c in &sim.cores {
        assert_eq!(c.store().get("k").unwrap().value(), Some(&b"v2"[..]));
    }
}

/// Anti-entropy takes an own-origin write as "one we hold" only when it is an exact copy of
/// the log entry: the same seq and id with other contents is refused.
#[test]
fn a_forged_copy_of_an_own_write_is_refused_by_repair() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let own = sim.put(0, "k", "v");
    let mut forged = (*own).clone();
    forged.payload = Payload::new(forged.key(), Some(b"not mine"));
    forged.version.timestamp = Timestamp::at(u64::MAX);
    assert!(
        sim.cores[0]
            .check_repair(&forged, sim.now_us, false)
            .is_err()
    );
    assert_eq!(sim.cores[0].check_repair(&own, sim.now_us, false), Ok(()));
}
