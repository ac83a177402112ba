//! The shared state of a running node: the pure [`Replica`] behind a mutex, plus what the async
//! shell needs around it. Each concern has a file of its own:
//! - here: the state itself, client commits and roles;
//! - [`transact`]: several reads and writes under one hold of the lock (DynamoDB requests);
//! - [`inbound`]: replicated batches, refusals, anti-entropy merges, applied positions, resync;
//! - [`durability`]: the storage pipeline seen from the state (tickets, durable reads, the head);
//! - [`rpo`]: the Aurora Global RPO bound and RPO lag samples;
//! - [`links`]: the run-time link table (its own lock, written only by admin calls);
//! - [`link_stats`]: per-link replication statistics and the peers' acknowledgements;
//! - [`requests`]: request counters by method and status code;
//! - [`truncation`]: dropping the own log's acknowledged front.
//!
//! Locking: the replica's critical sections are short and never `.await`, so a std `Mutex` is
//! the right tool (tokio's would only add overhead). Replication applies whole batches under one
//! lock acquisition.
//!
//! Resync (Aurora Global, after a failover) replaces the store and every applied position in
//! one critical section and bumps the *resync generation*. A pull session remembers the
//! generation it started in; a batch it applies after a resync is discarded under the same lock
//! ([`NodeState::apply_batch`] returns [`Applied::Resynced`]), and the session restarts from the
//! new applied position. So the applied positions always describe what the store holds.

mod durability;
mod inbound;
mod link_stats;
mod links;
mod requests;
mod rpo;
mod transact;
mod truncation;

pub use link_stats::{InboundLink, LinkStats, MAX_PULL_STREAMS_PER_PEER, OutboundPeer};
pub use links::LinkState;
pub use requests::{CODES, METHODS, RequestCounters};
pub use transact::Writer;

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    lock::Unpoisoned,
    options::NodeOptions,
    storage::{self, Op, Persister, Recovered},
};
use meridian_core::{
    clock::{Clock, now_us},
    region::{RegionId, Regions},
    replica::{Committed, Condition, Mode, Replica, Role, WriteOp},
};

/// Resolves once queued storage operations are durable.
pub type Durable = tokio::sync::oneshot::Receiver<Result<()>>;

/// What became of a replicated batch ([`NodeState::apply_batch`]).
#[derive(Debug)]
pub enum Applied {
    /// A resync happened since the pull session started: the batch was discarded, and the
    /// session must restart from the new applied position.
    Resynced,
    /// Applied; acknowledge it to the origin once this resolves (it is then durable here).
    Syncing(Durable),
    /// Applied, nothing to wait for (memory mode, or an empty batch): acknowledge it now.
    Done,
}

/// The node's shared state.
#[derive(Debug)]
pub struct NodeState {
    /// Options the node was started with.
    pub opts: NodeOptions,
    /// This region.
    pub region: RegionId,
    /// The cluster's regions.
    pub regions: Regions,
    /// Random id of this process's incarnation.
    pub incarnation: Uuid,
    /// Started without any state (memory mode, or a new or wiped data directory).
    pub fresh_start: bool,
    replica: Mutex<Replica>,
    head: Arc<watch::Sender<u64>>,
    /// The run-time link table.
    pub links: LinkState,
    resync_generation: watch::Sender<u64>,
    inbound: Vec<InboundLink>,
    outbound: Vec<OutboundPeer>,
    /// When the node started.
    pub(crate) started: Instant,
    /// Writes forwarded to the primary.
    pub(crate) forwarded: AtomicU64,
    /// Commits refused by the RPO bound.
    pub(crate) rpo_refusals: AtomicU64,
    /// Pull streams refused: the peer had [`MAX_PULL_STREAMS_PER_PEER`] open already.
    pub pull_stream_refusals: AtomicU64,
    /// Writes served to peers from the store: their position was below the log's base.
    pub catch_up_writes: AtomicU64,
    rng: AtomicU64,
    /// Client requests by method and status code (for metrics).
    pub requests: RequestCounters,
    /// Group-commit storage (None: memory only).
    persister: Option<Persister>,
    /// Multi-Region strong consistency (None: eventual).
    pub strong: Option<crate::strong::Strong>,
}

