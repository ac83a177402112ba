//! The bounded feed of conflict and lost-write events a node keeps (SPEC §4).
//!
//! DynamoDB drops the losers of last-writer-wins silently; Meridian records each one. The feed
//! holds the newest `capacity` events; totals count every event ever recorded, and `dropped`
//! says how many fell out before anyone could read them, so a reader knows when its view is
//! incomplete.

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
}

/// Default number of events kept.
pub const DEFAULT_FEED_CAPACITY: usize = 100_000;

/// The bounded feed.
#[derive(Debug)]
pub struct EventFeed {
    capacity: usize,
    events: VecDeque<LossEvent>,
    recorded: u64,
    conflicts: u64,
}

impl EventFeed {
    /// A feed keeping the newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            events: VecDeque::new(),
            recorded: 0,
            conflicts: 0,
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
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(LossEvent {
            seq: self.recorded,
            kind,
            winner: winner.clone(),
            loser: loser.clone(),
            detected_at_us: now_us,
        });
    }

    /// How many events are kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Put back a persisted feed (durable mode): the kept events, oldest first, and the totals.
    pub fn restore(&mut self, events: Vec<LossEvent>, recorded: u64, conflicts: u64) {
        let skip = events.len().saturating_sub(self.capacity);
        self.events = events.into_iter().skip(skip).collect();
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
        clock::Timestamp, region::RegionId, store::Version, version_vector::VersionVector,
    };
    use uuid::Uuid;

    fn w(n: u64) -> Arc<Write> {
        Arc::new(Write {
            key: "k".into(),
            value: None,
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
