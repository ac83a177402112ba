//! The strong-consistency checks catch planted faults, each by name, and pass a correct
//! history — including reads that return either side of a concurrent write.

use std::collections::HashMap;

use super::*;
use crate::{
    check::{
        checker::check,
        history::{Ctx, EventWrite, FinalItem},
    },
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

/// An acknowledged write of `key` sent at `start`, acknowledged at `ack`, stamped `ts@region`.
fn write(
    id: &str,
    key: &str,
    (start, ack): (u64, u64),
    ts: u64,
    region: &str,
    c: &[(&str, u64)],
) -> WriteRec {
    WriteRec {
        key: key.into(),
        op: OpKind::Put,
        client_region: region.into(),
        status: WriteStatus::Acked,
        write_id: id.into(),
        version: Some(ver(ts, region)),
        context: ctx(c),
        tombstone: false,
        start_us: start,
        ack_us: ack,
    }
}

/// A strong read of `key` over `[start, end]` that returned `w` (None: nothing).
fn read(key: &str, region: &str, (start, end): (u64, u64), w: Option<&WriteRec>) -> ReadRec {
    ReadRec {
        key: key.into(),
        region: region.into(),
        start_us: start,
        end_us: end,
        write_id: w.map(|w| w.write_id.clone()).unwrap_or_default(),
        version: w.and_then(|w| w.version.clone()).unwrap_or_else(zero),
        context: w.map(|w| w.context.clone()).unwrap_or_default(),
        tombstone: false,
    }
}

fn item(w: &WriteRec) -> FinalItem {
    FinalItem {
        write_id: w.write_id.clone(),
        version: w.version.clone().unwrap(),
        tombstone: false,
    }
}

/// Key `k`: a1 → b1 → a2, each seeing the one before; reads before, during and after each.
struct History {
    writes: Vec<WriteRec>,
    reads: Vec<ReadRec>,
    finals: FinalStates,
}

fn history() -> History {
    let a1 = write("a1", "k", (100, 200), 150, "a", &[("a", 1)]);
    let b1 = write("b1", "k", (300, 400), 350, "b", &[("a", 1), ("b", 1)]);
    let a2 = write("a2", "k", (500, 600), 550, "a", &[("a", 2), ("b", 1)]);
    let reads = vec![
        read("k", "a", (50, 90), None),
        // Concurrent with a1: either answer is linearizable.
        read("k", "b", (150, 180), Some(&a1)),
        read("k", "a", (150, 190), None),
        read("k", "b", (250, 280), Some(&a1)),
        // Concurrent with b1, and with each other.
        read("k", "a", (320, 390), Some(&b1)),
        read("k", "b", (330, 380), Some(&a1)),
        read("k", "b", (700, 750), Some(&a2)),
    ];
    let state: HashMap<String, FinalItem> = [("k".to_owned(), item(&a2))].into();
    let finals = ["a", "b", "c"]
        .iter()
        .map(|r| (r.to_string(), state.clone()))
        .collect();
    History {
        writes: vec![a1, b1, a2],
        reads,
        finals,
    }
}

fn strong(h: &History, events: &[LossEvent]) -> CheckReport {
    let mut r = CheckReport::default();
    check_strong(&h.writes, &h.reads, &h.finals, events, &mut r);
    r
}

fn kinds(r: &CheckReport) -> Vec<&str> {
    r.violation_counts.keys().map(String::as_str).collect()
}

#[test]
fn a_linearizable_history_passes_every_check_and_is_measured() {
    let h = history();
    let mut r = check(&h.writes, &h.finals, &[], true);
    check_strong(&h.writes, &h.reads, &h.finals, &[], &mut r);
    assert!(r.ok, "{:?}", r.violations);
    let s = r.strong.unwrap();
    assert_eq!(s.strong_reads, 7);
    assert_eq!((s.stale_reads, s.order_violations, s.lww_losses), (0, 0, 0));
    assert_eq!((s.histories_complete, s.histories_incomplete), (3, 0));
}

#[test]
fn any_reported_lww_loss_fails() {
    let h = history();
    let side = |w: &WriteRec| EventWrite {
        write_id: w.write_id.clone(),
        version: w.version.clone().unwrap(),
        context: w.context.clone(),
    };
    let event = LossEvent {
        region: "c".into(),
        kind: "conflict".into(),
        key: "k".into(),
        winner: side(&h.writes[2]),
        loser: side(&h.writes[1]),
    };
    let r = strong(&h, &[event]);
    assert_eq!(kinds(&r), vec!["lww-loss"]);
    assert_eq!(r.strong.unwrap().lww_losses, 1);
    assert!(
        r.violations[0].detail.contains("write b1"),
        "{:?}",
        r.violations
    );
}

#[test]
fn a_write_that_replaced_one_it_had_not_seen_fails() {
    let mut h = history();
    // b1 built on nothing: a1 was overwritten without being visible to it.
    h.writes[1].context = ctx(&[("b", 1)]);
    h.writes[2].context = ctx(&[("a", 2), ("b", 1)]);
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["unseen-overwrite"]);
    assert!(
        r.violations[0].detail.contains("b1") && r.violations[0].detail.contains("replaced a1"),
        "{:?}",
        r.violations
    );
}

