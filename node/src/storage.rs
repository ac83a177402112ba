//! Durable storage of a node, on the embedded LSM engine fjall (pure Rust).
//!
//! What survives a restart: the region's own write log from its truncation base on (peers
//! resume pulling it at their high-water marks), the current write and causal history (`seen`)
//! of every key, the applied
//! position (and incarnation) of every origin, and the node's incarnation id. A node whose data
//! directory is new gets a new incarnation; peers then pull its (empty) log from the start and
//! anti-entropy fills in the rest.
//!
//! Each write is on disk once (multi-Region strong consistency's committed write aside, kept
//! in its own record): a key whose current write is still an entry of the own log names that
//! entry's seq instead of holding a copy, and the truncation that drops the entry writes the
//! item in full in the same batch. Writes and causal contexts name regions by index in the
//! cluster's name-sorted region list, which the directory records: a node of a cluster with
//! other regions is refused it (positions and roles still name regions).
//!
//! Writes are group-committed: a dedicated thread ([`Persister`]) takes every pending batch of
//! operations off its queue, writes them as one atomic fjall batch and syncs the journal once,
//! then acknowledges them all — durability without a sync per write. Operations are queued under
//! the core's lock, so the queue order is the commit order.
//!
//! Beside it: `commit` (how each [`Op`] is encoded into the batch), `recover` (reading it all
//! back at start), `group_commit` (the persister thread) and `records` (the record types).

mod commit;
mod group_commit;
mod records;
mod recover;

pub use group_commit::{Persister, durable};

use std::{path::Path, sync::Arc};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use uuid::Uuid;

use crate::error::{Error, Result};
use meridian_core::{
    events::LossEvent,
    region::RegionId,
    region::Regions,
    replica::{Fence, OwnLog, Role, Truncated},
    store::Write,
    strong::Ballot,
    version_vector::VersionVector,
};

/// One thing to make durable.
#[derive(Clone, Debug)]
pub enum Op {
    /// A write of this region's own log.
    Log(Arc<Write>),
    /// A key's current write and causal history.
    Item {
        /// The current write.
        current: Arc<Write>,
        /// Everything seen for the key.
        seen: VersionVector,
        /// `current` is an entry of the own log on disk (its [`Op::Log`] queued with or before
        /// this), so the item names its seq instead of holding a second copy of the write. The
        /// truncation that removes the entry writes the item in full ([`Op::TruncateLog`]).
        in_log: bool,
    },
    /// Replication from an origin has been applied up to `seq`.
    Applied {
        /// Origin region name.
        origin: String,
        /// Applied position.
        seq: u64,
        /// The origin incarnation the position refers to.
        incarnation: String,
    },
    /// Drop every key (a resync replaces the state).
    ClearItems,
    /// A collected tombstone's key is gone; its history is in its bucket's new floor.
    Collect {
        /// The key.
        key: String,
        /// Its digest bucket.
        bucket: u32,
        /// The bucket's floor after the collection.
        floor: VersionVector,
    },
    /// An item's multi-Region strong-consistency state.
    Strong {
        /// The item.
        key: Arc<str>,
        /// Its committed write and ballot.
        committed: Option<(Ballot, Arc<Write>)>,
        /// Its fences: (origin, counter).
        fences: Vec<(u16, u64)>,
    },
    /// Multi-Region strong consistency: this region lost its state and copies it from the
    /// others before it takes part again (`true`), or it takes part (`false`). Kept so that a
    /// crash in between does not restart it as one that kept its state.
    StrongRejoining(bool),
    /// The own log's entries `from ..= truncated.base` were truncated.
    TruncateLog {
        /// First seq removed.
        from: u64,
        /// What is kept of the truncated front.
        truncated: Truncated,
    },
    /// The Aurora Global role (primary, epoch, fences) after a switchover or failover.
    Role(Role),
    /// A loss event recorded in the conflict feed, with the feed's totals after it; the event
    /// `forget_seq` fell out of the bounded feed (0: none).
    Event {
        /// The event.
        event: LossEvent,
        /// Events recorded so far (= this event's seq).
        recorded: u64,
        /// Conflicts among them.
        conflicts: u64,
        /// An event no longer kept, to delete.
        forget_seq: u64,
    },
}

