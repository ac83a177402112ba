//! One region's node as a pure, synchronous state machine: clock + store + own write log +
//! conflict feed + role. No network, no tasks, no locks: the async shell (`state.rs`) wraps a
//! `Replica` in a mutex and calls it; tests drive several `Replica`s by hand.
//!
//! - [`Replica::write`] handles a client write in this region: validation, the region's role
//!   (Aurora Global secondaries refuse), local conditions, stamping, logging, merging.
//! - [`Replica::apply_remote`] merges a write replicated from another region.
//! - [`Replica::log_after`] is what peers pull.

//!
//! Beside it: [`role`] (the mode, Aurora Global roles, failover fences, RPO lag), [`remote`]
//! (the checks a replicated or repaired write must pass before it is merged), `recovery`
//! (putting back what storage recovered, installing a resync snapshot) and [`tombstones`]
//! (collecting the tombstones every region has settled).

mod own_log;
mod recovery;
mod remote;
mod role;
pub mod tombstones;

pub use own_log::{OwnLog, Truncated};
pub use remote::MAX_DOTS_PER_INCARNATION;
pub use role::{Fence, Mode, Role, RpoLag};
pub use tombstones::{TombstoneCounts, TombstoneReply, TombstoneState};

use std::sync::Arc;

use uuid::Uuid;

use crate::{
    clock::{Clock, Timestamp},
    error::{Error, Result, check_stored_key, check_stored_value},
    events::EventFeed,
    region::{RegionId, Regions},
    store::{Outcome, Payload, Store, Version, Write},
};
use tombstones::Tombstones;

/// What a client write does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set the value.
    Put(Arc<[u8]>),
    /// Write a tombstone.
    Delete,
    /// Add to a decimal integer value (absent counts as 0).
    Increment(i64),
}

/// A condition checked against this region's current value only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The key has no live value.
    IfAbsent,
    /// The current write has exactly this version.
    IfVersion(Version),
}

/// A write this region committed.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The write, as logged and replicated.
    pub write: Arc<Write>,
    /// What merging it locally did (`CausalInversion` when it lost on arrival).
    pub outcome: Outcome,
    /// For increments: the new value.
    pub new_value: Option<i64>,
}

/// Counters kept by the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Writes committed here.
    pub writes_local: u64,
    /// Replicated writes merged here.
    pub writes_applied: u64,
    /// Replicated writes refused because a failover fenced them off.
    pub writes_fenced: u64,
}

/// One region's node state.
#[derive(Debug)]
pub struct Replica {
    region: RegionId,
    regions: Regions,
    clock: Clock,
    store: Store,
    log: OwnLog,
    feed: EventFeed,
    role: Role,
    counters: Counters,
    dot_floor: u64,
    /// The last dot this region handed out: dots grow along the log, across keys (a key whose
    /// tombstone was collected starts again from its bucket's floor, never from 1).
    last_dot: u64,
    tombstones: Tombstones,
    /// How many of the own log's writes the role's fences cut off (kept up to date on every
    /// role change and write, so status calls never walk the log).
    divergent: u64,
    /// How far ahead of this machine's clock a replicated timestamp may be, µs.
    max_ahead_us: u64,
}

impl Replica {
    /// A fresh node for `region`.
    pub fn new(
        region: RegionId,
        regions: Regions,
        clock: Clock,
        role: Role,
        feed_capacity: usize,
    ) -> Self {
        Self {
            region,
            regions,
            clock,
            store: Store::new(),
            log: OwnLog::default(),
            feed: EventFeed::new(feed_capacity),
            role,
            counters: Counters::default(),
            dot_floor: 0,
            last_dot: 0,
            tombstones: Tombstones::default(),
            divergent: 0,
            max_ahead_us: u64::MAX,
        }
    }

    /// Count the own log's fenced writes again (after the fences or the log changed wholesale).
    fn recount_divergent(&mut self) {
        self.divergent = if self.role.fences.is_empty() {
            0
        } else {
            self.log.iter().filter(|w| self.role.fenced(w)).count() as u64
        };
    }

    /// How many of this region's own writes a failover set aside (O(1)).
    pub fn divergent_count(&self) -> u64 {
        self.divergent
    }

    /// The conflict feed's byte budget (see [`EventFeed`]).
    pub fn set_feed_bytes(&mut self, max_bytes: usize) {
        self.feed.set_max_bytes(max_bytes);
    }

    /// This region.
    pub fn region(&self) -> RegionId {
        self.region
    }

    /// The cluster's regions.
    pub fn regions(&self) -> &Regions {
        &self.regions
    }

