//! Per-link replication statistics: what this node applied from each origin (lag histograms,
//! pending writes, refusals) and what each peer acknowledged having applied from this node.
//! Each link has its own lock, so the links never wait on each other nor on the replica.

use std::sync::{Mutex, atomic::AtomicU64};

use hdrhistogram::Histogram;
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
    pub(crate) fn new() -> Self {
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
    pub(crate) fn new() -> Self {
        Self {
            acked: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            rpo_lag_us: Mutex::new(new_histogram()),
            incarnation: Mutex::new(String::new()),
        }
    }
}

/// Record `value` in `h`, clamped to its range.
pub(crate) fn record(h: &mut Histogram<u64>, value: u64) {
    let _ = h.record(value.min(h.high()));
}
