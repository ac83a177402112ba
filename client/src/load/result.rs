//! What a load run measured, and the µs histograms it is measured in.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use meridian_core::replica::Mode;
use meridian_proto::v1 as pb;

use super::{config::LoadConfig, strong::StrongResult};
use crate::{check::checker::CheckReport, check::history::WriteRec, workload::OpKind};

/// What a run measured.
#[derive(Debug)]
pub struct LoadResult {
    /// The configuration.
    pub config: LoadConfig,
    /// Mode of the cluster at the start.
    pub mode: Mode,
    /// Aurora Global primary at the start.
    pub primary: Option<String>,
    /// Time spent sending, s.
    pub elapsed_s: f64,
    /// Completed requests (including errors).
    pub ops: u64,
    /// Latency per (client region, operation), µs.
    pub latency: BTreeMap<(String, OpKind), Histogram<u64>>,
    /// Requests completed per client region.
    pub ops_by_region: BTreeMap<String, u64>,
    /// Errors by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Conditional writes / increments refused by their condition (expected outcomes).
    pub condition_failed: u64,
    /// Every write sent.
    pub writes: Vec<WriteRec>,
    /// The checker's verdict.
    pub checker: CheckReport,
    /// Node status of every region at the end.
    pub nodes: Vec<pb::NodeStatus>,
    /// Conflicts the nodes counted during the run (sum over regions).
    pub node_conflicts: u64,
    /// Lost writes the nodes counted during the run (sum over regions).
    pub node_lost: u64,
    /// Visibility lag per "from>to", µs.
    pub visibility: BTreeMap<String, Histogram<u64>>,
    /// Reads done / reads that returned a version older than one acknowledged before they started.
    pub reads: u64,
    /// Stale reads.
    pub stale_reads: u64,
    /// How stale, µs (age of the newer acknowledged write when the stale read started).
    pub staleness: Histogram<u64>,
    /// Time from the end of the load until every region had applied everything, ms.
    pub converge_ms: Option<u64>,
    /// Predicted conflict and lost-write rates.
    pub predicted_conflict_rate: f64,
    /// See above.
    pub predicted_lost_rate: f64,
    /// Increments acknowledged minus what the counters hold at the end (lost updates).
    pub lost_increments: i64,
    /// Configured one-way latency per "from>to", ms (the model's input).
    pub link_latency_ms: BTreeMap<String, f64>,
    /// Multi-Region strong consistency: what the run saw of it (None in an eventual cluster).
    pub strong: Option<StrongResult>,
}

/// A µs histogram (1 µs .. 1 h, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// Record `us` in `h`, clamped to its bounds.
pub(super) fn record(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(1, 3_600_000_000));
}
