//! The checker (SPEC §4): after a run, from the writes the client made and saw acknowledged,
//! the final state of every region, and the loss events the nodes reported, verify that
//!
//! 1. every region holds identical state (**divergence**);
//! 2. each key holds the LWW-greatest acknowledged write (**wrong-winner**, **missing**), where a
//!    write whose outcome is unknown (a timeout) may be the winner and is accounted for as such;
//! 3. every reported loss is between truly concurrent writes (or, for a causal inversion, a
//!    causally later write) and names the smaller version as loser (**bad-event**);
//! 4. every acknowledged write that no other write happened after, other than the final value,
//!    was reported lost (**unreported-loss**) — keys with an unknown-outcome write are skipped
//!    here, since the unknown write's context is unknown, and counted as skipped.
//!
//! It also measures the conflict rate exactly from the causal contexts: the fraction of
//! acknowledged writes concurrent with at least one other write to the same key. Writes of one
//! key from one region are causally chained (each saw the region's earlier ones), so for a
//! write `w` of region `r` with own entry `c`, a write `v` of region `s` is concurrent with `w`
//! iff `v` has not seen `w` (`v.ctx[r] < c`) and `w` has not seen `v` (`w.ctx[s] < v.dot`);
//! along `s`'s writes `v.ctx[r]` never decreases, so the first write of `s` that `w` has not
//! seen decides it. That keeps the check O(n log n) per key instead of O(n²).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::history::{Ctx, FinalStates, LossEvent, WriteRec, WriteStatus, ctx_concurrent, ctx_le};

mod report;

pub use report::{Accounting, CheckReport, SetAside, SetAsideWrite, Violation};

/// Largest share of keys the unreported-loss check may skip before the run fails.
pub const MAX_SKIPPED_SHARE: f64 = 0.05;

/// Most violations listed in full (all are counted).
pub const MAX_LISTED: usize = 50;

/// Run every check. `feed_complete`: false when a node's bounded feed dropped events before
/// they were read (then unreported-loss cannot be decided and is reported as such).
pub fn check(
    writes: &[WriteRec],
    finals: &FinalStates,
    events: &[LossEvent],
    feed_complete: bool,
) -> CheckReport {
    check_with_set_aside(writes, finals, events, feed_complete, &HashMap::new())
}

