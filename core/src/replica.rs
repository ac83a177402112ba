//! One region's node as a pure, synchronous state machine: clock + store + own write log +
//! conflict feed + role. No network, no tasks, no locks: the async shell (`state.rs`) wraps a
//! `Replica` in a mutex and calls it; tests drive several `Replica`s by hand.
//!
//! - [`Replica::write`] handles a client write in this region: validation, the region's role
//!   (Aurora Global secondaries refuse), local conditions, stamping, logging, merging.
//! - [`Replica::apply_remote`] merges a write replicated from another region.
//! - [`Replica::log_after`] is what peers pull.

use std::sync::Arc;

use uuid::Uuid;

use crate::{
    clock::{Clock, Timestamp},
    error::{Error, Result, check_key, check_value},
    events::EventFeed,
    region::{RegionId, Regions},
    store::{Outcome, Store, Version, Write},
};

/// Headroom above a node's start time for the dots one incarnation hands out to one key
/// (see [`Replica::set_dot_floor`]): counters beyond `now + clock bound + this` cannot be honest.
pub const MAX_DOTS_PER_INCARNATION: u64 = 1 << 32;

/// How the cluster replicates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Mode {
    /// Every region writes; LWW settles concurrent writes (DynamoDB Global Tables).
    #[default]
    GlobalTables,
    /// One primary writes; secondaries are read-only (Aurora Global Database).
    AuroraGlobal,
}

impl Mode {
    /// The name used in cluster files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Mode::GlobalTables => "global-tables",
            Mode::AuroraGlobal => "aurora-global",
        }
    }

    /// Parse a name as used in cluster files and flags.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "global-tables" => Some(Mode::GlobalTables),
            "aurora-global" => Some(Mode::AuroraGlobal),
            _ => None,
        }
    }
}

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

/// A region's role (Aurora Global mode; in Global Tables mode every region writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Replication mode.
    pub mode: Mode,
    /// The writer region (Aurora Global mode).
    pub primary: Option<RegionId>,
    /// Primary term; grows at every switchover or failover.
    pub epoch: u64,
    /// Writes paused (switchover draining).
    pub frozen: bool,
    /// One fence per failover: the writes each cuts off are divergent. Fences are kept for
    /// good (a region may rejoin, or a stale copy of its log arrive, at any later time).
    pub fences: Vec<Fence>,
}

impl Role {
    /// Is `w` cut off by one of the fences?
    pub fn fenced(&self, w: &Write) -> bool {
        self.fences.iter().any(|f| f.cuts(w))
    }

    /// Add `fences` not already held.
    pub fn add_fences(&mut self, fences: impl IntoIterator<Item = Fence>) {
        for f in fences {
            if !self.fences.contains(&f) {
                self.fences.push(f);
            }
        }
    }
}

/// The cut left by a failover in the lost primary's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The old primary.
    pub region: RegionId,
    /// Its last write the new primary had.
    pub after_seq: u64,
    /// The epoch the failover started.
    pub epoch: u64,
    /// When the failover cut the old primary off, µs since the Unix epoch (0: unknown): the
    /// line between writes lost at the cut and writes acknowledged in split brain.
    pub cut_at_us: u64,
}

impl Fence {
    /// Is `w` one of the divergent writes this fence cuts off?
    pub fn cuts(&self, w: &Write) -> bool {
        w.origin() == self.region && w.seq > self.after_seq && w.epoch < self.epoch
    }
}

