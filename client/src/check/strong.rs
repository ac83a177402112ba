//! The checker of multi-Region strong consistency (SPEC §10, issue #17), run on top of the
//! checks of SPEC §4 when the cluster is in strong mode. From the writes the client made (their
//! outcomes, versions and causal contexts), the strong reads it made (with its clock around
//! each), every region's final state and the loss events the nodes reported, it verifies:
//!
//! 1. **no LWW loser** (`lww-loss`): strong mode has none, so any reported loss is a failure;
//! 2. **every write saw the one before it** (`unseen-overwrite`): per key, the committed writes
//!    in version order form one causal chain — each one's context includes the previous one —
//!    so no acknowledged write was overwritten without having been visible;
//! 3. **every acknowledged write is in every region's history** (`not-in-history`): each
//!    region's final write of the key has every acknowledged write of it in its causal past
//!    (regions whose final write the client cannot place — an unresolved unknown outcome —
//!    are skipped and counted);
//! 4. **linearizability per key** of the committed writes and the strong reads: the order is
//!    the version order of the writes (the order every region applies), each read placed just
//!    after the write it returned; whenever an operation ended before another began, the first
//!    must not come later in that order. The pair that breaks it names the fault: a read older
//!    than a write acknowledged before it began (`stale-read`), a read returning a write that
//!    began after it ended (`future-read`), a read older than one that ended before it began
//!    (`read-inversion`), a write acknowledged before another began yet ordered after it
//!    (`write-order`); a read of a write the run never made, or one that failed, is a
//!    `phantom-read`.
//!
//! Why (4) is linearizability: with the write order fixed and every read tied to the write it
//! returned, a linearization exists exactly when no operation that ended before another began
//! is placed after it (within one read group any real-time order can be kept, since real-time
//! order has no cycles). Checked by one sweep per key over the operations sorted by place:
//! O(n log n). Intervals are the client's: a write from its intended start to its reply (a
//! write whose outcome was resolved after the run never ended, as far as the client knows), a
//! read from its send to its reply — wider than the server's, so only true violations show.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{
    checker::CheckReport,
    history::{FinalStates, LossEvent, ReadRec, Ver, WriteRec, WriteStatus, ctx_le},
};

/// What the strong-consistency checks measured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StrongCheck {
    /// Strong reads checked.
    pub strong_reads: u64,
    /// Strong reads that returned a value older than a write acknowledged before they began.
    pub stale_reads: u64,
    /// Other linearizability violations (future reads, read inversions, write order).
    pub order_violations: u64,
    /// Distinct writes the nodes reported lost (LWW losers): zero in strong mode.
    pub lww_losses: u64,
    /// Acknowledged writes overwritten by a write that had not seen them.
    pub unseen_overwrites: u64,
    /// (region, key) pairs whose final write has every acknowledged write of the key in its past.
    pub histories_complete: u64,
    /// (region, key) pairs whose final write is missing or lacks an acknowledged write.
    pub histories_incomplete: u64,
    /// (region, key) pairs skipped: the final write's context is unknown to the client.
    pub histories_skipped: u64,
    /// Unknown-outcome writes found in no log but committed (a region's current write, or
    /// returned by a strong read): their origin died before it logged them.
    pub writes_resolved_unlogged: u64,
}

/// An operation placed in a key's order.
struct Op<'a> {
    /// (version, 0) for a write, (returned version, 1) for a read.
    place: (&'a Ver, u8),
    start: u64,
    end: u64,
    what: What<'a>,
}