impl NodeState {
    /// A fresh node state; `Err` when the region is not in the cluster.
    pub fn new(opts: NodeOptions) -> Result<Self> {
        let cluster = &opts.cluster;
        let regions = cluster.region_set();
        let region = crate::convert::region_id(&regions, &opts.region, "region")?;
        let rc = cluster
            .region(&opts.region)
            .expect("region is in the cluster");
        let clock = Clock::new(cluster.clock, (rc.skew_ms * 1000.0) as i64);
        let role = Role {
            mode: cluster.mode,
            primary: regions.id(cluster.primary_name()),
            epoch: if cluster.mode == Mode::AuroraGlobal {
                1
            } else {
                0
            },
            frozen: false,
            fences: Vec::new(),
        };
        let mut core = Replica::new(region, regions.clone(), clock, role, opts.feed_capacity);
        core.set_feed_bytes(opts.feed_bytes);
        core.set_dot_floor(now_us());
        if cluster.collects_tombstones() {
            core.enable_tombstone_collection(cluster.tombstone_grace_ms.saturating_mul(1000));
        }
        let max_skew_ms = cluster
            .regions
            .iter()
            .map(|r| r.skew_ms)
            .fold(0.0, f64::max);
        core.set_max_clock_ahead(
            cluster
                .max_clock_offset_ms
                .saturating_add(max_skew_ms.ceil() as u64)
                .saturating_mul(1000),
        );
        let n = regions.len();
        Ok(Self {
            region,
            incarnation: Uuid::new_v4(),
            fresh_start: true,
            replica: Mutex::new(core),
            head: Arc::new(watch::Sender::new(0)),
            links: LinkState::new(cluster.link_table()),
            resync_generation: watch::Sender::new(0),
            inbound: (0..n)
                .map(|_| InboundLink {
                    applied: watch::Sender::new(0),
                    stats: Mutex::new(LinkStats::new()),
                })
                .collect(),
            outbound: (0..n).map(|_| OutboundPeer::new()).collect(),
            started: Instant::now(),
            forwarded: AtomicU64::new(0),
            rpo_refusals: AtomicU64::new(0),
            pull_stream_refusals: AtomicU64::new(0),
            catch_up_writes: AtomicU64::new(0),
            rng: AtomicU64::new(now_us()),
            requests: Default::default(),
            persister: None,
            strong: (cluster.multi_region_consistency == meridian_core::Consistency::Strong)
                .then(|| crate::strong::Strong::new(region, n, rc.witness, true)),
            regions,
            opts,
        })
    }

    /// A node state over recovered storage: the log, the keys, the applied positions and the
    /// incarnation come back as they were.
    pub fn with_storage(
        opts: NodeOptions,
        recovered: Recovered,
        persister: Persister,
    ) -> Result<Self> {
        let mut state = Self::new(opts)?;
        state.incarnation = recovered.incarnation;
        state.fresh_start = recovered.fresh;
        if let Some(s) = &state.strong {
            s.set_fresh(recovered.fresh);
            if recovered.strong_rejoining && !recovered.fresh {
                s.set_rejoining();
            }
            for (key, committed, fences) in recovered.strong {
                s.restore(&key, committed, fences);
            }
        }
        let head = recovered.log.head();
        state.replica().restore(recovered.log, recovered.items);
        for (bucket, floor) in recovered.floors {
            state.replica().restore_floor(bucket, floor);
        }
        state.replica().restore_feed(
            recovered.events,
            recovered.feed_recorded,
            recovered.feed_conflicts,
        );
        // The persist thread advances the durable head: share its sender.
        state.head = persister.head();
        state.head.send_replace(head);
        for (origin, seq, incarnation) in recovered.applied {
            if let Some(o) = state.regions.id(&origin) {
                state.inbound[o.index()].applied.send_replace(seq);
                let mut s = state.inbound[o.index()].stats.locked();
                s.origin_incarnation = incarnation;
                s.origin_head = seq;
            }
        }
        if let Some(r) = recovered.role {
            let mut core = state.replica();
            let role = Role {
                primary: r.primary,
                epoch: r.epoch,
                fences: r.fences,
                frozen: r.frozen,
                ..core.role().clone()
            };
            if role.epoch >= core.role().epoch {
                core.set_role(role)?;
            }
        }
        state.persister = Some(persister);
        Ok(state)
    }

