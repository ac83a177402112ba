//! What the dashboard watches ([`Target`]: the regions and how to reach them) and what one
//! update read from them ([`RawSample`]: node status, new conflict events, request counters,
//! the process's state), before anything is derived. Plain data: the poller fills it, the
//! pure [`super::state::State`] turns successive samples into snapshots.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use meridian_core::config::ClusterConfig;
use meridian_proto::v1 as pb;

use super::feed::Cursor;
use crate::{
    control::processes::{ClusterState, Launcher},
    error::{Result, ResultExt},
};

/// One region to watch.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionTarget {
    /// Region name.
    pub name: String,
    /// Its node's gRPC address.
    pub addr: SocketAddr,
    /// Its node's Prometheus metrics address, when known (reads per second come from it).
    pub metrics: Option<SocketAddr>,
}

/// What the dashboard watches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    /// The regions, in the cluster file's order.
    pub regions: Vec<RegionTarget>,
    /// The state directory of a cluster started by `cluster up`: its `state.json` is read
    /// at every update (pids, metrics addresses after a restart), and regions can be killed
    /// and restarted.
    pub state_dir: Option<PathBuf>,
}

impl Target {
    /// The regions of a cluster file (no metrics addresses, no processes).
    pub fn from_cluster(cluster: &ClusterConfig) -> Self {
        Self {
            regions: cluster
                .regions
                .iter()
                .map(|r| RegionTarget {
                    name: r.name.clone(),
                    addr: r.listen,
                    metrics: None,
                })
                .collect(),
            state_dir: None,
        }
    }

    /// The cluster a `cluster up` state directory records (its cluster file, its nodes'
    /// metrics addresses).
    pub fn from_state_dir(dir: &Path) -> Result<Self> {
        let state = Launcher::read_state(dir)?.with_context(|| {
            format!(
                "no cluster in {} (start one with `meridian cluster up --dir {}`)",
                dir.display(),
                dir.display()
            )
        })?;
        let cluster = ClusterConfig::load(&state.cluster_file)?;
        let mut target = Self::from_cluster(&cluster);
        target.apply_state(&state);
        target.state_dir = Some(dir.to_owned());
        Ok(target)
    }

    /// Take the metrics addresses a state file records.
    pub fn apply_state(&mut self, state: &ClusterState) {
        for r in &mut self.regions {
            if let Some(n) = state.nodes.iter().find(|n| n.region == r.name) {
                r.metrics = n.metrics_addr;
            }
        }
    }
}

/// A region's process, as the state directory knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Process {
    /// Not started by `cluster up` (or the state could not be read).
    #[default]
    Unknown,
    /// The recorded process is running (verified: same start time and command line).
    Running(u32),
    /// The recorded process is gone.
    Gone(u32),
}

/// What one update read from one region.
#[derive(Clone, Debug, Default)]
pub struct RawRegion {
    /// Region name.
    pub name: String,
    /// Its node's address.
    pub addr: String,
    /// The node's status, or why it could not be had.
    pub status: Option<pb::NodeStatus>,
    /// The error when there is no status.
    pub error: Option<String>,
    /// Conflict events new since the last update.
    pub events: Vec<pb::ConflictEvent>,
    /// Where the region's feed cursor is after `events` (None: the feed was not read).
    pub cursor: Option<Cursor>,
    /// Reads the node served since it started (its metrics page; None: not known).
    pub reads_total: Option<u64>,
    /// How long the dashboard's probe read took, ms (None: no probe, or no answer).
    pub probe_ms: Option<f64>,
    /// Was a probe read sent (after `reads_total` was read: the next update's counter
    /// includes it)?
    pub probe_sent: bool,
    /// Its process.
    pub process: Process,
}

/// What one update read from every region.
#[derive(Clone, Debug, Default)]
pub struct RawSample {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// When, seconds on a monotonic clock (rates divide by differences of it).
    pub mono_s: f64,
    /// Per region, in the target's order.
    pub regions: Vec<RawRegion>,
    /// The cluster's link table, from the first region that answered.
    pub links: Option<pb::LinkTable>,
}
