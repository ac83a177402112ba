//! What arrives from other regions: replicated batches (checked, merged, queued for disk, with
//! their link statistics), refusals of forged writes, anti-entropy merges, the applied
//! positions pull sessions resume from, and the Aurora Global resync that replaces them all.

use std::{sync::Arc, time::Duration};

use meridian_core::{clock::now_us, region::RegionId, replica::Role, store::Write};
use tokio::sync::watch;

use super::{Applied, NodeState};
use crate::{
    error::{Error, Result},
    lock::Unpoisoned,
    storage::{self, Op},
};

impl NodeState {
    /// Where a pull session from `origin` starts: the applied position and the resync
    /// generation it belongs to (read together, so they match).
    pub fn pull_position(&self, origin: RegionId) -> (u64, u64) {
        let _core = self.replica();
        (self.applied_from(origin), *self.resync_generation.borrow())
    }

    /// A receiver that changes at every resync (pull sessions restart on it).
    pub fn subscribe_resyncs(&self) -> watch::Receiver<u64> {
        self.resync_generation.subscribe()
    }

    /// Merge a batch of writes replicated from `origin` by a session of resync generation
    /// `generation`, queue it for durability, and record the link statistics. Says what to
    /// await before acknowledging the batch to the origin ([`Applied`]). Not awaiting here lets
    /// the link keep applying while the disk syncs: group commit then folds many batches into
    /// one sync.
    pub fn apply_batch(&self, origin: RegionId, writes: &[Arc<Write>], generation: u64) -> Applied {
        let Some(last) = writes.last() else {
            return Applied::Done;
        };
        let link = &self.inbound[origin.index()];
        let durable = {
            let mut core = self.replica();
            if *self.resync_generation.borrow() != generation {
                return Applied::Resynced;
            }
            let now = now_us();
            let events = core.feed().lost();
            for w in writes {
                core.apply_remote(w.clone(), now);
            }
            // Under the core lock, so that a resync never interleaves between the store and
            // the position.
            link.applied.send_replace(last.seq);
            let incarnation = link.stats.locked().origin_incarnation.clone();
            let position = Op::Applied {
                origin: self.regions.name(origin).to_owned(),
                seq: last.seq,
                incarnation,
            };
            let mut keys: Vec<&str> = writes.iter().map(|w| w.key()).collect();
            keys.sort_unstable();
            keys.dedup();
            self.persist_keys(&core, keys.into_iter(), events, vec![position], None)
        };
        let now = now_us();
        {
            let mut s = link.stats.locked();
            for w in writes {
                s.record_lag(now.saturating_sub(w.commit_us).max(1));
                s.bytes_applied += w.payload_bytes() as u64;
            }
            s.writes_applied += writes.len() as u64;
            s.origin_head = s.origin_head.max(last.seq);
            s.stuck_reason.clear();
        }
        match durable {
            Some(d) => Applied::Syncing(d),
            None => Applied::Done,
        }
    }

    /// Check writes received from `origin` before they are queued ([`Replica::check_remote`]).
    /// A refusal is loud: an error log line, the link's refused counter (a metric) and its
    /// stuck reason (`ctl stats`). Nothing of a refused batch is applied.
    pub fn check_received(&self, origin: RegionId, writes: &[Arc<Write>]) -> Result<()> {
        let now = now_us();
        let refused = {
            let core = self.replica();
            writes.iter().find_map(|w| core.check_remote(w, now).err())
        };
        match refused {
            None => Ok(()),
            Some(reason) => Err(self.refuse_from(origin, reason)),
        }
    }

    /// Record a refused replicated write from `origin` (see [`NodeState::check_received`]).
    pub fn refuse_from(&self, origin: RegionId, reason: String) -> Error {
        let reason = crate::error::truncate(&reason);
        tracing::error!(origin = self.regions.name(origin), %reason, "refused a replicated write; the link is stuck until the origin sends something valid");
        let mut s = self.inbound[origin.index()].stats.locked();
        s.refused_writes += 1;
        s.stuck_reason = reason.clone();
        Error::DataLoss(format!(
            "refused a write from {}: {reason}",
            self.regions.name(origin)
        ))
    }

    /// Merge writes learnt by anti-entropy (LWW, idempotent) and make the result durable.
    pub async fn merge_items(&self, writes: &[Arc<Write>], now: u64) -> Result<()> {
        let durable = {
            let mut core = self.replica();
            let events = core.feed().lost();
            for w in writes {
                core.apply_remote(w.clone(), now);
            }
            self.persist_keys(&core, writes.iter().map(|w| w.key()), events, vec![], None)
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
    }

    /// Highest seq of `origin`'s log applied here.
    pub fn applied_from(&self, origin: RegionId) -> u64 {
        *self.inbound[origin.index()].applied.borrow()
    }

    /// Wait until this node has applied `origin`'s log up to `seq`, or `timeout` passes.
    pub async fn wait_applied(&self, origin: RegionId, seq: u64, timeout: Duration) -> Result<()> {
        if origin == self.region {
            return Ok(());
        }
        let mut rx = self.inbound[origin.index()].applied.subscribe();
        let wait = rx.wait_for(|applied| *applied >= seq);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::Unavailable(format!(
                "timed out after {timeout:?} waiting to apply {}'s write {seq}",
                self.regions.name(origin)
            ))),
        }
    }

    /// Aurora Global resync: take `role`, replace the state with `items` (a snapshot of the
    /// primary's), set the applied position of every origin to `high_water(origin)`, and
    /// restart the pull sessions there — all in one critical section.
    pub async fn resync(
        &self,
        role: Role,
        items: Vec<Arc<Write>>,
        high_water: impl Fn(RegionId) -> u64,
    ) -> Result<()> {
        let durable = {
            let mut core = self.replica();
            core.set_role(role.clone())?;
            core.install_snapshot(items);
            let mut ops = vec![Op::ClearItems, Op::Role(role)];
            for origin in self.peers() {
                let link = &self.inbound[origin.index()];
                let seq = high_water(origin);
                link.applied.send_replace(seq);
                let mut s = link.stats.locked();
                s.origin_head = s.origin_head.max(seq);
                s.oldest_pending_commit_us = 0;
                ops.push(Op::Applied {
                    origin: self.regions.name(origin).to_owned(),
                    seq,
                    incarnation: s.origin_incarnation.clone(),
                });
            }
            self.resync_generation.send_modify(|g| *g += 1);
            let keys: Vec<String> = core.store().iter().map(|w| w.key().to_owned()).collect();
            let events = core.feed().lost();
            self.persist_keys(&core, keys.iter().map(String::as_str), events, ops, None)
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
    }

    /// The origin restarted with a new log: its positions start again at 0 (no session restart:
    /// the running stream already serves from the start).
    pub fn reset_position(&self, origin: RegionId) {
        // What it confirmed of our tombstones referred to the log it lost.
        self.replica().reset_tombstone_peer(origin);
        self.inbound[origin.index()].applied.send_replace(0);
        let mut s = self.inbound[origin.index()].stats.locked();
        s.origin_head = 0;
    }
}