    /// Install a new role (switchover, failover, rejoin) and make it durable, so a restarted
    /// node comes back with the primary and fences the cluster agreed on, not the file's.
    pub async fn set_role(&self, role: Role) -> Result<()> {
        let durable = {
            let mut core = self.replica();
            core.set_role(role.clone())?;
            self.persist(vec![Op::Role(role)])
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
    }

    /// This region's name.
    pub fn region_name(&self) -> &str {
        self.regions.name(self.region)
    }

    /// Lock the replica. Never held across an `.await`.
    pub fn replica(&self) -> MutexGuard<'_, Replica> {
        self.replica.locked()
    }

    /// Other regions of the cluster.
    pub fn peers(&self) -> impl Iterator<Item = RegionId> + '_ {
        self.regions.ids().filter(move |r| *r != self.region)
    }

    /// A uniform sample in [0, 1), lock-free (splitmix64 over an atomic counter).
    pub fn uniform(&self) -> f64 {
        let mut z = self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Commit a client write here, and wake the peers' pull streams.
    pub async fn commit(
        &self,
        key: &str,
        op: WriteOp,
        condition: Option<&Condition>,
        id: Option<Uuid>,
    ) -> Result<Committed> {
        if self.persister.as_ref().is_some_and(Persister::broken) {
            return Err(Error::Unavailable(
                "storage failed on this node; it refuses writes (see its log)".into(),
            ));
        }
        let (committed, durable) = {
            let mut core = self.replica();
            self.check_rpo_bound(&core)?;
            let events = core.feed().lost();
            let c = core.write(
                key,
                op,
                condition,
                id.unwrap_or_else(Uuid::new_v4),
                now_us(),
            )?;
            let durable = self.persist_keys(
                &core,
                std::iter::once(key),
                events,
                vec![Op::Log(c.write.clone())],
                Some(c.write.seq),
            );
            (c, durable)
        };
        self.await_logged(durable, committed.write.seq).await?;
        Ok(committed)
    }

    /// Memory mode: own writes are logged up to `seq`; peers may pull them now.
    pub(crate) fn advance_head(&self, seq: u64) {
        self.head
            .send_if_modified(|h| (seq > *h).then(|| *h = seq).is_some());
    }

    /// Wait until own writes logged up to `seq` are durable (`durable`, from a job queued with
    /// that seq: the persist thread advances the durable head right after the sync, so the head
    /// moves even if this wait is abandoned); in memory mode advance the head now. Peers only
    /// ever see durable log entries: the head is the durable head.
    pub(crate) async fn await_logged(&self, durable: Option<Durable>, seq: u64) -> Result<()> {
        match durable {
            Some(d) => storage::durable(d).await,
            None => {
                self.advance_head(seq);
                Ok(())
            }
        }
    }

    /// A receiver of this node's log head (for pull streams).
    pub fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Replication into this node from `origin`.
    pub fn inbound(&self, origin: RegionId) -> &InboundLink {
        &self.inbound[origin.index()]
    }

    /// A peer pulling from this node.
    pub fn outbound(&self, peer: RegionId) -> &OutboundPeer {
        &self.outbound[peer.index()]
    }

    /// Count a write forwarded to the primary.
    pub fn count_forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// Pause or resume writes, durably (a primary restarted in the middle of a switchover
    /// comes back paused, not writable); returns the log head and its commit time.
    pub async fn freeze(&self, frozen: bool) -> Result<(u64, u64)> {
        let (head, durable) = {
            let mut core = self.replica();
            core.set_frozen(frozen);
            let head = core.log_head();
            let durable = self.persist(vec![Op::Role(core.role().clone())]);
            (
                (head, core.log_entry(head).map_or(0, |w| w.commit_us)),
                durable,
            )
        };
        if let Some(d) = durable {
            storage::durable(d).await?;
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests;