/// How far a peer is behind this region's acknowledged writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RpoLag {
    /// Writes committed here and not acknowledged by the peer.
    pub writes: u64,
    /// Age of the oldest of them, µs (0 when there is none).
    pub age_us: u64,
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
    log: Vec<Arc<Write>>,
    feed: EventFeed,
    role: Role,
    counters: Counters,
    dot_floor: u64,
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
            log: Vec::new(),
            feed: EventFeed::new(feed_capacity),
            role,
            counters: Counters::default(),
            dot_floor: 0,
            divergent: 0,
            max_ahead_us: u64::MAX,
        }
    }

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
            if fresh && w.context.get(self.region) < self.dot_floor {
                return self.check_contents(w, now_us);
            }
            return Err(format!(
                "write {} claims this region ({}) as its origin but is not one of its lost writes",
                w.id,
                self.regions.name(self.region)
            ));
        }
        self.check_remote(w, now_us)
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
        self.log.len() as u64
    }

    /// The logged write with seq `seq`.
    pub fn log_entry(&self, seq: u64) -> Option<&Arc<Write>> {
        seq.checked_sub(1).and_then(|i| self.log.get(i as usize))
    }

    /// Up to `max` writes of this region's log with seq > `after`.
    pub fn log_after(&self, after: u64, max: usize) -> Vec<Arc<Write>> {
        let start = (after as usize).min(self.log.len());
        let end = start.saturating_add(max).min(self.log.len());
        self.log[start..end].to_vec()
    }

    /// How far a peer that acknowledged this region's log up to `acked` is behind it at
    /// `now_us`: the writes not acknowledged, and the age of the oldest of them (Aurora's RPO
    /// lag, as the primary sees it).
    pub fn rpo_lag(&self, acked: u64, now_us: u64) -> RpoLag {
        let writes = self.log_head().saturating_sub(acked);
        let age_us = if writes == 0 {
            0
        } else {
            self.log_entry(acked + 1)
                .map_or(0, |w| now_us.saturating_sub(w.commit_us))
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
        check_key(key)?;
        if let WriteOp::Put(v) = &op {
            check_value(v)?;
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
                let old = match live.and_then(|w| w.value.as_ref()) {
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
        let context = self
            .store
            .next_context(key, self.region, self.dot_floor)
            .ok_or_else(|| {
                Error::Internal(format!("the causal counter of key {key:?} is exhausted"))
            })?;
        let timestamp = self.clock.tick_at(machine_us);
        let write = Arc::new(Write {
            key: Arc::from(key),
            value,
            version: Version {
                timestamp,
                region: self.region,
            },
            id,
            context,
            commit_us: machine_us,
            epoch: self.role.epoch,
            seq: self.log_head() + 1,
        });
        self.log.push(write.clone());
        if self.role.fenced(&write) {
            self.divergent += 1;
        }
        let outcome = self.store.apply(write.clone());
        self.feed.record(&outcome, machine_us);
        self.counters.writes_local += 1;
        Ok(Committed {
            write,
            outcome,
            new_value,
        })
    }

    /// Merge a write replicated from another region. `None` when a failover fence refuses it.
    pub fn apply_remote(&mut self, write: Arc<Write>, now_us: u64) -> Option<Outcome> {
        if self.role.fenced(&write) {
            self.counters.writes_fenced += 1;
            return None;
        }
        self.clock.observe(write.version.timestamp);
        let outcome = self.store.apply(write);
        self.feed.record(&outcome, now_us);
        self.counters.writes_applied += 1;
        Some(outcome)
    }

    /// Put back what storage recovered: the own log and every key's state.
    pub fn restore(
        &mut self,
        log: Vec<Arc<Write>>,
        items: Vec<(Arc<Write>, crate::version_vector::VersionVector)>,
    ) {
        if let Some(newest) = log.iter().map(|w| w.version.timestamp).max() {
            self.clock.restore(newest);
        }
        for (current, seen) in items {
            self.clock.observe(current.version.timestamp);
            self.store.restore(current, seen);
        }
        self.counters.writes_local = log.len() as u64;
        self.log = log;
        self.recount_divergent();
    }

    /// Put back a persisted conflict feed.
    pub fn restore_feed(
        &mut self,
        events: Vec<crate::events::LossEvent>,
        recorded: u64,
        conflicts: u64,
    ) {
        self.feed.restore(events, recorded, conflicts);
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

    /// Replace the state with a copy of another region's (Aurora Global resync). The own log is
    /// kept (its divergent part stays listable).
    pub fn install_snapshot(&mut self, items: impl IntoIterator<Item = Arc<Write>>) {
        self.store.clear();
        for w in items {
            self.clock.observe(w.version.timestamp);
            self.store.apply(w);
        }
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
