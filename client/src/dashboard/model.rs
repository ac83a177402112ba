//! What the dashboard page draws: one [`Snapshot`] per update, served as `GET /api/snapshot`
//! and as one `snapshot` event of `GET /api/events`, and the chart [`Point`]s of
//! `GET /api/history`. Field names are a public contract (scripts read them, the page is built
//! on them); states are words ("up", "down", "partitioned"), so that neither the page nor a
//! script has to tell them from a colour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything one update knows about the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Update number, from 1; every update has a new one.
    pub seq: u64,
    /// When the regions were read, ms since the Unix epoch.
    pub at_ms: u64,
    /// Time between updates, ms.
    pub interval_ms: u64,
    /// The cluster as a whole.
    pub cluster: ClusterView,
    /// What the program driving the cluster is doing (the demo's current step), if it says.
    pub phase: Option<String>,
    /// Which controls the page may offer.
    pub controls: Controls,
    /// Where client latency comes from: `load` (the load generator running beside the
    /// dashboard) or `probe` (the dashboard's own reads); see [`LatencyView::source`].
    pub latency_source: String,
    /// One entry per region, in the cluster file's order.
    pub regions: Vec<RegionView>,
    /// One entry per directed link `from` → `to` (replication of `from`'s writes into `to`).
    pub links: Vec<LinkView>,
    /// The most recent conflicts, newest first (each once, however many regions detected it).
    pub conflicts: Vec<ConflictView>,
    /// Conflicts and lost writes the nodes counted, summed over regions (each region that
    /// merges two concurrent writes counts the conflict: a pair met by three regions counts 3).
    pub totals: Totals,
    /// Switchovers, failovers and rejoins, newest first.
    pub role_changes: Vec<RoleChange>,
    /// The controls used from the page, newest first, with their results.
    pub actions: Vec<ActionRecord>,
    /// This update's values for the charts.
    pub point: Point,
}

/// The cluster as a whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// `global-tables` or `aurora-global` (as the answering nodes say; None: none answered).
    pub mode: Option<String>,
    /// Aurora Global: the primary, as the nodes with the highest epoch say.
    pub primary: Option<String>,
    /// Aurora Global: the highest epoch a node reports.
    pub epoch: u64,
    /// Regions that answered this update.
    pub regions_up: usize,
    /// Regions of the cluster.
    pub regions: usize,
    /// Where the link table comes from (the node's words: "cluster file", "changed at run time").
    pub link_source: Option<String>,
}

/// Which controls the page may offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    /// `POST /api/action` needs the admin token (header `meridian-admin-token`).
    pub token_required: bool,
    /// Kill and restart a region's process (the cluster was started by `cluster up`).
    pub processes: bool,
    /// Whether actions are accepted at all (a replay takes none).
    pub enabled: bool,
}

/// Latency clients see at one region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Operations measured.
    pub samples: u64,
    /// `load`: every operation of the load generator running beside the dashboard, over the
    /// last update; `probe`: the dashboard's own reads (one per update, the last 20).
    pub source: String,
}

