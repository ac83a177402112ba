//! What a load run needs, with the defaults `meridian load` documents, and the checks a
//! configuration must pass before anything is sent.

use std::{sync::Arc, time::Duration};

use meridian_core::config::ClusterConfig;

use super::live::LiveLoad;
use crate::{
    control::session::Consistency,
    error::{Result, invalid},
    workload::Workload,
};

/// Seconds of load by default.
pub const DEFAULT_DURATION_S: f64 = 10.0;
/// Target ops/s over all regions by default.
pub const DEFAULT_RATE: f64 = 300.0;
/// Workers per region by default.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Visibility probes every this many ms by default.
pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 250;
/// Deadline of one request by default, ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// How long to wait for quiescence after the load by default, s.
pub const DEFAULT_CONVERGE_TIMEOUT_S: u64 = 60;
/// Most workers per region.
pub const MAX_CONCURRENCY: usize = 10_000;
/// Most retries of a conflicted write.
pub const MAX_RETRY_CONFLICTS: u32 = 100;

/// How requests are spaced in open-loop mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Arrivals {
    /// Exponential gaps (what the conflict model assumes).
    #[default]
    Poisson,
    /// Constant gaps.
    Uniform,
}

/// Aurora Global mode: where clients outside the primary region send writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum AuroraWrites {
    /// To the primary's node, paying the round trip.
    #[default]
    Primary,
    /// To their own region's node, which forwards them.
    Forward,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The cluster (addresses, regions).
    pub cluster: ClusterConfig,
    /// Regions that send load (the default: every region of the cluster).
    pub regions: Vec<String>,
    /// How long to send.
    pub duration: Duration,
    /// Target ops/s over all regions; 0 for closed loop.
    pub rate: f64,
    /// Workers per region (open loop: most requests in flight per region).
    pub concurrency: usize,
    /// Keys, mix, values, seed.
    pub workload: Workload,
    /// Open-loop spacing.
    pub arrivals: Arrivals,
    /// Aurora Global: where writes from secondaries go.
    pub aurora_writes: AuroraWrites,
    /// Aurora Global consistency for forwarded writes and reads.
    pub consistency: Option<Consistency>,
    /// Visibility probes: one probe write per region per interval (None: off).
    pub probe_interval: Option<Duration>,
    /// Deadline of one request.
    pub timeout: Duration,
    /// How long to wait for the cluster to quiesce after the load.
    pub converge_timeout: Duration,
    /// Print a live progress line.
    pub progress: bool,
    /// Admin token for the nodes.
    pub admin_token: Option<String>,
    /// Where workers also record each operation as it completes (a dashboard beside the run
    /// reads it); None: nowhere.
    pub live: Option<Arc<LiveLoad>>,
    /// Multi-Region strong consistency: retry a write refused with `ReplicatedWriteConflict`
    /// up to this many times (0: report it as the application would see it).
    pub retry_conflicts: u32,
    /// Multi-Region strong consistency: strongly consistent reads (`None`: yes in a strong
    /// cluster). Eventual clusters have only local reads.
    pub consistent_reads: Option<bool>,
}

/// The built-in cluster, every region sending, with the defaults of `meridian load`.
impl Default for LoadConfig {
    fn default() -> Self {
        let cluster = ClusterConfig::builtin();
        Self {
            regions: cluster.regions.iter().map(|r| r.name.clone()).collect(),
            cluster,
            duration: Duration::from_secs_f64(DEFAULT_DURATION_S),
            rate: DEFAULT_RATE,
            concurrency: DEFAULT_CONCURRENCY,
            workload: Workload::default(),
            arrivals: Arrivals::default(),
            aurora_writes: AuroraWrites::default(),
            consistency: None,
            probe_interval: Some(Duration::from_millis(DEFAULT_PROBE_INTERVAL_MS)),
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            converge_timeout: Duration::from_secs(DEFAULT_CONVERGE_TIMEOUT_S),
            progress: true,
            admin_token: None,
            live: None,
            retry_conflicts: 0,
            consistent_reads: None,
        }
    }
}

impl LoadConfig {
    /// The defaults on `cluster`, every region of it sending.
    pub fn for_cluster(cluster: ClusterConfig) -> Self {
        Self {
            regions: cluster.regions.iter().map(|r| r.name.clone()).collect(),
            cluster,
            ..Self::default()
        }
    }

    /// Refuse what cannot run: unknown or no sending regions, a worker count out of bounds, a
    /// rate that is not a number.
    pub fn validate(&self) -> Result<()> {
        for r in &self.regions {
            if self.cluster.region(r).is_none() {
                invalid!(
                    "--regions: {r:?} is not a region of the cluster ({})",
                    self.cluster.names()
                );
            }
        }
        if self.regions.is_empty() {
            invalid!("no regions send load");
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            invalid!("--concurrency must be between 1 and 10000");
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            invalid!("--rate must be a non-negative number (0: closed loop)");
        }
        if self.retry_conflicts > MAX_RETRY_CONFLICTS {
            invalid!("--retry-conflicts must be at most {MAX_RETRY_CONFLICTS}");
        }
        Ok(())
    }
}
