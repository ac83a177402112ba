//! Checks of writes that arrive from peers (replication) or from anti-entropy, before they are
//! merged: nothing a region cannot have made, nothing claiming to be this region's own unless
//! it is one of its lost writes, no timestamp beyond the clock bound. Accepting a forged write
//! would corrupt the region for good (a counter at `u64::MAX` wraps the next local dot).

use super::Replica;
use crate::{region::RegionId, store::Write};

/// Headroom above a node's start time for the dots one incarnation hands out to one key
/// (see [`Replica::set_dot_floor`]): counters beyond `now + clock bound + this` cannot be honest.
pub const MAX_DOTS_PER_INCARNATION: u64 = 1 << 32;

impl Replica {
    /// Refuse replicated timestamps more than `us` ahead of the machine clock
    /// ([`Replica::check_remote`]). Unbounded until set.
    pub fn set_max_clock_ahead(&mut self, us: u64) {
        self.max_ahead_us = us;
    }

    /// Is `w`, received from a peer at machine time `now_us`, a write some region can have
    /// made? Refused (with the reason): a write claiming this region as origin (its own
    /// writes never come back from peers), a context naming a region outside the cluster or
    /// holding a counter beyond anything a region can have issued by now (dots start at a
    /// node's start time in µs and grow by one per write), a timestamp further ahead of this
    /// clock than the configured bound. Accepting any of these would corrupt the region for
    /// good: a counter at `u64::MAX` wraps the next local dot, a timestamp years ahead drags
    /// every later hybrid stamp along.
    pub fn check_remote(&self, w: &Write, now_us: u64) -> std::result::Result<(), String> {
        if w.origin() == self.region {
            return Err(format!(
                "write {} claims this region ({}) as its origin",
                w.id,
                self.regions.name(self.region)
            ));
        }
        self.check_contents(w, now_us)
    }

    /// The origin-independent half of [`Replica::check_remote`]: context and timestamp bounds.
    fn check_contents(&self, w: &Write, now_us: u64) -> std::result::Result<(), String> {
        let name = |r: RegionId| self.regions.name(r).to_owned();
        let ahead = now_us.saturating_add(self.max_ahead_us);
        let max_dot = ahead.saturating_add(MAX_DOTS_PER_INCARNATION);
        for (r, n) in w.context.entries() {
            if r.index() >= self.regions.len() {
                return Err(format!(
                    "write {} has a causal context naming region #{} of a {}-region cluster",
                    w.id,
                    r.index(),
                    self.regions.len()
                ));
            }
            if n > max_dot {
                return Err(format!(
                    "write {} has causal counter {n} for {}: beyond anything a region can have issued by now (at most {max_dot})",
                    w.id,
                    name(r)
                ));
            }
        }
        if w.version.timestamp.physical_us > ahead {
            return Err(format!(
                "write {} is stamped {} ms ahead of this clock (the bound is {} ms: max_clock_offset_ms beyond the configured skews)",
                w.id,
                (w.version.timestamp.physical_us - now_us) / 1000,
                self.max_ahead_us / 1000
            ));
        }
        Ok(())
    }

    /// The lowest dot this incarnation hands out for any key. A node sets it to the machine
    /// time (µs) at which it started: a region that lost its state (a wiped data directory, a
    /// memory-mode restart) no longer knows which dots its earlier incarnations issued, but
    /// they were all below this floor, since no node commits more than one write per key per
    /// microsecond. So a dot `(region, n)` names one write for the life of the cluster and a
    /// write made after a state loss is never mistaken for one its peers already saw (which
    /// would make a later write look like a causal overwrite of it, and its loss go unreported).
    pub fn set_dot_floor(&mut self, floor: u64) {
        self.dot_floor = floor;
    }

    /// Anti-entropy's variant of [`Replica::check_remote`]: a region that started without its
    /// state (`fresh`) takes back its own writes of earlier incarnations (dots below this
    /// incarnation's floor) from its peers; any other write claiming this region as origin is
    /// refused, as on the replication stream.
    pub fn check_repair(
        &self,
        w: &Write,
        now_us: u64,
        fresh: bool,
    ) -> std::result::Result<(), String> {
        if w.origin() == self.region {
            // An exact copy of one of our own writes we still hold: the merge is a no-op.
            if self.log_entry(w.seq).is_some_and(|mine| **mine == *w) {
                return Ok(());
            }
            // One of our own writes truncated from the log, that a peer still holds as its
            // current: if this key's history here already has its dot and it would not win,
            // the merge is a no-op as well (whatever it claims, it changes nothing).
            if w.seq <= self.log_base()
                && self.store.entry(w.key()).is_some_and(|(current, seen)| {
                    seen.get(self.region) >= w.context.get(self.region) && !w.beats(current)
                })
            {
                return Ok(());
            }
            if fresh && w.context.get(self.region) < self.dot_floor {
                return self.check_contents(w, now_us);
            }
            // One of our own tombstones, collected here while the sender holds it yet: the
            // merge skips it (`Replica::is_collected`).
            if self.is_collected(w, 0, fresh) {
                return Ok(());
            }
            return Err(format!(
                "write {} claims this region ({}) as its origin but is not one of its lost writes",
                w.id,
                self.regions.name(self.region)
            ));
        }
        self.check_remote(w, now_us)
    }
}
