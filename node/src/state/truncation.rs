//! Own-log truncation: the front of this region's log is dropped (in memory and on disk) once
//! every peer has acknowledged it and it is older than the cluster's `log_retention_ms` — or,
//! in Global Tables mode, once more than `log_max_entries` entries are held, whoever lacks them
//! (a peer partitioned or down for long). A peer that later asks for a position below the
//! base — it lost its state, is new, or was away that long — is served this region's surviving
//! writes from the store (`Replica::own_writes_between`), so nothing acknowledged is withheld
//! from it: every truncated write missing from the store was superseded at its origin.

use std::sync::{Arc, atomic::Ordering};

use meridian_core::{clock::now_us, replica::Mode, store::Write};

use super::NodeState;
use crate::storage::Op;

impl NodeState {
    /// Truncate what every peer has acknowledged and the retention window has passed. Cheap
    /// when there is nothing to drop; called by the node's housekeeping tick.
    pub fn truncate_log(&self) {
        let acked = self
            .peers()
            .map(|p| self.outbound[p.index()].acked.load(Ordering::Relaxed))
            .min();
        // Only what is durable here (a peer's acknowledgement never passes the durable head,
        // but a single region has no peers to bound it).
        let upto = acked.unwrap_or(u64::MAX).min(self.durable_head());
        let cutoff = now_us().saturating_sub(self.opts.cluster.log_retention_ms * 1000);
        let mut core = self.replica();
        let before = core.log_base();
        let aged = core
            .own_log()
            .iter()
            .take_while(|w| w.seq <= upto && w.commit_us <= cutoff)
            .last()
            .map_or(0, |w| w.seq);
        // However far a peer lags, the log holds at most `log_max_entries` (Global Tables: an
        // Aurora secondary's missing writes stay listed for the failover accounting).
        let capped = if self.opts.cluster.mode == Mode::GlobalTables {
            core.log_head()
                .saturating_sub(self.opts.cluster.log_max_entries)
                .min(self.durable_head())
        } else {
            0
        };
        if capped > aged && capped > before {
            tracing::debug!(
                upto = capped,
                slowest_peer_acked = acked.unwrap_or(0),
                "the log holds more than log_max_entries: truncating what a lagging peer lacks (it will be served from the store)"
            );
        }
        let target = aged.max(capped);
        if target <= before {
            return;
        }
        // The entries that may go (a fence can stop the truncation short of `target`).
        let going: Vec<Arc<Write>> = if self.durable() {
            core.own_log()
                .iter()
                .take_while(|w| w.seq <= target)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if let Some(base) = core.truncate_log(target) {
            // A key whose current write is an entry gone now has an item on disk that names
            // the entry (one copy of each write): it is written in full in the same batch.
            let mut ops: Vec<Op> = going
                .iter()
                .take_while(|w| w.seq <= base)
                .filter_map(|w| {
                    let (current, seen) = core.store().entry(w.key())?;
                    Arc::ptr_eq(current, w).then(|| Op::Item {
                        current: current.clone(),
                        seen: seen.clone(),
                        in_log: false,
                    })
                })
                .collect();
            let truncated = core.own_log().truncated();
            // Queued in commit order, after the entries it removes; nothing waits for it: a
            // crash before it syncs only leaves entries that will be truncated again.
            ops.push(Op::TruncateLog {
                from: before + 1,
                truncated,
            });
            drop(self.persist(ops));
        }
    }
}