/// [`check`], knowing which acknowledged writes Aurora Global failovers set aside (write id →
/// kind, from the fences and the old primaries' divergent lists). Those are accounted for —
/// lost at the cut or in split brain, counted in [`CheckReport::accounting`] — and take no part
/// in the other checks; every other acknowledged write must survive or be reported lost.
pub fn check_with_set_aside(
    writes: &[WriteRec],
    finals: &FinalStates,
    events: &[LossEvent],
    feed_complete: bool,
    set_aside: &HashMap<String, SetAside>,
) -> CheckReport {
    let mut r = CheckReport::default();
    let mut kept = Vec::with_capacity(writes.len());
    for w in writes {
        match set_aside.get(&w.write_id) {
            Some(kind) if w.status == WriteStatus::Acked => {
                match kind {
                    SetAside::LostAtCut => r.accounting.lost_at_cut += 1,
                    SetAside::SplitBrain => r.accounting.split_brain += 1,
                }
                if r.accounting.set_aside_writes.len() < MAX_LISTED {
                    r.accounting.set_aside_writes.push(SetAsideWrite {
                        write_id: w.write_id.clone(),
                        key: w.key.clone(),
                        kind: *kind,
                    });
                }
            }
            _ => kept.push(w.clone()),
        }
    }
    let writes = &kept[..];
    let push = |r: &mut CheckReport, kind: &str, key: &str, detail: String| {
        r.violation(kind, key, detail);
    };

    // Group the writes by key.
    let mut by_key: BTreeMap<&str, Vec<&WriteRec>> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.status != WriteStatus::Failed) {
        by_key.entry(&w.key).or_default().push(w);
    }
    r.writes_acked = writes
        .iter()
        .filter(|w| w.status == WriteStatus::Acked)
        .count() as u64;
    r.writes_unknown = writes
        .iter()
        .filter(|w| w.status == WriteStatus::Unknown)
        .count() as u64;
    r.keys_checked = by_key.len() as u64;

    // 0. A dot names one write: two acknowledged writes of a key with the same (origin, dot)
    // mean a region reused a dot (after losing its state), and every causal judgement on the
    // key would be wrong.
    let mut dots: HashMap<(&str, &str, u64), &str> = HashMap::new();
    for w in writes.iter().filter(|w| w.status == WriteStatus::Acked) {
        let slot = (w.key.as_str(), w.origin(), w.dot());
        match dots.get(&slot) {
            Some(other) if *other != w.write_id => push(
                &mut r,
                "duplicate-dot",
                &w.key,
                format!(
                    "writes {other} and {} were both acknowledged with dot ({}, {}): a region handed out a dot twice",
                    w.write_id,
                    w.origin(),
                    w.dot()
                ),
            ),
            _ => {
                dots.insert(slot, &w.write_id);
            }
        }
    }

    // 1. Convergence.
    let mut regions = finals.iter();
    let reference = regions.next();
    if let Some((ref_region, ref_state)) = reference {
        for (region, state) in regions {
            let keys: HashSet<&String> = ref_state.keys().chain(state.keys()).collect();
            let mut keys: Vec<_> = keys.into_iter().collect();
            keys.sort();
            for key in keys {
                let (a, b) = (ref_state.get(key), state.get(key));
                // A tombstone and no entry are the same state: one region collected the
                // tombstone before the other (Global Tables collects settled tombstones).
                let collected =
                    |x: Option<&super::history::FinalItem>,
                     y: Option<&super::history::FinalItem>| {
                        x.is_none() && y.is_some_and(|i| i.tombstone)
                    };
                if a.map(|i| &i.write_id) != b.map(|i| &i.write_id)
                    && !collected(a, b)
                    && !collected(b, a)
                {
                    let show = |i: Option<&super::history::FinalItem>| {
                        i.map_or("nothing".to_owned(), |i| {
                            format!("write {} ({})", i.write_id, i.version)
                        })
                    };
                    push(
                        &mut r,
                        "divergence",
                        key,
                        format!("{ref_region} holds {}, {region} holds {}", show(a), show(b)),
                    );
                }
            }
        }
    }

    // 2. LWW winner per key (judged on the reference region; divergence is reported above).
    let acked_ids: HashSet<&str> = writes
        .iter()
        .filter(|w| w.status == WriteStatus::Acked)
        .map(|w| w.write_id.as_str())
        .collect();
    if let Some((ref_region, state)) = reference {
        for (key, ws) in &by_key {
            let acked: Vec<&&WriteRec> = ws
                .iter()
                .filter(|w| w.status == WriteStatus::Acked)
                .collect();
            let has_unknown = ws.iter().any(|w| w.status == WriteStatus::Unknown);
            let best = acked.iter().max_by(|a, b| a.version.cmp(&b.version));
            match (state.get(*key), best) {
                // The LWW-greatest write is a delete whose tombstone was collected.
                (None, Some(b)) if b.tombstone => {}
                (None, Some(b)) => push(
                    &mut r,
                    "missing",
                    key,
                    format!(
                        "acknowledged write {} ({}) is absent at {ref_region}",
                        b.write_id,
                        b.version.as_ref().unwrap()
                    ),
                ),
                (None, None) => {}
                (Some(found), best) => {
                    if !acked_ids.contains(found.write_id.as_str()) && !has_unknown {
                        push(
                            &mut r,
                            "phantom",
                            key,
                            format!(
                                "{ref_region} holds write {} which this run never made",
                                found.write_id
                            ),
                        );
                    }
                    if let Some(b) = best
                        && b.version.as_ref() > Some(&found.version)
                    {
                        push(
                            &mut r,
                            "wrong-winner",
                            key,
                            format!(
                                "expected the LWW-greatest write {} ({}), found {} ({}) at {ref_region}",
                                b.write_id,
                                b.version.as_ref().unwrap(),
                                found.write_id,
                                found.version
                            ),
                        );
                    }
                }
            }
        }
    }

    // 3. Reported losses are genuine.
    let acked_ctx: HashMap<&str, &Ctx> = writes
        .iter()
        .filter(|w| w.status == WriteStatus::Acked)
        .map(|w| (w.write_id.as_str(), &w.context))
        .collect();
    let mut pairs = HashSet::new();
    let mut lost: HashSet<&str> = HashSet::new();
    for e in events {
        let (w, l) = (&e.winner, &e.loser);
        let genuine = match e.kind.as_str() {
            "causal-inversion" => ctx_le(&w.context, &l.context) && w.context != l.context,
            _ => ctx_concurrent(&w.context, &l.context),
        };
        if !genuine {
            push(
                &mut r,
                "bad-event",
                &e.key,
                format!(
                    "{} reported a {} between writes that are not {}: winner {} {:?}, loser {} {:?}",
                    e.region,
                    e.kind,
                    if e.kind == "conflict" {
                        "concurrent"
                    } else {
                        "causally ordered that way"
                    },
                    w.write_id,
                    w.context,
                    l.write_id,
                    l.context
                ),
            );
        }
        if l.version >= w.version {
            push(
                &mut r,
                "bad-event",
                &e.key,
                format!(
                    "{} named the greater version as loser: {} ({}) lost to {} ({})",
                    e.region, l.write_id, l.version, w.write_id, w.version
                ),
            );
        }
        for side in [w, l] {
            if let Some(ctx) = acked_ctx.get(side.write_id.as_str())
                && **ctx != side.context
            {
                push(
                    &mut r,
                    "bad-event",
                    &e.key,
                    format!(
                        "{} reported write {} with context {:?}, but it was acknowledged with {:?}",
                        e.region, side.write_id, side.context, ctx
                    ),
                );
            }
        }
        if pairs.insert((w.write_id.as_str(), l.write_id.as_str())) {
            if e.kind == "conflict" {
                *r.conflicts_by_pair
                    .entry(format!("{}>{}", w.version.region, l.version.region))
                    .or_default() += 1;
            } else {
                r.causal_inversions += 1;
            }
        }
        lost.insert(l.write_id.as_str());
    }
    r.conflict_pairs = r.conflicts_by_pair.values().sum();
    r.lost_writes = lost.iter().filter(|id| acked_ids.contains(**id)).count() as u64;

    // 4. Every discarded maximal write was reported; and the exact conflict rate.
    if !feed_complete {
        push(&mut r, "feed-incomplete", "", "a node's conflict feed lost events before they were read: its bounded feed dropped them (raise --conflict-feed on the nodes), or it restarted without its state (memory mode or a wiped data directory)".into());
    }
    let finals_ref = reference.map(|(_, s)| s);
    for (key, ws) in &by_key {
        let acked: Vec<&WriteRec> = ws
            .iter()
            .filter(|w| w.status == WriteStatus::Acked)
            .copied()
            .collect();
        let analysis = KeyAnalysis::new(&acked);
        r.concurrent_writes += acked
            .iter()
            .filter(|w| analysis.concurrent_with_any(w))
            .count() as u64;
        let has_unknown = ws.iter().any(|w| w.status == WriteStatus::Unknown);
        if has_unknown {
            r.keys_skipped += 1;
            continue;
        }
        if !feed_complete {
            continue;
        }
        // A key with no entry at the end holds a collected tombstone: the LWW-greatest
        // write, a delete (check 2 says so otherwise).
        let final_id = match finals_ref.and_then(|s| s.get(*key)) {
            Some(i) => Some(i.write_id.as_str()),
            None => acked
                .iter()
                .max_by(|a, b| a.version.cmp(&b.version))
                .filter(|w| w.tombstone)
                .map(|w| w.write_id.as_str()),
        };
        for w in &acked {
            if Some(w.write_id.as_str()) != final_id
                && analysis.is_maximal(w)
                && !lost.contains(w.write_id.as_str())
            {
                push(
                    &mut r,
                    "unreported-loss",
                    key,
                    format!(
                        "write {} ({}) from {} was discarded (no write happened after it, it is not the final value) but no node reported it lost",
                        w.write_id,
                        w.version
                            .as_ref()
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                        w.client_region
                    ),
                );
            }
        }
    }
    let (checked, skipped) = (r.keys_checked, r.keys_skipped);
    if checked > 0 && skipped as f64 > MAX_SKIPPED_SHARE * checked as f64 {
        push(
            &mut r,
            "unresolved",
            "",
            format!(
                "{} of {} keys ({:.1}%) hold writes whose outcome stayed unknown, so they could not be checked for unreported losses (at most {:.0}% may be)",
                skipped,
                checked,
                100.0 * skipped as f64 / checked as f64,
                100.0 * MAX_SKIPPED_SHARE
            ),
        );
    }
    if r.writes_acked > 0 {
        r.conflict_rate = r.concurrent_writes as f64 / r.writes_acked as f64;
        r.lost_write_rate = r.lost_writes as f64 / r.writes_acked as f64;
    }
    r.keys_skipped_unknown = r.keys_skipped;
    r.accounting.surviving = r.writes_acked.saturating_sub(r.lost_writes);
    r.writes_acked += r.accounting.lost_at_cut + r.accounting.split_brain;
    r.ok = r.violation_counts.is_empty();
    r
}