/// What was found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The incarnation id (new when the directory was empty).
    pub incarnation: Uuid,
    /// Was the directory empty (or new)?
    pub fresh: bool,
    /// The own log (its retained part).
    pub log: OwnLog,
    /// Every key's current write and history.
    pub items: Vec<(Arc<Write>, VersionVector)>,
    /// The floors of the buckets tombstones were collected in.
    pub floors: Vec<(u32, VersionVector)>,
    /// Per origin: applied seq and the origin incarnation it refers to.
    pub applied: Vec<(String, u64, String)>,
    /// The last role installed by a switchover, failover or freeze.
    pub role: Option<RecoveredRole>,
    /// Multi-Region strong consistency: each item's committed write, ballot and fences.
    pub strong: Vec<StrongItem>,
    /// A copy of the strong state from the others was owed and not finished (see
    /// [`Op::StrongRejoining`]).
    pub strong_rejoining: bool,
    /// The conflict feed's kept events, oldest first, and its totals.
    pub events: Vec<LossEvent>,
    /// Events ever recorded.
    pub feed_recorded: u64,
    /// Conflicts among them.
    pub feed_conflicts: u64,
}

/// One item's recovered strong-consistency state: key, committed write with its ballot, fences.
pub type StrongItem = (String, Option<(Ballot, Arc<Write>)>, Vec<(u16, u64)>);

/// A persisted Aurora Global role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRole {
    /// The primary.
    pub primary: Option<RegionId>,
    /// Its epoch.
    pub epoch: u64,
    /// Failover fences.
    pub fences: Vec<Fence>,
    /// Writes paused (a switchover was draining this node when it stopped).
    pub frozen: bool,
}

/// Block cache of the database, bytes.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// Memtable size of each keyspace, bytes. A memtable holds about twice its size in memory
/// (skiplist nodes, allocator slack), and the log and items keyspaces both fill one per write:
/// at 8 MiB that is ~37 MB of a node's resident memory (185 B per key of the 200k-key memory
/// figure, a fixed cost); 2 MiB made it ~13 MB but cost durable puts 17% of their throughput
/// and +60% of their p99 (issue #11, measured interleaved), so it stays at 8 MiB.
const MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;
/// Journal size before memtables are flushed, bytes (fjall's minimum).
const MAX_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;

/// The open database.
pub struct Storage {
    db: Database,
    log: Keyspace,
    items: Keyspace,
    meta: Keyspace,
    events: Keyspace,
    strong: Keyspace,
    regions: Regions,
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("storage: {e}"))
}

impl Storage {
    /// Open (or create) the database in `dir` and read everything back.
    pub fn open(dir: &Path, regions: Regions) -> Result<(Self, Recovered)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
        // The replica serves every read from memory; the database is read back only at
        // start. So its block cache can be small, and small memtables bound the memory it
        // holds for writes not yet flushed (fjall's defaults: 32 MiB cache, 64 MiB per
        // keyspace's memtable, a 512 MiB journal).
        let db = Database::builder(dir)
            .cache_size(CACHE_BYTES)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            .open()
            .map_err(|e| io(format!("cannot open {}: {e}", dir.display())))?;
        let ks = |name: &str| {
            db.keyspace(name, || {
                KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES)
            })
            .map_err(io)
        };
        let (log, items, meta, events) = (ks("log")?, ks("items")?, ks("meta")?, ks("events")?);
        let strong = ks("strong")?;
        let storage = Self {
            db,
            log,
            items,
            meta,
            events,
            strong,
            regions,
        };
        let recovered = storage.recover()?;
        Ok((storage, recovered))
    }
}