    /// The state.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The conflict feed.
    pub fn feed(&self) -> &EventFeed {
        &self.feed
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Seq of the newest write in this region's log (0 when empty).
    pub fn log_head(&self) -> u64 {
        self.log.head()
    }

    /// Seq of the newest write truncated from the log (0 when none was): the log holds
    /// `log_base() + 1 ..= log_head()`.
    pub fn log_base(&self) -> u64 {
        self.log.base()
    }

    /// The own log (its retained part).
    pub fn own_log(&self) -> &OwnLog {
        &self.log
    }

    /// The logged write with seq `seq`, while it is retained.
    pub fn log_entry(&self, seq: u64) -> Option<&Arc<Write>> {
        self.log.get(seq)
    }

    /// Up to `max` retained writes of this region's log with seq > `after`: from the base
    /// when `after` is below it (a puller that far behind is first served
    /// [`Replica::own_writes_between`]).
    pub fn log_after(&self, after: u64, max: usize) -> Vec<Arc<Write>> {
        self.log.after(after, max)
    }

    /// This region's writes with `after < seq ≤ upto` that are still the current write of
    /// their key, in seq order: what a peer positioned below the log's base is served instead
    /// of the truncated entries. Every truncated write missing here was superseded in this
    /// store — causally by a later write (which is served or retained), or by a concurrent
    /// write of another region that won, its loss already reported here — so the peer ends at
    /// the same state as if it had pulled the whole log. O(keys): for a peer that lost its
    /// state, not for a steady stream.
    pub fn own_writes_between(&self, after: u64, upto: u64) -> Vec<Arc<Write>> {
        let mut out: Vec<Arc<Write>> = self
            .store
            .iter()
            .filter(|w| w.origin() == self.region && w.seq > after && w.seq <= upto)
            .cloned()
            .collect();
        out.sort_unstable_by_key(|w| w.seq);
        out
    }

    /// Drop the own log's writes with seq ≤ `upto` — the caller's promise that every peer
    /// has durably acknowledged them — except those a failover fence cut off (they stay
    /// listable as divergent writes). Returns the new base when it moved.
    pub fn truncate_log(&mut self, upto: u64) -> Option<u64> {
        let keep_fenced = self
            .log
            .iter()
            .take_while(|w| w.seq <= upto)
            .find(|w| self.role.fenced(w))
            .map_or(upto, |w| w.seq - 1);
        let before = self.log.base();
        let base = self.log.truncate(keep_fenced.min(upto));
        (base > before).then_some(base)
    }

    /// How far a peer that acknowledged this region's log up to `acked` is behind it at
    /// `now_us`: the writes not acknowledged, and the age of the oldest of them (Aurora's RPO
    /// lag, as the primary sees it). When that write was truncated (a peer that lost its
    /// state acknowledges from 0 again), the age is counted from the log's first write: an
    /// upper bound, never an understatement.
    pub fn rpo_lag(&self, acked: u64, now_us: u64) -> RpoLag {
        let writes = self.log_head().saturating_sub(acked);
        let age_us = if writes == 0 {
            0
        } else {
            let commit_us = self
                .log_entry(acked + 1)
                .map_or(self.log.first_commit_us(), |w| w.commit_us);
            now_us.saturating_sub(commit_us)
        };
        RpoLag { writes, age_us }
    }

    /// Does this region accept writes now? `Err` says why not.
    pub fn check_writable(&self) -> Result<()> {
        if self.role.mode == Mode::AuroraGlobal {
            let primary = self.role.primary.unwrap_or(self.region);
            if primary != self.region {
                return Err(Error::NotPrimary {
                    region: self.regions.name(self.region).to_owned(),
                    primary: self.regions.name(primary).to_owned(),
                });
            }
        }
        if self.role.frozen {
            return Err(Error::Frozen(self.regions.name(self.region).to_owned()));
        }
        Ok(())
    }

    /// Commit a client write in this region at machine time `machine_us`.
    pub fn write(
        &mut self,
        key: &str,
        op: WriteOp,
        condition: Option<&Condition>,
        id: Uuid,
        machine_us: u64,
    ) -> Result<Committed> {
        let (write, new_value) = self.prepare(key, op, condition, id, machine_us)?;
        let mut committed = self.commit_prepared(write);
        committed.new_value = new_value;
        Ok(committed)
    }

    /// Check and stamp a client write without committing it: validation, the role, the
    /// condition against this region's copy, the causal context and the stamp. Its seq is 0
    /// until [`Replica::commit_prepared`] logs it (multi-Region strong consistency commits a
    /// write only once a second region has it). Returns the write and, for an increment, the
    /// new value.
    pub fn prepare(
        &mut self,
        key: &str,
        op: WriteOp,
        condition: Option<&Condition>,
        id: Uuid,
        machine_us: u64,
    ) -> Result<(Write, Option<i64>)> {
        check_stored_key(key)?;
        if let WriteOp::Put(v) = &op {
            check_stored_value(v)?;
        }
        self.check_writable()?;
        let current = self.store.get(key);
        let live = current.filter(|w| !w.is_tombstone());
        match condition {
            Some(Condition::IfAbsent) => {
                if let Some(w) = live {
                    return Err(Error::ConditionFailed(format!(
                        "key {key:?} exists (write {} from {})",
                        w.id,
                        self.regions.name(w.origin())
                    )));
                }
            }
            Some(Condition::IfVersion(want)) if current.map(|w| w.version) != Some(*want) => {
                return Err(Error::ConditionFailed(format!(
                    "key {key:?} is not at the expected version (it is at {})",
                    current.map_or("no version".to_owned(), |w| self.describe(&w.version))
                )));
            }
            None | Some(Condition::IfVersion(_)) => {}
        }
        let (value, new_value) = match op {
            WriteOp::Put(v) => (Some(v), None),
            WriteOp::Delete => (None, None),
            WriteOp::Increment(delta) => {
                let old = match live.and_then(|w| w.value()) {
                    None => 0,
                    Some(bytes) => parse_integer(bytes).ok_or_else(|| {
                        Error::ConditionFailed(format!(
                            "key {key:?} does not hold a decimal integer"
                        ))
                    })?,
                };
                let new = old.checked_add(delta).ok_or_else(|| {
                    Error::ConditionFailed(format!("increment of key {key:?} overflows"))
                })?;
                (Some(Arc::from(new.to_string().into_bytes())), Some(new))
            }
        };
        let exhausted =
            || Error::Internal(format!("the causal counter of key {key:?} is exhausted"));
        let floor = self
            .dot_floor
            .max(self.last_dot.checked_add(1).ok_or_else(exhausted)?);
        let context = self
            .store
            .next_context(key, self.region, floor)
            .ok_or_else(exhausted)?;
        self.last_dot = context.get(self.region);
        let timestamp = self.clock.tick_at(machine_us);
        let write = Write {
            payload: Payload::new(key, value.as_deref()),
            version: Version {
                timestamp,
                region: self.region,
            },
            id,
            context,
            commit_us: machine_us,
            epoch: self.role.epoch,
            seq: 0,
        };
        Ok((write, new_value))
    }

    /// Log and merge a write [`Replica::prepare`] made (it gets the next seq).
    pub fn commit_prepared(&mut self, mut prepared: Write) -> Committed {
        prepared.seq = self.log_head() + 1;
        let write = Arc::new(prepared);
        self.log.push(write.clone());
        if self.role.fenced(&write) {
            self.divergent += 1;
        }
        let outcome = self.store.apply(write.clone());
        self.note_current(&write);
        self.feed.record(&outcome, write.commit_us);
        self.counters.writes_local += 1;
        Committed {
            write,
            outcome,
            new_value: None,
        }
    }

    /// Merge a write replicated from another region. `None` when a failover fence refuses it.
    pub fn apply_remote(&mut self, write: Arc<Write>, now_us: u64) -> Option<Outcome> {
        if self.role.fenced(&write) {
            self.counters.writes_fenced += 1;
            return None;
        }
        self.clock.observe(write.version.timestamp);
        let outcome = self.store.apply(write.clone());
        self.note_current(&write);
        self.feed.record(&outcome, now_us);
        self.counters.writes_applied += 1;
        Some(outcome)
    }

    /// Queue `w` for collection if it is a tombstone that just became its key's current write.
    fn note_current(&mut self, w: &Arc<Write>) {
        if self.tombstones.enabled()
            && w.is_tombstone()
            && self.store.get(w.key()).is_some_and(|c| Arc::ptr_eq(c, w))
        {
            self.tombstones.became_current(w);
        }
    }

    /// Pause or resume writes (switchover).
    pub fn set_frozen(&mut self, frozen: bool) {
        self.role.frozen = frozen;
    }

    /// Install a new role (switchover, failover). Refuses to go back to an older epoch.
    pub fn set_role(&mut self, role: Role) -> Result<()> {
        if role.epoch < self.role.epoch {
            return Err(Error::FailedPrecondition(format!(
                "epoch {} is older than this node's epoch {}",
                role.epoch, self.role.epoch
            )));
        }
        let refenced = role.fences != self.role.fences;
        self.role = role;
        if refenced {
            self.recount_divergent();
        }
        Ok(())
    }

    /// This region's own writes cut off by a fence (set aside after a failover).
    pub fn divergent_writes(&self) -> Vec<Arc<Write>> {
        self.log
            .iter()
            .filter(|w| self.role.fenced(w))
            .cloned()
            .collect()
    }

    /// `timestamp@region` text of a version.
    pub fn describe(&self, v: &Version) -> String {
        describe_version(&self.regions, v)
    }
}

/// `physical.logical@region` text of a version, for messages.
pub fn describe_version(regions: &Regions, v: &Version) -> String {
    let Timestamp {
        physical_us,
        logical,
    } = v.timestamp;
    format!("{physical_us}.{logical}@{}", regions.name(v.region))
}

/// Parse a decimal integer value (surrounding whitespace allowed).
pub fn parse_integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod truncation_tests;

#[cfg(test)]
mod tombstone_tests;