/// One region.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionView {
    /// Region name.
    pub name: String,
    /// Its node's gRPC address.
    pub addr: String,
    /// `up` (answered this update) or `down`.
    pub state: String,
    /// The state in words, for people: "up", "down (process not running)", "partitioned",
    /// "partitioned from eu-west-1", "frozen (switchover draining)", "catching up after a
    /// restart: ..." (strong consistency: not serving writes and strong reads yet), "cut off: still
    /// believes it is the primary (epoch 2 < 3)".
    pub health: String,
    /// Cut off from every other region.
    pub partitioned: bool,
    /// The regions it is cut off from (empty: none).
    pub partitioned_from: Vec<String>,
    /// Why it is down (the call's error), when it is.
    pub error: Option<String>,
    /// `read-write` (Global Tables), `primary` or `secondary` (Aurora Global).
    pub role: Option<String>,
    /// The node's mode.
    pub mode: Option<String>,
    /// The primary this node follows (Aurora Global).
    pub primary: Option<String>,
    /// The node's epoch (Aurora Global).
    pub epoch: Option<u64>,
    /// Does it accept writes right now?
    pub writable: Option<bool>,
    /// Peers whose writes stream in (connected pull streams).
    pub reachable_peers: usize,
    /// Other regions.
    pub peers: usize,
    /// Does it reach a majority of the cluster, itself included (what a quorum write needs)?
    pub majority: bool,
    /// Writes committed here per second, over the last update.
    pub write_rate: Option<f64>,
    /// Reads served per second, over the last update (from the node's metrics page, or from
    /// the load generator running beside the dashboard).
    pub read_rate: Option<f64>,
    /// Where `read_rate` comes from: `metrics` or `load` (None: not known).
    pub read_rate_source: Option<String>,
    /// Client latency.
    pub latency: Option<LatencyView>,
    /// Writes committed here since the node started.
    pub writes_local: Option<u64>,
    /// Keys held.
    pub items: Option<u64>,
    /// Conflicts detected here since start.
    pub conflicts: Option<u64>,
    /// Writes that lost a merge here since start.
    pub lost_writes: Option<u64>,
    /// Conflicts detected here per second, over the last update.
    pub conflict_rate: Option<f64>,
    /// Lost writes per second, over the last update.
    pub lost_rate: Option<f64>,
    /// Aurora Global RPO lag, ms: at the primary the worst secondary's, at a secondary its own
    /// as it knows it.
    pub rpo_lag_ms: Option<f64>,
    /// The node's process id (a cluster started by `cluster up`).
    pub pid: Option<u32>,
}

/// One directed link: replication of `from`'s writes into `to`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkView {
    /// The origin.
    pub from: String,
    /// The receiving region.
    pub to: String,
    /// `ok`, `partitioned` (cut by a partition), `down` (an end is down), `disconnected`
    /// (the stream is not connected, e.g. reconnecting after a heal), `unknown` (no node
    /// answered with this link).
    pub state: String,
    /// Configured one-way latency, ms.
    pub latency_ms: Option<f64>,
    /// Configured jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Configured fraction of batches lost.
    pub loss: Option<f64>,
    /// Is `to`'s pull stream from `from` connected?
    pub connected: Option<bool>,
    /// Writes committed at `from` not yet applied at `to`, as `to` knows it (a region cut off
    /// does not hear of the origin's new writes until the heal).
    pub pending: Option<u64>,
    /// Writes committed at `from` not yet applied at `to`, as the dashboard sees both: `from`'s
    /// log head minus `to`'s applied position (read at nearly the same time). A partition's
    /// backlog builds here while it lasts.
    pub backlog: Option<u64>,
    /// Mean replication lag of the writes applied over the last update, ms (None: none were).
    pub lag_ms: Option<f64>,
    /// Lag of the last write applied, ms.
    pub last_lag_ms: Option<f64>,
    /// Lag median since `to` started, ms.
    pub lag_p50_ms: Option<f64>,
    /// Lag 99th percentile since `to` started, ms.
    pub lag_p99_ms: Option<f64>,
    /// Writes applied per second, over the last update.
    pub apply_rate: Option<f64>,
    /// Aurora Global RPO lag of this link as `to` knows it, ms.
    pub rpo_lag_ms: Option<f64>,
    /// The same, in writes.
    pub rpo_lag_writes: Option<u64>,
    /// Replicated writes refused on receipt (the link is stuck on them).
    pub refused_writes: Option<u64>,
}

/// One side of a conflict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteView {
    /// The region that made the write.
    pub region: String,
    /// Its version, `TIMESTAMP.LOGICAL@REGION` (as `ctl get` prints it).
    pub version: String,
    /// Its write id.
    pub write_id: String,
    /// A delete?
    pub tombstone: bool,
}