#[test]
fn a_region_whose_final_write_lacks_an_acknowledged_one_fails() {
    let mut h = history();
    let b1 = item(&h.writes[1]);
    h.finals.get_mut("c").unwrap().insert("k".into(), b1);
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["not-in-history"]);
    assert!(
        r.violations[0].detail.contains("c's final write b1")
            && r.violations[0].detail.contains("a2"),
        "{:?}",
        r.violations
    );
    // A region that holds nothing at all for the key fails the same way.
    let mut h = history();
    h.finals.get_mut("b").unwrap().remove("k");
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["not-in-history"]);
    assert_eq!(r.strong.unwrap().histories_incomplete, 1);
}

#[test]
fn a_final_write_the_client_cannot_place_is_skipped_not_failed() {
    let mut h = history();
    let mut u = write("u1", "k", (800, 0), 900, "c", &[]);
    u.status = WriteStatus::Unknown;
    let won = item(&u);
    u.version = None;
    h.writes.push(u);
    for state in h.finals.values_mut() {
        state.insert("k".into(), won.clone());
    }
    let r = strong(&h, &[]);
    assert!(r.ok, "{:?}", r.violations);
    assert_eq!(r.strong.unwrap().histories_skipped, 3);
}

#[test]
fn a_read_older_than_a_write_acknowledged_before_it_began_is_stale() {
    let mut h = history();
    let b1 = h.writes[1].clone();
    h.reads.push(read("k", "c", (650, 680), Some(&b1)));
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["stale-read"]);
    assert_eq!(r.strong.unwrap().stale_reads, 1);
    assert!(
        r.violations[0].detail.contains("returned b1")
            && r.violations[0].detail.contains("write a2"),
        "{:?}",
        r.violations
    );
    // Reading nothing after a write was acknowledged is stale too.
    let mut h = history();
    h.reads.push(read("k", "c", (250, 260), None));
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["stale-read"]);
    assert!(
        r.violations[0].detail.contains("returned nothing"),
        "{:?}",
        r.violations
    );
}

#[test]
fn a_read_of_a_write_that_began_after_it_ended_fails() {
    let mut h = history();
    let f1 = write("f1", "f", (100, 200), 150, "a", &[("a", 1)]);
    h.reads.push(read("f", "c", (40, 90), Some(&f1)));
    for state in h.finals.values_mut() {
        state.insert("f".into(), item(&f1));
    }
    h.writes.push(f1);
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["future-read"]);
    assert!(
        r.violations[0].detail.contains("before write f1"),
        "{:?}",
        r.violations
    );
}

