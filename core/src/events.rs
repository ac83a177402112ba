//! The bounded feed of conflict and lost-write events a node keeps (SPEC §4).
//!
//! DynamoDB drops the losers of last-writer-wins silently; Meridian records each one. The feed
//! is bounded twice: it holds the newest `capacity` events, and at most `max_bytes` of them.
//! Every event keeps its winner's and loser's key, version, write id and causal context; their
//! values (up to 400 KB each) are kept only while they fit in the byte budget — the oldest
//! events give theirs up first, then, if the summaries alone are over budget, the oldest events
//! go. Totals count every event ever recorded, and `dropped` says how many fell out before
//! anyone could read them, so a reader knows when its view is incomplete.

use std::{collections::VecDeque, sync::Arc};

use crate::store::{Outcome, Write};

/// Why a write lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Concurrent writes; the smaller version lost.
    Conflict,
    /// A causally later write had the smaller version (skewed wall clocks) and lost.
    CausalInversion,
}

/// One recorded loss.
#[derive(Clone, Debug)]
pub struct LossEvent {
    /// Position in the feed, 1-based.
    pub seq: u64,
    /// Conflict or causal inversion.
    pub kind: EventKind,
    /// The write kept.
    pub winner: Arc<Write>,
    /// The write that lost.
    pub loser: Arc<Write>,
    /// When it was detected, µs since the Unix epoch.
    pub detected_at_us: u64,
    /// Do `winner` and `loser` still carry their values? (When not, a put's value is empty;
    /// a tombstone stays a tombstone.)
    pub values: bool,
}

impl LossEvent {
    /// The event with its writes' values given up.
    pub fn without_values(&self) -> LossEvent {
        LossEvent {
            winner: Arc::new(self.winner.without_value()),
            loser: Arc::new(self.loser.without_value()),
            values: false,
            ..self.clone()
        }
    }

    /// What the event costs the feed, bytes (summaries, and values while kept).
    fn cost(&self) -> usize {
        let summary = |w: &Write| {
            std::mem::size_of::<Write>() + w.key().len() + w.context.entries().count() * 16
        };
        let values = if self.values {
            self.winner.value().map_or(0, <[u8]>::len) + self.loser.value().map_or(0, <[u8]>::len)
        } else {
            0
        };
        std::mem::size_of::<LossEvent>() + summary(&self.winner) + summary(&self.loser) + values
    }
}

/// Default number of events kept.
pub const DEFAULT_FEED_CAPACITY: usize = 100_000;

/// Default byte budget of the feed.
pub const DEFAULT_FEED_BYTES: usize = 64 * 1024 * 1024;

/// The bounded feed.
#[derive(Debug)]
pub struct EventFeed {
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    events: VecDeque<LossEvent>,
    /// Events before this index have given up their values.
    first_valued: usize,
    recorded: u64,
    conflicts: u64,
}

impl EventFeed {
    /// A feed keeping the newest `capacity` events, in [`DEFAULT_FEED_BYTES`].
    pub fn new(capacity: usize) -> Self {
        Self::with_budget(capacity, DEFAULT_FEED_BYTES)
    }

