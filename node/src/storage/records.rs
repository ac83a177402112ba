//! The records the database holds besides writes (which are `pb::WriteRecord`s): prost messages
//! of a key's state, loss events, positions, fences, the truncation base, strong-consistency
//! items and the Aurora Global role.

use meridian_proto::v1 as pb;
use prost::Message;

/// A key's persisted state.
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredItem {
    #[prost(message, optional, tag = "1")]
    pub(super) current: Option<pb::WriteRecord>,
    #[prost(message, optional, tag = "2")]
    pub(super) seen: Option<pb::CausalContext>,
    /// Instead of `current`: the seq of the own log entry that is the current write (one
    /// copy of each write on disk). 0: none (seqs start at 1).
    #[prost(uint64, tag = "3")]
    pub(super) log_seq: u64,
}

/// A persisted loss event of the conflict feed.
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredEvent {
    #[prost(bool, tag = "1")]
    pub(super) causal_inversion: bool,
    #[prost(message, optional, tag = "2")]
    pub(super) winner: Option<pb::WriteRecord>,
    #[prost(message, optional, tag = "3")]
    pub(super) loser: Option<pb::WriteRecord>,
    #[prost(uint64, tag = "4")]
    pub(super) detected_at_us: u64,
}

/// The feed's totals (they count events no longer kept too).
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredFeedTotals {
    #[prost(uint64, tag = "1")]
    pub(super) recorded: u64,
    #[prost(uint64, tag = "2")]
    pub(super) conflicts: u64,
}

/// An origin's persisted applied position.
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredPosition {
    #[prost(uint64, tag = "1")]
    pub(super) applied_seq: u64,
    #[prost(string, tag = "2")]
    pub(super) incarnation: String,
}

/// A persisted fence.
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredFence {
    #[prost(string, tag = "1")]
    pub(super) region: String,
    #[prost(uint64, tag = "2")]
    pub(super) after_seq: u64,
    #[prost(uint64, tag = "3")]
    pub(super) epoch: u64,
    #[prost(uint64, tag = "4")]
    pub(super) cut_at_us: u64,
}

/// What is kept of the own log's truncated front (see `meridian_core::replica::Truncated`).
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredTruncation {
    #[prost(uint64, tag = "1")]
    pub(super) base: u64,
    #[prost(uint64, tag = "2")]
    pub(super) base_physical_us: u64,
    #[prost(uint32, tag = "3")]
    pub(super) base_logical: u32,
    #[prost(uint64, tag = "4")]
    pub(super) first_commit_us: u64,
}

/// One item's multi-Region strong-consistency state: its committed write with the ballot, and
/// its fences.
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredStrong {
    #[prost(message, optional, tag = "1")]
    pub(super) ballot: Option<pb::Ballot>,
    #[prost(message, optional, tag = "2")]
    pub(super) committed: Option<pb::WriteRecord>,
    /// (origin, counter) pairs, flattened.
    #[prost(uint64, repeated, tag = "3")]
    pub(super) fences: Vec<u64>,
}

/// The persisted Aurora Global role (the mode itself comes from the cluster file).
#[derive(Clone, PartialEq, Message)]
pub(super) struct StoredRole {
    #[prost(string, tag = "1")]
    pub(super) primary: String,
    #[prost(uint64, tag = "2")]
    pub(super) epoch: u64,
    #[prost(message, repeated, tag = "3")]
    pub(super) fences: Vec<StoredFence>,
    /// Writes paused (a switchover was draining this primary).
    #[prost(bool, tag = "4")]
    pub(super) frozen: bool,
}
