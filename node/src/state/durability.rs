//! The storage pipeline as the state sees it: queueing the state of written keys, tickets that
//! say when what was read is on disk, reads that never show a write a crash could take back,
//! and the durable head of the own log (all that peers may pull).

use std::sync::Arc;

use meridian_core::{replica::Replica, store::Write};

use super::{Durable, NodeState};
use crate::{
    error::Result,
    storage::{Op, Persister},
};

impl NodeState {
    /// The group-commit handle (durable mode).
    #[cfg(test)]
    pub fn persister(&self) -> Option<&Persister> {
        self.persister.as_ref()
    }

    /// Is the state durable?
    pub fn durable(&self) -> bool {
        self.persister.is_some()
    }

    /// Queue the state of `keys`, the loss events recorded after feed position `events_after`,
    /// and more `ops` for durability; call under the core lock. `logs_up_to`: the ops log own
    /// writes up to this seq, and the durable head advances to it once they are on disk.
    pub(crate) fn persist_keys<'a>(
        &self,
        core: &Replica,
        keys: impl Iterator<Item = &'a str>,
        events_after: u64,
        mut ops: Vec<Op>,
        logs_up_to: Option<u64>,
    ) -> Option<Durable> {
        let persister = self.persister.as_ref()?;
        let feed = core.feed();
        if feed.lost() > events_after {
            let (events, _) = feed.since(events_after, usize::MAX);
            let capacity = feed.capacity() as u64;
            for event in events {
                ops.push(Op::Event {
                    recorded: event.seq,
                    conflicts: feed.conflicts(),
                    forget_seq: event.seq.saturating_sub(capacity),
                    event,
                });
            }
        }
        for key in keys {
            if let Some((current, seen)) = core.store().entry(key) {
                // This region's own write as its log holds it: the log entry is its one copy
                // on disk (queued in `ops` or before them).
                let in_log = current.origin() == core.region()
                    && core
                        .own_log()
                        .get(current.seq)
                        .is_some_and(|e| Arc::ptr_eq(e, current));
                ops.push(Op::Item {
                    current: current.clone(),
                    seen: seen.clone(),
                    in_log,
                });
            }
        }
        Some(persister.queue_logging(ops, logs_up_to))
    }

    /// A ticket covering every storage operation queued so far (`None` in memory mode). Take it
    /// under the core lock right after reading state, then [`NodeState::wait_durable`] before
    /// showing that state to anyone: whatever was read is then on disk.
    pub fn durability_ticket(&self) -> Option<u64> {
        self.persister.as_ref().map(Persister::ticket)
    }

    /// Wait until everything a [`NodeState::durability_ticket`] covers is durable (at most one
    /// group commit). Immediate in memory mode.
    pub async fn wait_durable(&self, ticket: Option<u64>) -> Result<()> {
        match (&self.persister, ticket) {
            (Some(p), Some(t)) => p.synced(t).await,
            _ => Ok(()),
        }
    }

    /// The current write of `key` as a reader may see it: in durable mode, only once it is on
    /// disk (a write whose group commit is still in flight could vanish in a crash, so a read
    /// that returned it would have shown a write that never was). Costs nothing when nothing
    /// is in flight, or the write is one of this region's own durable ones; otherwise the read
    /// waits for the group commit in flight.
    pub async fn read_durable(&self, key: &str) -> Result<Option<Arc<Write>>> {
        let (current, ticket, known_durable) = {
            let core = self.replica();
            let current = core.store().get(key).cloned();
            let ticket = self.durability_ticket();
            let known_durable = match (&self.persister, ticket, &current) {
                (None, ..) | (_, None, _) | (_, _, None) => true,
                (Some(p), _, _) if p.broken() => false,
                (Some(p), Some(t), Some(w)) => {
                    p.is_synced(t)
                        // One of this incarnation's own durable log entries (not an earlier
                        // incarnation's write with a seq that happens to be below the head).
                        || (w.origin() == self.region
                            && w.seq <= *self.head.borrow()
                            && core.log_entry(w.seq).is_some_and(|mine| Arc::ptr_eq(mine, w)))
                }
            };
            (current, ticket, known_durable)
        };
        if !known_durable {
            self.wait_durable(ticket).await?;
        }
        Ok(current)
    }

    /// The durable head of this region's own log: what peers may pull and `Admin/Log` shows.
    pub fn durable_head(&self) -> u64 {
        *self.head.borrow()
    }

    /// Make `ops` durable (no-op in memory mode); call under the core lock, await outside it.
    pub fn persist(&self, ops: Vec<Op>) -> Option<Durable> {
        self.persister.as_ref().map(|p| p.queue(ops))
    }
}