    /// A feed keeping the newest `capacity` events, in at most `max_bytes`.
    pub fn with_budget(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            events: VecDeque::new(),
            first_valued: 0,
            recorded: 0,
            conflicts: 0,
        }
    }

    /// Change the byte budget (enforced at once).
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
        self.enforce();
    }

    /// Bytes the kept events cost.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The byte budget.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    fn push(&mut self, e: LossEvent) {
        if self.events.len() == self.capacity {
            self.pop_oldest();
        }
        if !e.values && self.first_valued == self.events.len() {
            self.first_valued += 1;
        }
        self.bytes += e.cost();
        self.events.push_back(e);
        self.enforce();
    }

    fn pop_oldest(&mut self) {
        if let Some(e) = self.events.pop_front() {
            self.bytes -= e.cost();
            self.first_valued = self.first_valued.saturating_sub(1);
        }
    }

    /// Give up the oldest values, then the oldest events, until the feed fits its budget (the
    /// newest event always stays, as a summary at least).
    fn enforce(&mut self) {
        while self.bytes > self.max_bytes && self.first_valued < self.events.len() {
            let e = &mut self.events[self.first_valued];
            let stripped = e.without_values();
            self.bytes = self.bytes - e.cost() + stripped.cost();
            *e = stripped;
            self.first_valued += 1;
        }
        while self.bytes > self.max_bytes && self.events.len() > 1 {
            self.pop_oldest();
        }
    }

    /// Record the loss in `outcome`, if it has one.
    pub fn record(&mut self, outcome: &Outcome, now_us: u64) {
        let (kind, winner, loser) = match outcome {
            Outcome::Conflict { winner, loser } => (EventKind::Conflict, winner, loser),
            Outcome::CausalInversion { winner, loser } => {
                (EventKind::CausalInversion, winner, loser)
            }
            _ => return,
        };
        self.recorded += 1;
        if kind == EventKind::Conflict {
            self.conflicts += 1;
        }
        self.push(LossEvent {
            seq: self.recorded,
            kind,
            winner: winner.clone(),
            loser: loser.clone(),
            detected_at_us: now_us,
            values: true,
        });
    }

    /// How many events are kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Put back a persisted feed (durable mode): the kept events, oldest first, and the totals.
    pub fn restore(&mut self, events: Vec<LossEvent>, recorded: u64, conflicts: u64) {
        self.events.clear();
        self.bytes = 0;
        self.first_valued = 0;
        for e in events {
            self.push(e);
        }
        self.recorded = recorded.max(self.events.back().map_or(0, |e| e.seq));
        self.conflicts = conflicts;
    }

    /// Events with seq > `after`, at most `limit`, and how many such events were dropped.
    pub fn since(&self, after: u64, limit: usize) -> (Vec<LossEvent>, u64) {
        let first_kept = self.events.front().map_or(self.recorded + 1, |e| e.seq);
        let dropped = first_kept.saturating_sub(after.saturating_add(1));
        let skip = usize::try_from(after.saturating_add(1).saturating_sub(first_kept))
            .unwrap_or(usize::MAX);
        let events = self.events.iter().skip(skip).take(limit).cloned().collect();
        (events, dropped)
    }

    /// Conflicts detected since start.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Writes that lost a merge here since start (conflicts and causal inversions).
    pub fn lost(&self) -> u64 {
        self.recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        clock::Timestamp,
        region::RegionId,
        store::{Payload, Version},
        version_vector::VersionVector,
    };
    use uuid::Uuid;

    fn w(n: u64) -> Arc<Write> {
        Arc::new(Write {
            payload: Payload::new("k", None),
            version: Version {
                timestamp: Timestamp::at(n),
                region: RegionId::from_index(0),
            },
            id: Uuid::from_u128(n as u128),
            context: VersionVector::new(),
            commit_us: n,
            epoch: 0,
            seq: n,
        })
    }

    fn conflict(n: u64) -> Outcome {
        Outcome::Conflict {
            winner: w(n + 1),
            loser: w(n),
        }
    }

    #[test]
    fn keeps_newest_events_and_counts_dropped() {
        let mut f = EventFeed::new(3);
        for n in 0..5 {
            f.record(&conflict(n), n);
        }
        f.record(&Outcome::Overwrote, 9);
        assert_eq!((f.conflicts(), f.lost()), (5, 5));
        let (events, dropped) = f.since(0, 10);
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(dropped, 2);
        let (events, dropped) = f.since(3, 1);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
        assert_eq!(dropped, 0);
        let (events, _) = f.since(5, 10);
        assert!(events.is_empty());
    }

    fn valued(n: u64, bytes: usize) -> Outcome {
        let with = |w: Arc<Write>| {
            Arc::new(Write {
                payload: Payload::new(w.key(), Some(&vec![b'v'; bytes])),
                ..(*w).clone()
            })
        };
        Outcome::Conflict {
            winner: with(w(n + 1)),
            loser: with(w(n)),
        }
    }

    #[test]
    fn values_go_first_then_the_oldest_events_when_over_the_byte_budget() {
        let mut f = EventFeed::with_budget(100, 10_000);
        for n in 0..10 {
            f.record(&valued(n * 2, 1_000), n);
        }
        assert!(
            f.bytes() <= f.max_bytes(),
            "{} > {}",
            f.bytes(),
            f.max_bytes()
        );
        let (events, dropped) = f.since(0, 100);
        assert_eq!(
            (events.len(), dropped),
            (10, 0),
            "summaries all fit: no event is dropped"
        );
        let kept: Vec<bool> = events.iter().map(|e| e.values).collect();
        let first = kept
            .iter()
            .position(|v| *v)
            .expect("the newest keep their values");
        assert!(
            kept[first..].iter().all(|v| *v),
            "values are given up oldest first: {kept:?}"
        );
        assert!(first > 0, "the oldest gave theirs up: {kept:?}");
        for e in &events[..first] {
            assert_eq!(
                e.loser.value(),
                Some(&[][..]),
                "a put stays a put, valueless"
            );
            assert_eq!(
                e.loser.id,
                Uuid::from_u128(u128::from(e.seq - 1) * 2),
                "ids are kept"
            );
        }
        // A budget smaller than the summaries drops the oldest events (the newest stays).
        f.set_max_bytes(1);
        let (events, dropped) = f.since(0, 100);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![10]);
        assert_eq!(dropped, 9);
        assert_eq!(f.lost(), 10, "totals still count every event");
    }

    #[test]
    fn causal_inversions_count_as_lost_not_as_conflicts() {
        let mut f = EventFeed::new(10);
        f.record(
            &Outcome::CausalInversion {
                winner: w(2),
                loser: w(1),
            },
            0,
        );
        assert_eq!((f.conflicts(), f.lost()), (0, 1));
        assert_eq!(f.since(0, 10).0[0].kind, EventKind::CausalInversion);
    }
}
