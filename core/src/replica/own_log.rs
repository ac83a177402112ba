//! The region's own write log: every write committed here, by seq (1, 2, ...), as peers pull
//! it. The front is truncated once every peer has durably acknowledged it (the node decides
//! when, see `Replica::truncate_log`); what is left holds seqs `base + 1 ..= head`. A peer
//! whose position is below the base (it lost its state, or is new) is served this region's
//! writes from the store instead ([`super::Replica::own_writes_between`]): every write it no
//! longer finds there was superseded at this region, causally by a later own write or as a
//! reported loser of a conflict, so nothing acknowledged is withheld from it.

use std::{collections::VecDeque, sync::Arc};

use crate::{clock::Timestamp, store::Write};

/// The retained part of the own log.
#[derive(Debug, Default)]
pub struct OwnLog {
    /// Seq of the last truncated write (0: nothing truncated).
    base: u64,
    /// Its stamp: no own write before it is newer (a region's stamps only grow).
    base_stamp: Timestamp,
    /// Commit time of seq 1 (0: the log never held a write), kept after truncation: the upper
    /// bound of the age of any truncated write a peer has not acknowledged.
    first_commit_us: u64,
    entries: VecDeque<Arc<Write>>,
}

impl OwnLog {
    /// A log that starts after `base` (see [`Truncated`]) and holds `entries`. `Err` when
    /// the entries do not run on from `base + 1` without a gap.
    pub fn restore(truncated: Truncated, entries: Vec<Arc<Write>>) -> Result<Self, String> {
        let Truncated {
            base,
            base_stamp,
            first_commit_us,
        } = truncated;
        for (i, w) in entries.iter().enumerate() {
            let want = base + 1 + i as u64;
            if w.seq != want {
                return Err(format!(
                    "the log has a gap: seq {want} expected, {} found",
                    w.seq
                ));
            }
        }
        let first_commit_us = match (base, entries.first()) {
            (0, Some(w)) => w.commit_us,
            _ => first_commit_us,
        };
        Ok(Self {
            base,
            base_stamp,
            first_commit_us,
            entries: entries.into(),
        })
    }