#[test]
fn a_read_older_than_an_earlier_read_fails() {
    let mut h = history();
    let (b1, a2) = (h.writes[1].clone(), h.writes[2].clone());
    // Both during a2 (neither is stale against the writes), but in real-time order.
    h.reads.push(read("k", "a", (510, 520), Some(&a2)));
    h.reads.push(read("k", "b", (530, 540), Some(&b1)));
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["read-inversion"]);
}

#[test]
fn a_write_acknowledged_before_another_began_but_ordered_after_it_fails() {
    let mut h = history();
    // w2 began after w1 was acknowledged, yet has the smaller version (and w1 "saw" it).
    h.writes
        .push(write("w2", "w", (250, 350), 280, "b", &[("b", 1)]));
    h.writes.push(write(
        "w1",
        "w",
        (100, 200),
        300,
        "a",
        &[("a", 1), ("b", 1)],
    ));
    let state_w = item(&h.writes[4]);
    for state in h.finals.values_mut() {
        state.insert("w".into(), state_w.clone());
    }
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["write-order"]);
}

#[test]
fn a_read_of_a_failed_or_unknown_write_is_a_phantom() {
    let mut h = history();
    let mut refused = write("x1", "k", (610, 620), 615, "c", &[("c", 1)]);
    refused.status = WriteStatus::Failed;
    let mut ghost = refused.clone();
    ghost.write_id = "ghost".into();
    h.reads.push(read("k", "b", (610, 800), Some(&refused)));
    h.reads.push(read("k", "b", (610, 800), Some(&ghost)));
    h.writes.push(refused);
    let r = strong(&h, &[]);
    assert_eq!(kinds(&r), vec!["phantom-read"]);
    assert_eq!(r.violation_counts["phantom-read"], 2);
}

/// The sweep against the definition, pair by pair, on seeded random histories of one key:
/// it flags exactly the operations that some operation placed after them ended before.
#[test]
fn the_sweep_flags_exactly_what_the_pairwise_definition_does() {
    let mut rng = crate::workload::Rng::new(17);
    let mut flagged_any = 0;
    for _ in 0..300 {
        let n_writes = 1 + rng.below(5) as usize;
        let mut writes: Vec<WriteRec> = (0..n_writes)
            .map(|i| {
                let start = rng.below(100);
                let ack = start + 1 + rng.below(40);
                write(
                    &format!("w{i}"),
                    "k",
                    (start, ack),
                    rng.below(1000),
                    "a",
                    &[],
                )
            })
            .collect();
        // Contexts follow the version order, so only the order checks can fire.
        writes.sort_by(|a, b| a.version.cmp(&b.version));
        for (i, w) in writes.iter_mut().enumerate() {
            w.context = ctx(&[("a", i as u64 + 1)]);
        }
        let reads: Vec<ReadRec> = (0..rng.below(6))
            .map(|_| {
                let start = rng.below(100);
                let end = start + 1 + rng.below(40);
                let w = rng.below(n_writes as u64 + 1) as usize;
                read("k", "b", (start, end), writes.get(w))
            })
            .collect();
        let last = writes.last().map(item).unwrap();
        let finals: FinalStates =
            [("a".to_string(), HashMap::from([("k".to_string(), last)]))].into();
        let mut r = CheckReport::default();
        check_strong(&writes, &reads, &finals, &[], &mut r);

        let ops: Vec<((Ver, u8), u64, u64)> = writes
            .iter()
            .map(|w| ((w.version.clone().unwrap(), 0), w.start_us, w.ack_us))
            .chain(
                reads
                    .iter()
                    .map(|r| ((r.version.clone(), 1), r.start_us, r.end_us)),
            )
            .collect();
        let expected = ops
            .iter()
            .filter(|b| ops.iter().any(|a| a.0 > b.0 && a.2 < b.1))
            .count() as u64;
        let found: u64 = r.violation_counts.values().sum();
        assert_eq!(
            found, expected,
            "writes {writes:?} reads {reads:?}: {:?}",
            r.violations
        );
        flagged_any += u64::from(expected > 0);
    }
    assert!(
        flagged_any > 30,
        "the random histories exercise violations ({flagged_any})"
    );
}
