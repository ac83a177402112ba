//! Putting a region's state back: what storage recovered at start (the retained own log,
//! every key's current write and causal history, the conflict feed) and, for an Aurora Global
//! resync, a copy of another region's items.

use std::sync::Arc;

use super::{OwnLog, Replica};
use crate::{events::LossEvent, store::Write, version_vector::VersionVector};

impl Replica {
    /// Put back what storage recovered: the own log (its retained part) and every key's
    /// state.
    pub fn restore(&mut self, log: OwnLog, items: Vec<(Arc<Write>, VersionVector)>) {
        if let Some(newest) = log.newest_stamp() {
            self.clock.restore(newest);
        }
        for (current, seen) in items {
            self.clock.observe(current.version.timestamp);
            self.last_dot = self.last_dot.max(seen.get(self.region));
            self.tombstones.became_current(&current);
            self.store.restore(current, seen);
        }
        if let Some(w) = log.iter().last() {
            self.last_dot = self.last_dot.max(w.context.get(self.region));
        }
        self.counters.writes_local = log.head();
        self.log = log;
        self.recount_divergent();
    }

    /// Put back a persisted conflict feed.
    pub fn restore_feed(&mut self, events: Vec<LossEvent>, recorded: u64, conflicts: u64) {
        self.feed.restore(events, recorded, conflicts);
    }

    /// Replace the state with a copy of another region's (Aurora Global resync). The own log is
    /// kept (its divergent part stays listable).
    pub fn install_snapshot(&mut self, items: impl IntoIterator<Item = Arc<Write>>) {
        self.store.clear();
        self.tombstones.clear();
        for w in items {
            self.clock.observe(w.version.timestamp);
            self.store.apply(w);
        }
    }
}
