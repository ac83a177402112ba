//! The shared state of a running node: the pure [`Replica`] behind a mutex, plus what the async
//! shell needs around it — the link table, per-link replication statistics, notifications of
//! new log entries and applied positions, the peers' acknowledgements, and the Aurora Global
//! RPO lag figures.
//!
//! Locking: the core's critical sections are short and never `.await`, so a std `Mutex` is the
//! right tool (tokio's would only add overhead). Replication applies whole batches under one
//! lock acquisition. Link settings are read per request from an `RwLock` that is written only by
//! admin calls.
//!
//! Resync (Aurora Global, after a failover) replaces the store and every applied position in
//! one critical section and bumps the *resync generation*. A pull session remembers the
//! generation it started in; a batch it applies after a resync is discarded under the same lock
//! ([`NodeState::apply_batch`] returns `false`), and the session restarts from the new applied
//! position. So the applied positions always describe what the store holds.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use meridian_proto::v1 as pb;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    storage::{self, Op, Persister, Recovered},
};
use meridian_core::{
    clock::{Clock, now_us},
    config::ClusterConfig,
    events::DEFAULT_FEED_CAPACITY,
    links::{LinkSetting, LinkTable},
    region::{RegionId, Regions},
    replica::{Committed, Condition, Fence, Mode, Replica, Role, RpoLag, WriteOp},
    store::Write,
};

/// Resolves once queued storage operations are durable.
pub type Durable = tokio::sync::oneshot::Receiver<Result<()>>;

/// Options of one node process.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// This node's region.
    pub region: String,
    /// The cluster (every node of a cluster gets the same one).
    pub cluster: ClusterConfig,
    /// When set, admin calls that change links, partitions or roles need this token.
    pub admin_token: Option<String>,
    /// Conflict events kept in the feed.
    pub feed_capacity: usize,
    /// Most writes per replication batch.
    pub max_batch: usize,
    /// Where the state lives.
    pub storage: StorageMode,
}

/// Where a node keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// Only in memory: a restart starts empty (and with a new incarnation).
    Memory,
    /// Durable, in this directory (fjall, group commit).
    Durable(std::path::PathBuf),
}

impl NodeOptions {
    /// Defaults for `region` of `cluster`.
    pub fn new(region: &str, cluster: ClusterConfig) -> Self {
        Self {
            region: region.to_owned(),
            cluster,
            admin_token: None,
            feed_capacity: DEFAULT_FEED_CAPACITY,
            max_batch: 512,
            storage: StorageMode::Memory,
        }
    }
}

/// Replication *into* this node from one origin.
#[derive(Debug)]
pub struct InboundLink {
    /// Highest origin seq applied here.
    pub applied: watch::Sender<u64>,
    /// Statistics.
    pub stats: Mutex<LinkStats>,
}

/// Statistics of one inbound link.
#[derive(Debug)]
pub struct LinkStats {
    /// The origin's log head as last heard.
    pub origin_head: u64,
    /// Writes applied.
    pub writes_applied: u64,
    /// Key + value bytes applied.
    pub bytes_applied: u64,
    /// Apply time − origin commit time, µs.
    pub lag_us: Histogram<u64>,
    /// Lag of the last write applied, µs.
    pub last_lag_us: u64,
    /// Commit time of the oldest write received but not applied yet (0: none).
    pub oldest_pending_commit_us: u64,
    /// Is the pull stream connected?
    pub connected: bool,
    /// The origin's incarnation the applied position refers to (empty: none yet).
    pub origin_incarnation: String,
    /// RPO lag samples (Aurora Global, link from the primary), µs.
    pub rpo_lag_us: Histogram<u64>,
    /// Replicated writes refused on receipt ([`Replica::check_remote`]).
    pub refused_writes: u64,
    /// Why the last refused write was refused; cleared when a batch is accepted.
    pub stuck_reason: String,
}

impl LinkStats {
    fn new() -> Self {
        Self {
            origin_head: 0,
            writes_applied: 0,
            bytes_applied: 0,
            lag_us: new_histogram(),
            last_lag_us: 0,
            oldest_pending_commit_us: 0,
            connected: false,
            origin_incarnation: String::new(),
            rpo_lag_us: new_histogram(),
            refused_writes: 0,
            stuck_reason: String::new(),
        }
    }
}

/// A histogram of µs values up to an hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Most pull streams one peer may have open at once (one is normal; a reconnect can overlap
/// the stream it replaces for a moment).
pub const MAX_PULL_STREAMS_PER_PEER: u64 = 4;