    /// Seq of the newest write (0 when none was ever logged).
    pub fn head(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// Seq of the last truncated write (0 when nothing was truncated).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Commit time of seq 1, µs (0 when the log never held a write).
    pub fn first_commit_us(&self) -> u64 {
        self.first_commit_us
    }

    /// What storage keeps of the truncated part.
    pub fn truncated(&self) -> Truncated {
        Truncated {
            base: self.base,
            base_stamp: self.base_stamp,
            first_commit_us: self.first_commit_us,
        }
    }

    /// The stamp of the newest write ever logged (truncated or not).
    pub fn newest_stamp(&self) -> Option<Timestamp> {
        match self.entries.back() {
            Some(w) => Some(w.version.timestamp),
            None => (self.base > 0).then_some(self.base_stamp),
        }
    }

    /// Writes retained.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Is nothing retained?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The write with seq `seq`, if retained.
    pub fn get(&self, seq: u64) -> Option<&Arc<Write>> {
        let i = seq.checked_sub(self.base + 1)?;
        self.entries.get(usize::try_from(i).ok()?)
    }

    /// Up to `max` retained writes with seq > `after` (from the base when `after` is below it).
    pub fn after(&self, after: u64, max: usize) -> Vec<Arc<Write>> {
        let start = usize::try_from(after.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        self.entries.range(start..end).cloned().collect()
    }

    /// The retained writes, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Write>> {
        self.entries.iter()
    }

    /// Append the next write (its seq must be `head + 1`).
    pub fn push(&mut self, w: Arc<Write>) {
        debug_assert_eq!(w.seq, self.head() + 1);
        if self.base == 0 && self.entries.is_empty() {
            self.first_commit_us = w.commit_us;
        }
        self.entries.push_back(w);
    }

    /// Drop the writes with seq ≤ `upto` (clamped to the head); the new base.
    pub fn truncate(&mut self, upto: u64) -> u64 {
        while self.base < upto {
            let Some(w) = self.entries.pop_front() else {
                break;
            };
            self.base = w.seq;
            self.base_stamp = w.version.timestamp;
        }
        self.base
    }
}

/// What is kept of a log's truncated front (persisted beside the retained entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncated {
    /// Seq of the last truncated write (0: nothing truncated).
    pub base: u64,
    /// Its stamp.
    pub base_stamp: Timestamp,
    /// Commit time of seq 1, µs (0: the log never held a write).
    pub first_commit_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        clock::Timestamp,
        region::RegionId,
        store::{Payload, Version, Write},
        version_vector::VersionVector,
    };

    fn write(seq: u64) -> Arc<Write> {
        Arc::new(Write {
            payload: Payload::new("k", None),
            version: Version {
                timestamp: Timestamp {
                    physical_us: seq,
                    logical: 0,
                },
                region: RegionId::from_index(0),
            },
            id: uuid::Uuid::from_u128(seq.into()),
            context: VersionVector::default(),
            commit_us: 1000 + seq,
            epoch: 0,
            seq,
        })
    }

    fn log_of(n: u64) -> OwnLog {
        let mut log = OwnLog::default();
        for s in 1..=n {
            log.push(write(s));
        }
        log
    }

    fn seqs(ws: &[Arc<Write>]) -> Vec<u64> {
        ws.iter().map(|w| w.seq).collect()
    }

    #[test]
    fn truncation_keeps_seqs_and_head() {
        let mut log = log_of(10);
        assert_eq!(log.truncate(4), 4);
        assert_eq!((log.base(), log.head(), log.len()), (4, 10, 6));
        assert!(log.get(4).is_none());
        assert_eq!(log.get(5).unwrap().seq, 5);
        assert_eq!(log.get(10).unwrap().seq, 10);
        assert!(log.get(11).is_none());
        assert_eq!(
            seqs(&log.after(0, 3)),
            [5, 6, 7],
            "from the base when below it"
        );
        assert_eq!(seqs(&log.after(7, 100)), [8, 9, 10]);
        assert!(log.after(10, 5).is_empty());
        assert!(log.after(u64::MAX, 5).is_empty());
        assert_eq!(
            log.first_commit_us(),
            1001,
            "seq 1's commit time outlives it"
        );
        // Never backwards, never past the head.
        assert_eq!(log.truncate(2), 4);
        assert_eq!(log.truncate(99), 10);
        assert!(log.is_empty());
        assert_eq!(log.head(), 10);
        log.push(write(11));
        assert_eq!(log.get(11).unwrap().seq, 11);
    }

    #[test]
    fn restore_refuses_gaps_and_keeps_the_base() {
        let mut old = log_of(5);
        old.truncate(3);
        let kept = old.truncated();
        assert_eq!(kept.base_stamp, write(3).version.timestamp);
        let log = OwnLog::restore(kept, vec![write(4), write(5)]).unwrap();
        assert_eq!(
            (log.base(), log.head(), log.first_commit_us()),
            (3, 5, 1001)
        );
        let err = OwnLog::restore(kept, vec![write(5)]).unwrap_err();
        assert!(err.contains("seq 4 expected, 5 found"), "{err}");
        assert!(OwnLog::restore(Truncated::default(), vec![write(2)]).is_err());
        let fresh = OwnLog::restore(Truncated::default(), vec![write(1)]).unwrap();
        assert_eq!(fresh.first_commit_us(), 1001);
        old.truncate(5);
        let empty = OwnLog::restore(old.truncated(), vec![]).unwrap();
        assert_eq!((empty.base(), empty.head()), (5, 5));
        assert_eq!(empty.newest_stamp(), Some(write(5).version.timestamp));
        assert_eq!(OwnLog::default().newest_stamp(), None);
    }
}