enum What<'a> {
    Write(&'a WriteRec),
    Read(&'a ReadRec),
}

/// The zero version: what a read of a never-written key returns.
fn zero() -> Ver {
    Ver::from_pb(None)
}

/// Run the strong-consistency checks, adding violations and figures to `r` (and setting
/// `r.strong`, and `r.ok` again).
pub fn check_strong(
    writes: &[WriteRec],
    reads: &[ReadRec],
    finals: &FinalStates,
    events: &[LossEvent],
    r: &mut CheckReport,
) {
    let mut s = StrongCheck {
        strong_reads: reads.len() as u64,
        ..StrongCheck::default()
    };

    // 1. No LWW losers.
    let mut losers: Vec<&str> = Vec::new();
    for e in events {
        if !losers.contains(&e.loser.write_id.as_str()) {
            losers.push(&e.loser.write_id);
        }
        r.violation(
            "lww-loss",
            &e.key,
            format!(
                "{} reported write {} ({}) lost to {} ({}) by last-writer-wins: strong consistency has no LWW losers",
                e.region, e.loser.write_id, e.loser.version, e.winner.write_id, e.winner.version
            ),
        );
    }
    s.lww_losses = losers.len() as u64;

    let mut committed: BTreeMap<&str, Vec<&WriteRec>> = BTreeMap::new();
    for w in writes
        .iter()
        .filter(|w| w.status == WriteStatus::Acked && w.version.is_some())
    {
        committed.entry(&w.key).or_default().push(w);
    }
    for ws in committed.values_mut() {
        ws.sort_by(|a, b| a.version.cmp(&b.version));
    }

    // 2. One causal chain per key.
    for (key, ws) in &committed {
        for pair in ws.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            if !ctx_le(&prev.context, &next.context) {
                s.unseen_overwrites += 1;
                r.violation(
                    "unseen-overwrite",
                    key,
                    format!(
                        "write {} ({}) from {} replaced {} ({}) without having seen it (contexts {:?} and {:?}): an acknowledged write was overwritten unseen",
                        next.write_id,
                        show(next),
                        next.client_region,
                        prev.write_id,
                        show(prev),
                        next.context,
                        prev.context
                    ),
                );
            }
        }
    }

    // 3. Every acknowledged write in every region's history.
    let by_id: HashMap<&str, &WriteRec> = writes.iter().map(|w| (w.write_id.as_str(), w)).collect();
    for (region, state) in finals {
        for (key, ws) in &committed {
            let Some(item) = state.get(*key) else {
                s.histories_incomplete += 1;
                r.violation(
                    "not-in-history",
                    key,
                    format!(
                        "{region} holds nothing for the key, but {} acknowledged writes of it exist (the last {} ({}))",
                        ws.len(),
                        ws[ws.len() - 1].write_id,
                        show(ws[ws.len() - 1])
                    ),
                );
                continue;
            };
            let Some(last) = by_id
                .get(item.write_id.as_str())
                .filter(|w| w.status == WriteStatus::Acked)
            else {
                s.histories_skipped += 1;
                continue;
            };
            let missing: Vec<&&WriteRec> = ws
                .iter()
                .filter(|w| !ctx_le(&w.context, &last.context))
                .collect();
            match missing.first() {
                None => s.histories_complete += 1,
                Some(first) => {
                    s.histories_incomplete += 1;
                    r.violation(
                        "not-in-history",
                        key,
                        format!(
                            "{region}'s final write {} ({}) has not seen {} acknowledged write(s) of the key, first {} ({}) from {}",
                            last.write_id,
                            show(last),
                            missing.len(),
                            first.write_id,
                            show(first),
                            first.client_region
                        ),
                    );
                }
            }
        }
    }

    // 4. Linearizability of writes and strong reads, per key.
    let zero = zero();
    let mut reads_by_key: BTreeMap<&str, Vec<&ReadRec>> = BTreeMap::new();
    for rd in reads {
        reads_by_key.entry(&rd.key).or_default().push(rd);
        let returned = (!rd.write_id.is_empty()).then(|| by_id.get(rd.write_id.as_str()));
        let why = match returned {
            Some(None) => Some("a write this run never made"),
            Some(Some(w)) if w.status == WriteStatus::Failed => {
                Some("a write that failed (refused, or found in no region's log after the run)")
            }
            _ => None,
        };
        if let Some(why) = why {
            r.violation(
                "phantom-read",
                &rd.key,
                format!(
                    "a strong read at {} returned write {} ({}): {why}",
                    rd.region, rd.write_id, rd.version
                ),
            );
        }
    }
    let keys: Vec<&str> = committed
        .keys()
        .chain(reads_by_key.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for key in keys {
        let mut ops: Vec<Op> = Vec::new();
        for w in committed.get(key).into_iter().flatten() {
            ops.push(Op {
                place: (w.version.as_ref().unwrap_or(&zero), 0),
                start: w.start_us,
                end: if w.ack_us == 0 { u64::MAX } else { w.ack_us },
                what: What::Write(w),
            });
        }
        for rd in reads_by_key.get(key).into_iter().flatten() {
            ops.push(Op {
                place: (&rd.version, 1),
                start: rd.start_us,
                end: rd.end_us,
                what: What::Read(rd),
            });
        }
        sweep(key, &mut ops, &mut s, r);
    }

    r.strong = Some(s);
    r.ok = r.violation_counts.is_empty();
}

/// Find every operation B for which some operation A placed after it ended before B began.
/// A write is named as A when one qualifies (a stale read says more than a read inversion).
fn sweep(key: &str, ops: &mut [Op], s: &mut StrongCheck, r: &mut CheckReport) {
    ops.sort_by(|a, b| b.place.cmp(&a.place));
    // Of the operations placed strictly after the current group: the write and the read that
    // ended first.
    let (mut first_write, mut first_read): (Option<usize>, Option<usize>) = (None, None);
    let mut i = 0;
    while i < ops.len() {
        let mut j = i;
        while j < ops.len() && ops[j].place == ops[i].place {
            j += 1;
        }
        for b in i..j {
            let before = |a: &Option<usize>| a.filter(|a| ops[*a].end < ops[b].start);
            if let Some(a) = before(&first_write).or_else(|| before(&first_read)) {
                report(key, &ops[a], &ops[b], s, r);
            }
        }
        for b in i..j {
            let slot = match ops[b].what {
                What::Write(_) => &mut first_write,
                What::Read(_) => &mut first_read,
            };
            if slot.is_none_or(|a| ops[b].end < ops[a].end) {
                *slot = Some(b);
            }
        }
        i = j;
    }
}

/// `a` ended before `b` began, yet `a` is placed after `b`.
fn report(key: &str, a: &Op, b: &Op, s: &mut StrongCheck, r: &mut CheckReport) {
    let gap = b.start - a.end;
    match (&a.what, &b.what) {
        (What::Write(w), What::Read(rd)) => {
            s.stale_reads += 1;
            r.violation(
                "stale-read",
                key,
                format!(
                    "a strong read at {} returned {} ({}), older than write {} ({}) acknowledged {gap} µs before the read began",
                    rd.region,
                    returned(rd),
                    rd.version,
                    w.write_id,
                    show(w)
                ),
            );
        }
        (What::Read(rd), What::Write(w)) => {
            s.order_violations += 1;
            r.violation(
                "future-read",
                key,
                format!(
                    "a strong read at {} ended {gap} µs before write {} ({}) began, yet returned {} ({}), which is not older than it",
                    rd.region,
                    w.write_id,
                    show(w),
                    returned(rd),
                    rd.version
                ),
            );
        }
        (What::Read(first), What::Read(later)) => {
            s.order_violations += 1;
            r.violation(
                "read-inversion",
                key,
                format!(
                    "a strong read at {} returned {} ({}); a read at {} begun {gap} µs after it ended returned the older {} ({})",
                    first.region,
                    returned(first),
                    first.version,
                    later.region,
                    returned(later),
                    later.version
                ),
            );
        }
        (What::Write(first), What::Write(later)) => {
            s.order_violations += 1;
            r.violation(
                "write-order",
                key,
                format!(
                    "write {} ({}) was acknowledged {gap} µs before write {} ({}) began, yet is ordered after it",
                    first.write_id,
                    show(first),
                    later.write_id,
                    show(later)
                ),
            );
        }
    }
}

fn show(w: &WriteRec) -> String {
    w.version.as_ref().map(Ver::to_string).unwrap_or_default()
}

fn returned(rd: &ReadRec) -> &str {
    if rd.write_id.is_empty() {
        "nothing"
    } else {
        &rd.write_id
    }
}

#[cfg(test)]
mod tests;
