//! Own-log truncation: the front of this region's log is dropped (in memory and on disk) once
//! every peer has acknowledged it and it is older than the cluster's `log_retention_ms`. A peer
//! that later asks for a position below the base — it lost its state, or is new — is served
//! this region's surviving writes from the store (`Replica::own_writes_between`), so nothing
//! acknowledged is withheld from it.

use std::sync::atomic::Ordering;

use meridian_core::clock::now_us;

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
        let Some(aged) = core
            .own_log()
            .iter()
            .take_while(|w| w.seq <= upto && w.commit_us <= cutoff)
            .last()
            .map(|w| w.seq)
        else {
            return;
        };
        if core.truncate_log(aged).is_some() {
            let truncated = core.own_log().truncated();
            // Queued in commit order, after the entries it removes; nothing waits for it: a
            // crash before it syncs only leaves entries that will be truncated again.
            drop(self.persist(vec![Op::TruncateLog {
                from: before + 1,
                truncated,
            }]));
        }
    }
}
