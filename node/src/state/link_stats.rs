//! Per-link replication statistics: what this node applied from each origin (lag histograms,
//! pending writes, refusals) and what each peer acknowledged having applied from this node.
//! Each link has its own lock, so the links never wait on each other nor on the replica.
//!
//! Lag is recorded twice, at the same places: in hdr histograms (µs, exact quantiles since the
//! node started, which `Admin/Status` reports) and in Prometheus histograms (seconds, fixed
//! [`LAG_BUCKETS`], cumulative counts that `rate()` and `histogram_quantile()` can window and
//! aggregate across nodes; `/metrics` serves them).

use std::sync::{Mutex, atomic::AtomicU64};

use hdrhistogram::Histogram;
use prometheus_client::metrics::histogram::Histogram as SecondsHistogram;
use tokio::sync::watch;

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
    /// The same lag in seconds, for Prometheus.
    pub lag_seconds: SecondsHistogram,
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
    /// The same samples in seconds, for Prometheus.
    pub rpo_lag_seconds: SecondsHistogram,
    /// Replicated writes refused on receipt ([`Replica::check_remote`]).
    pub refused_writes: u64,
    /// Why the last refused write was refused; cleared when a batch is accepted.
    pub stuck_reason: String,
}

impl LinkStats {
    pub(crate) fn new() -> Self {
        Self {
            origin_head: 0,
            writes_applied: 0,
            bytes_applied: 0,
            lag_us: new_histogram(),
            lag_seconds: seconds_histogram(),
            last_lag_us: 0,
            oldest_pending_commit_us: 0,
            connected: false,
            origin_incarnation: String::new(),
            rpo_lag_us: new_histogram(),
            rpo_lag_seconds: seconds_histogram(),
            refused_writes: 0,
            stuck_reason: String::new(),
        }
    }

    /// Record the lag of one write applied from the origin, µs.
    pub(crate) fn record_lag(&mut self, lag_us: u64) {
        record(&mut self.lag_us, lag_us);
        observe(&self.lag_seconds, lag_us);
        self.last_lag_us = lag_us;
    }

    /// Record one RPO lag sample of this link, µs.
    pub(crate) fn record_rpo_lag(&mut self, age_us: u64) {
        record(&mut self.rpo_lag_us, age_us);
        observe(&self.rpo_lag_seconds, age_us);
    }
}

/// A histogram of µs values up to an hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Upper bounds of the Prometheus lag histograms' buckets, seconds: 1 ms to 10 s in 1–2.5–5
/// steps (a link's emulated latency is usually tens to hundreds of ms; slower lands in `+Inf`).
pub const LAG_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram of seconds over [`LAG_BUCKETS`].
pub fn seconds_histogram() -> SecondsHistogram {
    SecondsHistogram::new(LAG_BUCKETS)
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
    /// The same samples in seconds, for Prometheus.
    pub rpo_lag_seconds: SecondsHistogram,
    /// The peer's incarnation its acknowledgements belong to.
    pub incarnation: Mutex<String>,
}

impl OutboundPeer {
    pub(crate) fn new() -> Self {
        Self {
            acked: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            rpo_lag_us: Mutex::new(new_histogram()),
            rpo_lag_seconds: seconds_histogram(),
            incarnation: Mutex::new(String::new()),
        }
    }
}

/// Record `value` in `h`, clamped to its range.
pub(crate) fn record(h: &mut Histogram<u64>, value: u64) {
    let _ = h.record(value.min(h.high()));
}

/// Observe `us` microseconds in a Prometheus histogram of seconds.
pub(crate) fn observe(h: &SecondsHistogram, us: u64) {
    h.observe(us as f64 / 1e6);
}