/// A peer pulling from this node: what it acknowledged having applied.
#[derive(Debug)]
pub struct OutboundPeer {
    /// Highest seq of this node's log the peer has applied.
    pub acked: AtomicU64,
    /// Streams currently open from the peer.
    pub streams: AtomicU64,
    /// RPO lag samples of the peer while this node is the Aurora Global primary, µs.
    pub rpo_lag_us: Mutex<Histogram<u64>>,
    /// The peer's incarnation its acknowledgements belong to.
    pub incarnation: Mutex<String>,
}

impl OutboundPeer {
    fn new() -> Self {
        Self {
            acked: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            rpo_lag_us: Mutex::new(new_histogram()),
            incarnation: Mutex::new(String::new()),
        }
    }
}

/// Record `value` in `h`, clamped to its range.
fn record(h: &mut Histogram<u64>, value: u64) {
    let _ = h.record(value.min(h.high()));
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
    core: Mutex<Replica>,
    head: Arc<watch::Sender<u64>>,
    links: RwLock<LinkTable>,
    links_source: Mutex<String>,
    links_version: watch::Sender<u64>,
    resync_generation: watch::Sender<u64>,
    inbound: Vec<InboundLink>,
    outbound: Vec<OutboundPeer>,
    started: Instant,
    forwarded: AtomicU64,
    rpo_refusals: AtomicU64,
    /// Pull streams refused: the peer had [`MAX_PULL_STREAMS_PER_PEER`] open already.
    pub pull_stream_refusals: AtomicU64,
    rng: AtomicU64,
    /// Client requests by method and status code (for metrics).
    pub requests: crate::metrics::RequestCounters,
    /// Group-commit storage (None: memory only).
    persister: Option<Persister>,
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
        core.set_dot_floor(now_us());
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
            core: Mutex::new(core),
            head: Arc::new(watch::Sender::new(0)),
            links: RwLock::new(cluster.link_table()),
            links_source: Mutex::new("cluster file".to_owned()),
            links_version: watch::Sender::new(0),
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
            rng: AtomicU64::new(now_us()),
            requests: Default::default(),
            persister: None,
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
        let head = recovered.log.len() as u64;
        state.core().restore(recovered.log, recovered.items);
        state.core().restore_feed(
            recovered.events,
            recovered.feed_recorded,
            recovered.feed_conflicts,
        );
        state.head.send_replace(head);
        for (origin, seq, incarnation) in recovered.applied {
            if let Some(o) = state.regions.id(&origin) {
                state.inbound[o.index()].applied.send_replace(seq);
                let mut s = state.inbound[o.index()]
                    .stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                s.origin_incarnation = incarnation;
                s.origin_head = seq;
            }
        }
        if let Some(r) = recovered.role {
            let mut core = state.core();
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

    /// The group-commit handle (durable mode).
    pub fn persister(&self) -> Option<&Persister> {
        self.persister.as_ref()
    }

    /// Is the state durable?
    pub fn durable(&self) -> bool {
        self.persister.is_some()
    }

    /// Queue the state of `keys`, the loss events recorded after feed position `events_after`,
    /// and more `ops` for durability; call under the core lock.
    fn persist_keys<'a>(
        &self,
        core: &Replica,
        keys: impl Iterator<Item = &'a str>,
        events_after: u64,
        mut ops: Vec<Op>,
    ) -> Option<tokio::sync::oneshot::Receiver<Result<()>>> {
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
                ops.push(Op::Item {
                    current: current.clone(),
                    seen: seen.clone(),
                });
            }
        }
        Some(persister.queue(ops))
    }

    /// Install a new role (switchover, failover, rejoin) and make it durable, so a restarted
    /// node comes back with the primary and fences the cluster agreed on, not the file's.
    pub async fn set_role(&self, role: Role) -> Result<()> {
        let durable = {
            let mut core = self.core();
            core.set_role(role.clone())?;
            self.persist(vec![Op::Role(role)])
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
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
            let core = self.core();
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
    pub fn persist(&self, ops: Vec<Op>) -> Option<tokio::sync::oneshot::Receiver<Result<()>>> {
        self.persister.as_ref().map(|p| p.queue(ops))
    }

    /// This region's name.
    pub fn region_name(&self) -> &str {
        self.regions.name(self.region)
    }

    /// Lock the core. Never held across an `.await`.
    pub fn core(&self) -> MutexGuard<'_, Replica> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            let mut core = self.core();
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
            );
            (c, durable)
        };
        // Peers only ever see durable log entries: the head is the durable head. It advances in
        // a task of its own, so a client that gives up (deadline, disconnect) while the write
        // syncs cannot leave the write logged but never offered to the peers.
        let seq = committed.write.seq;
        let head = self.head.clone();
        let advance = async move {
            if let Some(d) = durable {
                storage::durable(d).await?;
            }
            head.send_if_modified(|h| (seq > *h).then(|| *h = seq).is_some());
            Ok::<(), Error>(())
        };
        match self.persister {
            Some(_) => tokio::spawn(advance)
                .await
                .map_err(|e| Error::Internal(format!("durability task: {e}")))??,
            None => advance.await?,
        }
        Ok(committed)
    }

    /// Aurora Global RPO bound: refuse while no secondary is within the bound.
    fn check_rpo_bound(&self, core: &Replica) -> Result<()> {
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
    fn peer_rpo_lag(&self, core: &Replica, peer: RegionId, now: u64) -> RpoLag {
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
        let core = self.core();
        let role = core.role();
        let Some(primary) = role.primary.filter(|_| role.mode == Mode::AuroraGlobal) else {
            return;
        };
        if primary == self.region {
            for peer in self.peers() {
                let lag = self.peer_rpo_lag(&core, peer, now);
                record(
                    &mut self.outbound[peer.index()]
                        .rpo_lag_us
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()),
                    lag.age_us,
                );
            }
        } else {
            drop(core);
            let mut s = self.inbound[primary.index()]
                .stats
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let age = if s.oldest_pending_commit_us == 0 {
                0
            } else {
                now.saturating_sub(s.oldest_pending_commit_us)
            };
            record(&mut s.rpo_lag_us, age);
        }
    }

    /// A receiver of this node's log head (for pull streams).
    pub fn subscribe_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Where a pull session from `origin` starts: the applied position and the resync
    /// generation it belongs to (read together, so they match).
    pub fn pull_position(&self, origin: RegionId) -> (u64, u64) {
        let _core = self.core();
        (self.applied_from(origin), *self.resync_generation.borrow())
    }

    /// A receiver that changes at every resync (pull sessions restart on it).
    pub fn subscribe_resyncs(&self) -> watch::Receiver<u64> {
        self.resync_generation.subscribe()
    }

    /// Merge a batch of writes replicated from `origin` by a session of resync generation
    /// `generation`, queue it for durability, and record the link statistics. Returns `None`
    /// when a resync happened since the session started (the batch was discarded and the
    /// session must restart); otherwise what to await before acknowledging the batch to the
    /// origin (nothing in memory mode). Not awaiting here lets the link keep applying while
    /// the disk syncs: group commit then folds many batches into one sync.
    pub fn apply_batch(
        &self,
        origin: RegionId,
        writes: &[Arc<Write>],
        generation: u64,
    ) -> Option<Option<Durable>> {
        let Some(last) = writes.last() else {
            return Some(None);
        };
        let link = &self.inbound[origin.index()];
        let durable = {
            let mut core = self.core();
            if *self.resync_generation.borrow() != generation {
                return None;
            }
            let now = now_us();
            let events = core.feed().lost();
            for w in writes {
                core.apply_remote(w.clone(), now);
            }
            // Under the core lock, so that a resync never interleaves between the store and
            // the position.
            link.applied.send_replace(last.seq);
            let incarnation = link
                .stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .origin_incarnation
                .clone();
            let position = Op::Applied {
                origin: self.regions.name(origin).to_owned(),
                seq: last.seq,
                incarnation,
            };
            let mut keys: Vec<&str> = writes.iter().map(|w| &*w.key).collect();
            keys.sort_unstable();
            keys.dedup();
            self.persist_keys(&core, keys.into_iter(), events, vec![position])
        };
        let now = now_us();
        {
            let mut s = link.stats.lock().unwrap_or_else(|p| p.into_inner());
            for w in writes {
                let lag = now.saturating_sub(w.commit_us).max(1);
                let high = s.lag_us.high();
                let _ = s.lag_us.record(lag.min(high));
                s.last_lag_us = lag;
                s.bytes_applied += w.payload_bytes() as u64;
            }
            s.writes_applied += writes.len() as u64;
            s.origin_head = s.origin_head.max(last.seq);
            s.stuck_reason.clear();
        }
        Some(durable)
    }

    /// Check writes received from `origin` before they are queued ([`Replica::check_remote`]).
    /// A refusal is loud: an error log line, the link's refused counter (a metric) and its
    /// stuck reason (`ctl stats`). Nothing of a refused batch is applied.
    pub fn check_received(&self, origin: RegionId, writes: &[Arc<Write>]) -> Result<()> {
        let now = now_us();
        let refused = {
            let core = self.core();
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
        let mut s = self.inbound[origin.index()]
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner());
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
            let mut core = self.core();
            let events = core.feed().lost();
            for w in writes {
                core.apply_remote(w.clone(), now);
            }
            self.persist_keys(&core, writes.iter().map(|w| &*w.key), events, vec![])
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
    }

    /// Replication into this node from `origin`.
    pub fn inbound(&self, origin: RegionId) -> &InboundLink {
        &self.inbound[origin.index()]
    }

    /// A peer pulling from this node.
    pub fn outbound(&self, peer: RegionId) -> &OutboundPeer {
        &self.outbound[peer.index()]
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
            let mut core = self.core();
            core.set_role(role.clone())?;
            core.install_snapshot(items);
            let mut ops = vec![Op::ClearItems, Op::Role(role)];
            for origin in self.peers() {
                let link = &self.inbound[origin.index()];
                let seq = high_water(origin);
                link.applied.send_replace(seq);
                let mut s = link.stats.lock().unwrap_or_else(|p| p.into_inner());
                s.origin_head = s.origin_head.max(seq);
                s.oldest_pending_commit_us = 0;
                ops.push(Op::Applied {
                    origin: self.regions.name(origin).to_owned(),
                    seq,
                    incarnation: s.origin_incarnation.clone(),
                });
            }
            self.resync_generation.send_modify(|g| *g += 1);
            let keys: Vec<Arc<str>> = core.store().iter().map(|w| w.key.clone()).collect();
            let events = core.feed().lost();
            self.persist_keys(&core, keys.iter().map(|k| &**k), events, ops)
        };
        match durable {
            Some(d) => storage::durable(d).await,
            None => Ok(()),
        }
    }

    /// The origin restarted with a new log: its positions start again at 0 (no session restart:
    /// the running stream already serves from the start).
    pub fn reset_position(&self, origin: RegionId) {
        self.inbound[origin.index()].applied.send_replace(0);
        let mut s = self.inbound[origin.index()]
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        s.origin_head = 0;
    }

    /// The link setting `from -> to`.
    pub fn link(&self, from: RegionId, to: RegionId) -> LinkSetting {
        self.links
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(from, to)
    }

    /// A copy of the link table.
    pub fn link_table(&self) -> LinkTable {
        self.links.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Change the link table (an admin call) and wake the replication tasks.
    pub fn update_links(&self, f: impl FnOnce(&mut LinkTable)) {
        f(&mut self.links.write().unwrap_or_else(|p| p.into_inner()));
        let mut source = self.links_source.lock().unwrap_or_else(|p| p.into_inner());
        if !source.ends_with("changed at run time") {
            source.push_str(", changed at run time");
        }
        drop(source);
        self.links_version.send_modify(|v| *v += 1);
    }

    /// Take a whole link table learnt from `peer` (at start: a restarted node keeps the
    /// network's run-time state, partitions included).
    pub fn adopt_links(&self, table: LinkTable, peer: RegionId) {
        *self.links.write().unwrap_or_else(|p| p.into_inner()) = table;
        *self.links_source.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("learnt from {} at start", self.regions.name(peer));
        self.links_version.send_modify(|v| *v += 1);
    }

    /// Where the link table comes from (see `LinkTable.source` in the API).
    pub fn links_source(&self) -> String {
        self.links_source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A receiver that changes whenever the link table does.
    pub fn subscribe_links(&self) -> watch::Receiver<u64> {
        self.links_version.subscribe()
    }

    /// Count a write forwarded to the primary.
    pub fn count_forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// Pause or resume writes, durably (a primary restarted in the middle of a switchover
    /// comes back paused, not writable); returns the log head and its commit time.
    pub async fn freeze(&self, frozen: bool) -> Result<(u64, u64)> {
        let (head, durable) = {
            let mut core = self.core();
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

    /// Status and statistics, as served by `Admin/Status`.
    pub fn status(&self) -> pb::NodeStatus {
        let now = now_us();
        let (
            role,
            items,
            head,
            counters,
            conflicts,
            lost,
            clock_mode,
            skew_us,
            writable,
            divergent,
            secondaries,
        ) = {
            let core = self.core();
            let is_primary =
                core.role().mode == Mode::AuroraGlobal && core.role().primary == Some(self.region);
            let secondaries: Vec<_> = if is_primary {
                self.peers()
                    .map(|p| {
                        let peer = &self.outbound[p.index()];
                        let lag = self.peer_rpo_lag(&core, p, now);
                        pb::SecondaryStatus {
                            region: self.regions.name(p).to_owned(),
                            acked_seq: peer.acked.load(Ordering::Relaxed),
                            rpo_lag_writes: lag.writes,
                            rpo_lag_ms: lag.age_us as f64 / 1000.0,
                            rpo_lag: Some(summarize(
                                &peer.rpo_lag_us.lock().unwrap_or_else(|p| p.into_inner()),
                            )),
                            connected: peer.streams.load(Ordering::Relaxed) > 0,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            (
                core.role().clone(),
                core.store().len() as u64,
                core.log_head(),
                core.counters(),
                core.feed().conflicts(),
                core.feed().lost(),
                core.clock().mode(),
                core.clock().skew_us(),
                core.check_writable().is_ok(),
                core.divergent_count(),
                secondaries,
            )
        };
        let links = self
            .peers()
            .map(|origin| {
                let s = self.inbound[origin.index()]
                    .stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let applied = self.applied_from(origin);
                let setting = self.link(origin, self.region);
                pb::LinkStatus {
                    origin: self.regions.name(origin).to_owned(),
                    setting: Some(link_to_pb(&self.regions, origin, self.region, &setting)),
                    applied_seq: applied,
                    origin_head_seq: s.origin_head,
                    pending: s.origin_head.saturating_sub(applied),
                    writes_applied: s.writes_applied,
                    bytes_applied: s.bytes_applied,
                    lag: Some(summarize(&s.lag_us)),
                    last_lag_ms: s.last_lag_us as f64 / 1000.0,
                    connected: s.connected,
                    rpo_lag_ms: if s.oldest_pending_commit_us == 0 {
                        0.0
                    } else {
                        now.saturating_sub(s.oldest_pending_commit_us) as f64 / 1000.0
                    },
                    rpo_lag_writes: s.origin_head.saturating_sub(applied),
                    rpo_lag: Some(summarize(&s.rpo_lag_us)),
                    refused_writes: s.refused_writes,
                    stuck_reason: s.stuck_reason.clone(),
                }
            })
            .collect();
        pb::NodeStatus {
            region: self.region_name().to_owned(),
            mode: match role.mode {
                Mode::GlobalTables => pb::Mode::GlobalTables,
                Mode::AuroraGlobal => pb::Mode::AuroraGlobal,
            } as i32,
            primary: match role.mode {
                Mode::AuroraGlobal => role
                    .primary
                    .map(|p| self.regions.name(p).to_owned())
                    .unwrap_or_default(),
                Mode::GlobalTables => String::new(),
            },
            epoch: role.epoch,
            writable,
            clock: clock_mode.name().to_owned(),
            items,
            log_head: head,
            writes_local: counters.writes_local,
            conflicts,
            lost_writes: lost,
            links,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            incarnation: self.incarnation.to_string(),
            forwarded_writes: self.forwarded.load(Ordering::Relaxed),
            divergent_writes: divergent,
            clock_skew_ms: skew_us as f64 / 1000.0,
            write_forwarding: self.opts.cluster.write_forwarding,
            rpo_bound_ms: self.opts.cluster.rpo_bound_ms,
            frozen: role.frozen,
            fences: role
                .fences
                .iter()
                .map(|f| fence_to_pb(&self.regions, f))
                .collect(),
            secondaries,
            rpo_refusals: self.rpo_refusals.load(Ordering::Relaxed),
            pull_stream_refusals: self.pull_stream_refusals.load(Ordering::Relaxed),
        }
    }
}

/// A fence on the wire.
pub fn fence_to_pb(regions: &Regions, f: &Fence) -> pb::Fence {
    pb::Fence {
        region: regions.name(f.region).to_owned(),
        after_seq: f.after_seq,
        epoch: f.epoch,
        cut_at_us: f.cut_at_us,
    }
}

/// A link setting on the wire.
pub fn link_to_pb(
    regions: &Regions,
    from: RegionId,
    to: RegionId,
    s: &LinkSetting,
) -> pb::LinkSetting {
    pb::LinkSetting {
        from: regions.name(from).to_owned(),
        to: regions.name(to).to_owned(),
        latency_ms: s.latency_ms,
        jitter_ms: s.jitter_ms,
        loss: s.loss,
        partitioned: s.partitioned,
    }
}

/// Summary of a µs histogram, in ms.
pub fn summarize(h: &Histogram<u64>) -> pb::LatencySummary {
    let ms = |v: u64| v as f64 / 1000.0;
    if h.is_empty() {
        return pb::LatencySummary::default();
    }
    pb::LatencySummary {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    }
}

#[cfg(test)]
mod tests;