/// Per-key causal structure: each region's writes in dot order.
struct KeyAnalysis<'a> {
    by_region: HashMap<&'a str, Vec<&'a WriteRec>>,
}

impl<'a> KeyAnalysis<'a> {
    fn new(acked: &[&'a WriteRec]) -> Self {
        let mut by_region: HashMap<&str, Vec<&WriteRec>> = HashMap::new();
        for w in acked {
            by_region.entry(w.origin()).or_default().push(w);
        }
        for v in by_region.values_mut() {
            v.sort_by_key(|w| w.dot());
        }
        Self { by_region }
    }

    /// Did any other write see `w` (w.ctx[origin] ≤ v.ctx[origin])?
    fn is_maximal(&self, w: &WriteRec) -> bool {
        let (r, c) = (w.origin(), w.dot());
        self.by_region.iter().all(|(s, ws)| {
            // The last write of each region has seen the most of `r`.
            ws.iter()
                .rev()
                .find(|v| v.write_id != w.write_id)
                .is_none_or(|v| {
                    let seen = v.context.get(r).copied().unwrap_or(0);
                    !(seen >= c && (*s != r || v.dot() > c))
                })
        })
    }

    /// Is `w` concurrent with at least one other write of the key?
    fn concurrent_with_any(&self, w: &WriteRec) -> bool {
        let (r, c) = (w.origin(), w.dot());
        self.by_region
            .iter()
            .filter(|(s, _)| **s != r)
            .any(|(s, ws)| {
                let seen_of_s = w.context.get(*s).copied().unwrap_or(0);
                let first_unseen = ws.partition_point(|v| v.dot() <= seen_of_s);
                ws.get(first_unseen)
                    .is_some_and(|v| v.context.get(r).copied().unwrap_or(0) < c)
            })
    }
}

#[cfg(test)]
mod tests;