/// One conflict (or causal inversion), once however many regions detected it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConflictView {
    /// `conflict` or `causal-inversion`.
    pub kind: String,
    /// The key.
    pub key: String,
    /// The write that won (last-writer-wins).
    pub winner: WriteView,
    /// The write that lost.
    pub loser: WriteView,
    /// The regions that detected it, in the order the dashboard heard of them.
    pub detected_by: Vec<String>,
    /// When the first of them detected it, µs since the Unix epoch.
    pub detected_at_us: u64,
}

/// Conflicts and lost writes the nodes counted, summed over regions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Conflicts detected.
    pub conflicts: u64,
    /// Writes lost in a merge.
    pub lost_writes: u64,
}

/// A switchover, failover or rejoin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleChange {
    /// `switchover`, `failover`, `rejoin`, or `observed` (the primary changed by a command
    /// the dashboard did not see: no RPO or RTO known).
    pub kind: String,
    /// The old primary (for a rejoin: the region that rejoined).
    pub from: String,
    /// The new primary.
    pub to: String,
    /// The epoch after it.
    pub epoch: u64,
    /// Acknowledged writes lost (`ctl failover --json`'s `rpo_writes`).
    pub rpo_writes: Option<u64>,
    /// How old the oldest lost write was at the cut, ms (`rpo_ms`).
    pub rpo_ms: Option<f64>,
    /// Time without a writer, ms (`rto_ms`).
    pub rto_ms: Option<f64>,
    /// Writes the cut-off old primary acknowledged after the cut (split brain).
    pub split_brain_writes: Option<u64>,
    /// When it finished, ms since the Unix epoch.
    pub at_ms: u64,
    /// Who made it: `dashboard`, `demo`, or `outside` (seen, not made, by the dashboard).
    pub by: String,
}

/// One use of a control and what came of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Action number, from 1.
    pub id: u64,
    /// When it finished, ms since the Unix epoch.
    pub at_ms: u64,
    /// What was asked, in words ("partition ap-south-1").
    pub action: String,
    /// Did it succeed?
    pub ok: bool,
    /// Its result or its error, in words.
    pub message: String,
}

/// One region's values on the charts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionPoint {
    /// Client latency p50, ms.
    pub p50_ms: Option<f64>,
    /// Client latency p99, ms.
    pub p99_ms: Option<f64>,
    /// Writes committed per second.
    pub writes: Option<f64>,
    /// Reads served per second.
    pub reads: Option<f64>,
    /// Conflicts detected per second.
    pub conflicts: Option<f64>,
    /// Lost writes per second.
    pub lost: Option<f64>,
}

/// One link's values on the charts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkPoint {
    /// Mean lag of the writes applied over the update, ms.
    pub lag_ms: Option<f64>,
    /// Pending writes, as the receiving region knows them.
    pub pending: Option<u64>,
    /// Backlog: the origin's log head minus the receiving region's applied position.
    pub backlog: Option<u64>,
}

/// One update's values for the charts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Time, seconds since the Unix epoch (what uPlot's time axis takes).
    pub t: f64,
    /// Per region.
    pub regions: BTreeMap<String, RegionPoint>,
    /// Per link, keyed `from>to`.
    pub links: BTreeMap<String, LinkPoint>,
    /// Conflicts detected per second, all regions.
    pub conflicts: Option<f64>,
    /// Lost writes per second, all regions.
    pub lost: Option<f64>,
    /// Aurora Global, at the primary: RPO lag per secondary, ms.
    pub rpo_lag_ms: BTreeMap<String, f64>,
    /// The demo's step at this point, if any.
    pub phase: Option<String>,
}

/// A finished run, for the static replay: every update, and every conflict seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The updates, oldest first, without their `conflicts` (those are in `conflicts`).
    pub snapshots: Vec<Snapshot>,
    /// Every conflict the run saw (at most [`MAX_RECORDED_CONFLICTS`]), oldest first.
    pub conflicts: Vec<ConflictView>,
    /// Reports of conflicts (one region's report of one pair) not kept: the pair was new
    /// past the bound.
    pub conflicts_dropped: u64,
}

/// Most conflicts a recording keeps.
pub const MAX_RECORDED_CONFLICTS: usize = 2000;
