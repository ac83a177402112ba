//! Aurora Global RPO: the bound that refuses commits while no secondary is close enough, and
//! the RPO lag samples (at the primary, of every secondary; at a secondary, of its own link).

use std::sync::atomic::Ordering;

use meridian_core::{
    clock::now_us,
    region::RegionId,
    replica::{Mode, Replica, RpoLag},
};

use super::{
    NodeState,
    link_stats::{observe, record},
};
use crate::error::{Error, Result};
use crate::lock::Unpoisoned;

impl NodeState {
    /// Aurora Global RPO bound: refuse while no secondary is within the bound.
    pub(crate) fn check_rpo_bound(&self, core: &Replica) -> Result<()> {
        let bound_ms = self.opts.cluster.rpo_bound_ms;
        if bound_ms == 0 || core.role().mode != Mode::AuroraGlobal || core.check_writable().is_err()
        {
            return Ok(());
        }
        let now = now_us();
        let closest_ms = self
            .peers()
            .map(|p| self.peer_rpo_lag(core, p, now).age_us / 1000)
            .min()
            .unwrap_or(0);
        if closest_ms > bound_ms {
            self.rpo_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Error::RpoBound {
                bound_ms,
                behind_ms: closest_ms,
            });
        }
        Ok(())
    }

    /// How far `peer` is behind this node's log, from its acknowledgements.
    pub(crate) fn peer_rpo_lag(&self, core: &Replica, peer: RegionId, now: u64) -> RpoLag {
        core.rpo_lag(
            self.outbound[peer.index()].acked.load(Ordering::Relaxed),
            now,
        )
    }

    /// Aurora Global: record one sample of the RPO lag — at the primary, of every secondary
    /// (from their acknowledgements); at a secondary, of its link from the primary (as far as
    /// it knows). Called periodically by the node's sampler task.
    pub fn sample_rpo_lag(&self) {
        let now = now_us();
        let core = self.replica();
        let role = core.role();
        let Some(primary) = role.primary.filter(|_| role.mode == Mode::AuroraGlobal) else {
            return;
        };
        if primary == self.region {
            for peer in self.peers() {
                let lag = self.peer_rpo_lag(&core, peer, now);
                let out = &self.outbound[peer.index()];
                record(&mut out.rpo_lag_us.locked(), lag.age_us);
                observe(&out.rpo_lag_seconds, lag.age_us);
            }
        } else {
            drop(core);
            let mut s = self.inbound[primary.index()].stats.locked();
            let age = if s.oldest_pending_commit_us == 0 {
                0
            } else {
                now.saturating_sub(s.oldest_pending_commit_us)
            };
            s.record_rpo_lag(age);
        }
    }
}
