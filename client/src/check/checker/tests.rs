//! The checker catches planted faults, each by name, and passes a correct history.

use std::collections::HashMap;

use super::*;
use crate::{
    check::history::{EventWrite, FinalItem, Ver},
    workload::OpKind,
};

fn ver(ts: u64, region: &str) -> Ver {
    Ver {
        timestamp: ts,
        logical: 0,
        region: region.into(),
    }
}

fn ctx(entries: &[(&str, u64)]) -> Ctx {
    entries.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

fn write(id: &str, key: &str, ts: u64, region: &str, c: &[(&str, u64)]) -> WriteRec {
    WriteRec {
        key: key.into(),
        op: OpKind::Put,
        client_region: region.into(),
        status: WriteStatus::Acked,
        write_id: id.into(),
        version: Some(ver(ts, region)),
        context: ctx(c),
        tombstone: false,
        start_us: ts,
        ack_us: ts,
    }
}

fn item(w: &WriteRec) -> FinalItem {
    FinalItem {
        write_id: w.write_id.clone(),
        version: w.version.clone().unwrap(),
        tombstone: false,
    }
}

fn side(w: &WriteRec) -> EventWrite {
    EventWrite {
        write_id: w.write_id.clone(),
        version: w.version.clone().unwrap(),
        context: w.context.clone(),
    }
}

fn conflict(region: &str, winner: &WriteRec, loser: &WriteRec) -> LossEvent {
    LossEvent {
        region: region.into(),
        kind: "conflict".into(),
        key: winner.key.clone(),
        winner: side(winner),
        loser: side(loser),
    }
}

/// Key `k`: a1 and b1 concurrent (b1 wins). Key `c`: a chain a → b (no conflict).
struct Scenario {
    writes: Vec<WriteRec>,
    finals: FinalStates,
    events: Vec<LossEvent>,
}

fn scenario() -> Scenario {
    let a1 = write("a1", "k", 10, "a", &[("a", 1)]);
    let b1 = write("b1", "k", 20, "b", &[("b", 1)]);
    let ca = write("ca", "c", 10, "a", &[("a", 1)]);
    let cb = write("cb", "c", 20, "b", &[("a", 1), ("b", 1)]);
    let state: HashMap<String, FinalItem> =
        [("k".to_owned(), item(&b1)), ("c".to_owned(), item(&cb))].into();
    let finals = ["a", "b", "c"]
        .iter()
        .map(|r| (r.to_string(), state.clone()))
        .collect();
    let events = vec![conflict("a", &b1, &a1), conflict("b", &b1, &a1)];
    Scenario {
        writes: vec![a1, b1, ca, cb],
        finals,
        events,
    }
}

fn kinds(r: &CheckReport) -> Vec<&str> {
    r.violation_counts.keys().map(String::as_str).collect()
}

#[test]
fn a_correct_history_passes_and_is_measured() {
    let s = scenario();
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert!(r.ok, "{:?}", r.violations);
    assert_eq!(r.writes_acked, 4);
    assert_eq!(r.concurrent_writes, 2, "a1 and b1");
    assert_eq!(r.conflict_rate, 0.5);
    assert_eq!(r.lost_writes, 1);
    assert_eq!(r.conflict_pairs, 1);
    assert_eq!(r.conflicts_by_pair.get("b>a"), Some(&1));
}

#[test]
fn a_collected_tombstone_of_the_winning_delete_passes_and_of_a_losing_one_does_not() {
    let mut s = scenario();
    // Key `d`: a put, then a delete that saw it; regions a and b collected the tombstone,
    // region c holds it yet.
    let put = write("dp", "d", 10, "a", &[("a", 1)]);
    let mut del = write("dd", "d", 20, "b", &[("a", 1), ("b", 2)]);
    del.op = OpKind::Delete;
    del.tombstone = true;
    s.writes.extend([put.clone(), del.clone()]);
    s.finals.get_mut("c").unwrap().insert(
        "d".into(),
        FinalItem {
            tombstone: true,
            ..item(&del)
        },
    );
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert!(r.ok, "{:?}", r.violations);
    // Had the put won (a later put concurrent with the delete), no entry is a missing write.
    let late = write("dl", "d", 30, "a", &[("a", 3)]);
    s.writes.push(late);
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert!(kinds(&r).contains(&"missing"), "{:?}", r.violations);
}

#[test]
fn a_wrong_winner_is_caught() {
    let mut s = scenario();
    let a1 = item(&s.writes[0]);
    for state in s.finals.values_mut() {
        state.insert("k".into(), a1.clone());
    }
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert!(!r.ok);
    let v = r
        .violations
        .iter()
        .find(|v| v.kind == "wrong-winner")
        .expect("named wrong-winner");
    assert!(
        v.detail.contains("expected the LWW-greatest write b1") && v.detail.contains("found a1"),
        "{v:?}"
    );
    assert_eq!(v.key, "k");
}

#[test]
fn a_divergent_region_is_caught() {
    let mut s = scenario();
    let a1 = item(&s.writes[0]);
    s.finals.get_mut("c").unwrap().insert("k".into(), a1);
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert_eq!(kinds(&r), vec!["divergence"]);
    assert!(
        r.violations[0].detail.contains("a holds write b1")
            && r.violations[0].detail.contains("c holds write a1"),
        "{:?}",
        r.violations
    );
}

#[test]
fn an_unreported_lost_write_is_caught() {
    let s = scenario();
    let r = check(&s.writes, &s.finals, &[], true);
    assert_eq!(kinds(&r), vec!["unreported-loss"]);
    assert!(
        r.violations[0].detail.contains("write a1"),
        "{:?}",
        r.violations
    );
}

#[test]
fn a_conflict_reported_between_causally_ordered_writes_is_caught() {
    let s = scenario();
    let mut events = s.events.clone();
    events.push(conflict("a", &s.writes[3], &s.writes[2]));
    let r = check(&s.writes, &s.finals, &events, true);
    assert_eq!(kinds(&r), vec!["bad-event"]);
    assert!(r.violations[0].detail.contains("not concurrent"));
}

#[test]
fn a_loss_naming_the_greater_version_as_loser_is_caught() {
    let s = scenario();
    let events = vec![
        conflict("a", &s.writes[0], &s.writes[1]),
        conflict("b", &s.writes[1], &s.writes[0]),
    ];
    let r = check(&s.writes, &s.finals, &events, true);
    assert!(kinds(&r).contains(&"bad-event"), "{:?}", r.violations);
}

#[test]
fn a_missing_acknowledged_write_is_caught() {
    let mut s = scenario();
    for state in s.finals.values_mut() {
        state.remove("c");
    }
    let r = check(&s.writes, &s.finals, &s.events, true);
    let v = r
        .violations
        .iter()
        .find(|v| v.kind == "missing")
        .expect("named missing");
    assert!(v.detail.contains("acknowledged write cb"), "{v:?}");
}

#[test]
fn an_unknown_outcome_write_may_win_and_is_never_assumed_lost() {
    let mut s = scenario();
    let mut u = write("u1", "k", 30, "a", &[("a", 2), ("b", 1)]);
    u.status = WriteStatus::Unknown;
    let won = item(&u);
    u.write_id.clear();
    u.version = None;
    s.writes.push(u);
    for state in s.finals.values_mut() {
        state.insert("k".into(), won.clone());
    }
    let r = check(&s.writes, &s.finals, &s.events, true);
    // Nothing wrong with the key itself; but one of two keys could not be checked, far more
    // than the share a run may leave unchecked, and the run says so.
    assert_eq!(
        r.violation_counts.keys().collect::<Vec<_>>(),
        vec!["unresolved"],
        "{:?}",
        r.violations
    );
    assert_eq!(r.keys_skipped, 1);
    assert_eq!(r.writes_unknown, 1);
}

#[test]
fn a_small_share_of_skipped_keys_passes_and_a_large_one_fails_loudly() {
    let many: Vec<WriteRec> = (0..40)
        .map(|i| write(&format!("w{i}"), &format!("k{i}"), 10, "a", &[("a", 1)]))
        .collect();
    let finals_of = |ws: &[WriteRec]| -> FinalStates {
        ["a"]
            .iter()
            .map(|r| {
                (
                    r.to_string(),
                    ws.iter()
                        .map(|w| (w.key.clone(), item(w)))
                        .collect::<HashMap<_, _>>(),
                )
            })
            .collect()
    };
    let finals = finals_of(&many);
    let with_unknown = |n: usize| {
        let mut ws = many.clone();
        for (i, k) in (0..n).enumerate() {
            let mut u = write(&format!("u{i}"), &format!("k{k}"), 5, "a", &[("a", 9)]);
            u.status = WriteStatus::Unknown;
            u.version = None;
            ws.push(u);
        }
        check(&ws, &finals, &[], true)
    };
    let two = with_unknown(2);
    assert!(two.ok, "2 of 40 keys skipped (5%): {:?}", two.violations);
    assert_eq!(two.keys_skipped, 2);
    let three = with_unknown(3);
    assert_eq!(three.violation_counts.get("unresolved"), Some(&1));
}

#[test]
fn a_phantom_write_is_caught() {
    let mut s = scenario();
    let mut ghost = item(&s.writes[1]);
    ghost.write_id = "ghost".into();
    ghost.version = ver(99, "b");
    for state in s.finals.values_mut() {
        state.insert("k".into(), ghost.clone());
    }
    let r = check(&s.writes, &s.finals, &s.events, true);
    assert!(kinds(&r).contains(&"phantom"), "{:?}", r.violations);
}

#[test]
fn an_incomplete_feed_is_reported_not_guessed() {
    let s = scenario();
    let r = check(&s.writes, &s.finals, &[], false);
    assert_eq!(kinds(&r), vec!["feed-incomplete"]);
}

#[test]
fn conflict_rate_counts_each_write_concurrent_with_any_other() {
    // a1 ∥ b1, a1 ∥ c1, b1 → c2? no: three regions, each write once, no one saw anyone.
    let writes = [
        write("a1", "k", 10, "a", &[("a", 1)]),
        write("b1", "k", 11, "b", &[("b", 1)]),
        write("a2", "k", 12, "a", &[("a", 2), ("b", 1)]),
        write("c1", "k", 13, "c", &[("a", 2), ("b", 1), ("c", 1)]),
    ];
    let analysis = KeyAnalysis::new(&writes.iter().collect::<Vec<_>>());
    let concurrent: Vec<bool> = writes
        .iter()
        .map(|w| analysis.concurrent_with_any(w))
        .collect();
    assert_eq!(concurrent, vec![true, true, false, false]);
    let maximal: Vec<bool> = writes.iter().map(|w| analysis.is_maximal(w)).collect();
    assert_eq!(maximal, vec![false, false, false, true]);
}

#[test]
fn two_acknowledged_writes_with_one_dot_are_a_violation() {
    // a wrote a1 {a:1}, lost its state, and wrote a2 {a:1, b:1} with the same dot; c's write
    // {a:1, b:1, c:1} then looks like a causal overwrite of a2.
    let a1 = write("a1", "k", 10, "a", &[("a", 1)]);
    let b1 = write("b1", "k", 20, "b", &[("b", 1)]);
    let a2 = write("a2", "k", 30, "a", &[("a", 1), ("b", 1)]);
    let c1 = write("c1", "k", 40, "c", &[("a", 1), ("b", 1), ("c", 1)]);
    let finals: FinalStates = ["a", "b", "c"]
        .iter()
        .map(|r| (r.to_string(), HashMap::from([("k".to_string(), item(&c1))])))
        .collect();
    let events = vec![conflict("a", &b1, &a1)];
    let r = check(&[a1, b1, a2, c1], &finals, &events, true);
    assert!(!r.ok);
    assert_eq!(
        r.violation_counts.get("duplicate-dot"),
        Some(&1),
        "{:?}",
        r.violations
    );
}

/// Aurora Global: writes a failover set aside are accounted for (at the cut, or in split
/// brain), not missing; an acknowledged write in no class is still a failure.
#[test]
fn set_aside_writes_are_accounted_for_and_anything_else_missing_still_fails() {
    let kept = write("p1", "k", 10, "a", &[("a", 1)]);
    let cut = write("p2", "k", 20, "a", &[("a", 2)]);
    let split = write("p3", "k", 30, "a", &[("a", 3)]);
    let finals: FinalStates = ["a", "b"]
        .iter()
        .map(|r| {
            (
                r.to_string(),
                HashMap::from([("k".to_string(), item(&kept))]),
            )
        })
        .collect();
    let writes = vec![kept.clone(), cut.clone(), split.clone()];
    let aside = HashMap::from([
        ("p2".to_string(), SetAside::LostAtCut),
        ("p3".to_string(), SetAside::SplitBrain),
    ]);
    let r = check_with_set_aside(&writes, &finals, &[], true, &aside);
    assert!(r.ok, "{:?}", r.violations);
    assert_eq!(
        (
            r.accounting.surviving,
            r.accounting.lost_at_cut,
            r.accounting.split_brain
        ),
        (1, 1, 1)
    );
    assert_eq!(r.writes_acked, 3);
    let only_cut = HashMap::from([("p2".to_string(), SetAside::LostAtCut)]);
    let r = check_with_set_aside(&writes, &finals, &[], true, &only_cut);
    assert!(!r.ok, "p3 is in no class: {:?}", r.violations);
}
