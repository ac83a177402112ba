//! Durable storage of a node, on the embedded LSM engine fjall (pure Rust).
//!
//! What survives a restart: the region's own write log from its truncation base on (peers
//! resume pulling it at their high-water marks), the current write and causal history (`seen`) of every key, the applied
//! position (and incarnation) of every origin, and the node's incarnation id. A node whose data
//! directory is new gets a new incarnation; peers then pull its (empty) log from the start and
//! anti-entropy fills in the rest.
//!
//! Writes are group-committed: a dedicated thread ([`Persister`]) takes every pending batch of
//! operations off its queue, writes them as one atomic fjall batch and syncs the journal once,
//! then acknowledges them all — durability without a sync per write. Operations are queued under
//! the core's lock, so the queue order is the commit order.

mod group_commit;
mod records;

pub use group_commit::{Persister, durable};

use records::{
    StoredEvent, StoredFeedTotals, StoredFence, StoredItem, StoredPosition, StoredRole,
    StoredStrong, StoredTruncation,
};

use std::{path::Path, sync::Arc};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use meridian_proto::v1 as pb;
use prost::Message;
use uuid::Uuid;

use crate::{
    convert::{context_from_pb, context_to_pb, write_from_pb, write_to_pb},
    error::{Error, Result},
};
use meridian_core::{
    clock::Timestamp,
    events::{EventKind, LossEvent},
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

    fn recover(&self) -> Result<Recovered> {
        let mut r = Recovered::default();
        match self.meta.get("incarnation").map_err(io)? {
            Some(v) => {
                r.incarnation = Uuid::from_slice(&v).map_err(|_| io("corrupt incarnation id"))?;
            }
            None => {
                r.incarnation = Uuid::new_v4();
                r.fresh = true;
                self.meta
                    .insert("incarnation", r.incarnation.as_bytes())
                    .map_err(io)?;
                // Until it takes part (a new cluster, or a copy from the others): see
                // `Op::StrongRejoining`.
                self.meta.insert("strong_rejoining", []).map_err(io)?;
                self.db.persist(PersistMode::SyncAll).map_err(io)?;
            }
        }
        let truncated = match self.meta.get("log_truncated").map_err(io)? {
            Some(v) => {
                let t = StoredTruncation::decode(&*v)
                    .map_err(|e| io(format!("corrupt log truncation: {e}")))?;
                Truncated {
                    base: t.base,
                    base_stamp: Timestamp {
                        physical_us: t.base_physical_us,
                        logical: t.base_logical,
                    },
                    first_commit_us: t.first_commit_us,
                }
            }
            None => Truncated::default(),
        };
        let mut entries = Vec::new();
        for guard in self.log.iter() {
            let (_, v) = guard.into_inner().map_err(io)?;
            let rec =
                pb::WriteRecord::decode(&*v).map_err(|e| io(format!("corrupt log entry: {e}")))?;
            let w = write_from_pb(&self.regions, rec)?;
            // Entries a truncation removed but a crash kept (the removal had not synced).
            if w.seq > truncated.base {
                entries.push(w);
            }
        }
        r.log = OwnLog::restore(truncated, entries).map_err(io)?;
        for guard in self.items.iter() {
            let (_, v) = guard.into_inner().map_err(io)?;
            let item = StoredItem::decode(&*v).map_err(|e| io(format!("corrupt item: {e}")))?;
            let current = item.current.ok_or_else(|| io("item without a write"))?;
            let seen = context_from_pb(&self.regions, &item.seen.unwrap_or_default())?;
            r.items.push((write_from_pb(&self.regions, current)?, seen));
        }
        if let Some(v) = self.meta.get("role").map_err(io)? {
            let role = StoredRole::decode(&*v).map_err(|e| io(format!("corrupt role: {e}")))?;
            let fences = role
                .fences
                .iter()
                .filter_map(|f| {
                    Some(Fence {
                        region: self.regions.id(&f.region)?,
                        after_seq: f.after_seq,
                        epoch: f.epoch,
                        cut_at_us: f.cut_at_us,
                    })
                })
                .collect();
            r.role = Some(RecoveredRole {
                primary: self.regions.id(&role.primary),
                epoch: role.epoch,
                fences,
                frozen: role.frozen,
            });
        }
        for guard in self.meta.prefix("applied/") {
            let (k, v) = guard.into_inner().map_err(io)?;
            let origin = String::from_utf8_lossy(&k["applied/".len()..]).into_owned();
            let p =
                StoredPosition::decode(&*v).map_err(|e| io(format!("corrupt position: {e}")))?;
            r.applied.push((origin, p.applied_seq, p.incarnation));
        }
        for guard in self.meta.prefix("floor/") {
            let (k, v) = guard.into_inner().map_err(io)?;
            let bucket = std::str::from_utf8(&k["floor/".len()..])
                .ok()
                .and_then(|b| b.parse::<u32>().ok())
                .ok_or_else(|| io("corrupt bucket floor key"))?;
            let floor = pb::CausalContext::decode(&*v)
                .map_err(|e| io(format!("corrupt bucket floor: {e}")))?;
            r.floors
                .push((bucket, context_from_pb(&self.regions, &floor)?));
        }
        r.strong_rejoining = self.meta.get("strong_rejoining").map_err(io)?.is_some();
        for guard in self.strong.iter() {
            let (k, v) = guard.into_inner().map_err(io)?;
            let s =
                StoredStrong::decode(&*v).map_err(|e| io(format!("corrupt strong item: {e}")))?;
            let committed = match (s.ballot, s.committed) {
                (Some(b), Some(w)) => Some((
                    Ballot {
                        counter: b.counter,
                        origin: u16::try_from(b.origin).map_err(|_| io("corrupt ballot"))?,
                    },
                    write_from_pb(&self.regions, w)?,
                )),
                _ => None,
            };
            let fences = s
                .fences
                .chunks(2)
                .filter_map(|p| match p {
                    [o, c] => Some((u16::try_from(*o).ok()?, *c)),
                    _ => None,
                })
                .collect();
            r.strong
                .push((String::from_utf8_lossy(&k).into_owned(), committed, fences));
        }
        if let Some(v) = self.meta.get("feed").map_err(io)? {
            let t = StoredFeedTotals::decode(&*v)
                .map_err(|e| io(format!("corrupt feed totals: {e}")))?;
            r.feed_recorded = t.recorded;
            r.feed_conflicts = t.conflicts;
        }
        for guard in self.events.iter() {
            let (k, v) = guard.into_inner().map_err(io)?;
            let seq =
                u64::from_be_bytes(k.as_ref().try_into().map_err(|_| io("corrupt event key"))?);
            let e = StoredEvent::decode(&*v).map_err(|e| io(format!("corrupt event: {e}")))?;
            let side = |w: Option<pb::WriteRecord>| {
                write_from_pb(&self.regions, w.ok_or_else(|| io("event without a write"))?)
            };
            r.events.push(LossEvent {
                seq,
                kind: if e.causal_inversion {
                    EventKind::CausalInversion
                } else {
                    EventKind::Conflict
                },
                winner: side(e.winner)?,
                loser: side(e.loser)?,
                detected_at_us: e.detected_at_us,
                // Events are stored without values (the log and items hold the writes).
                values: false,
            });
        }
        Ok(r)
    }

    /// Write `ops` as one atomic batch and sync the journal.
    pub fn commit(&self, ops: &[Op]) -> Result<()> {
        let mut batch = self.db.batch();
        // Keys this batch inserted before a ClearItems must be cleared too.
        let mut inserted: Vec<&[u8]> = Vec::new();
        for op in ops {
            match op {
                Op::Log(w) => batch.insert(
                    &self.log,
                    w.seq.to_be_bytes(),
                    write_to_pb(&self.regions, w).encode_to_vec(),
                ),
                Op::Item { current, seen } => {
                    let item = StoredItem {
                        current: Some(write_to_pb(&self.regions, current)),
                        seen: Some(context_to_pb(&self.regions, seen)),
                    };
                    batch.insert(&self.items, current.key().as_bytes(), item.encode_to_vec());
                    inserted.push(current.key().as_bytes());
                }
                Op::Applied {
                    origin,
                    seq,
                    incarnation,
                } => {
                    let p = StoredPosition {
                        applied_seq: *seq,
                        incarnation: incarnation.clone(),
                    };
                    batch.insert(&self.meta, format!("applied/{origin}"), p.encode_to_vec());
                }
                Op::Role(role) => {
                    let stored = StoredRole {
                        primary: role
                            .primary
                            .map(|p| self.regions.name(p).to_owned())
                            .unwrap_or_default(),
                        epoch: role.epoch,
                        fences: role
                            .fences
                            .iter()
                            .map(|f| StoredFence {
                                region: self.regions.name(f.region).to_owned(),
                                after_seq: f.after_seq,
                                epoch: f.epoch,
                                cut_at_us: f.cut_at_us,
                            })
                            .collect(),
                        frozen: role.frozen,
                    };
                    batch.insert(&self.meta, "role", stored.encode_to_vec());
                }
                Op::Event {
                    event,
                    recorded,
                    conflicts,
                    forget_seq,
                } => {
                    let stored = StoredEvent {
                        causal_inversion: event.kind == EventKind::CausalInversion,
                        winner: Some(write_to_pb(&self.regions, &event.winner.without_value())),
                        loser: Some(write_to_pb(&self.regions, &event.loser.without_value())),
                        detected_at_us: event.detected_at_us,
                    };
                    batch.insert(
                        &self.events,
                        event.seq.to_be_bytes(),
                        stored.encode_to_vec(),
                    );
                    if *forget_seq > 0 {
                        batch.remove(&self.events, forget_seq.to_be_bytes());
                    }
                    let totals = StoredFeedTotals {
                        recorded: *recorded,
                        conflicts: *conflicts,
                    };
                    batch.insert(&self.meta, "feed", totals.encode_to_vec());
                }
                Op::Strong {
                    key,
                    committed,
                    fences,
                } => {
                    let stored = StoredStrong {
                        ballot: committed.as_ref().map(|(b, _)| pb::Ballot {
                            counter: b.counter,
                            origin: u32::from(b.origin),
                        }),
                        committed: committed
                            .as_ref()
                            .map(|(_, w)| write_to_pb(&self.regions, w)),
                        fences: fences
                            .iter()
                            .flat_map(|(o, c)| [u64::from(*o), *c])
                            .collect(),
                    };
                    batch.insert(&self.strong, key.as_bytes(), stored.encode_to_vec());
                }
                Op::StrongRejoining(true) => batch.insert(&self.meta, "strong_rejoining", []),
                Op::StrongRejoining(false) => batch.remove(&self.meta, "strong_rejoining"),
                Op::TruncateLog { from, truncated } => {
                    for seq in *from..=truncated.base {
                        batch.remove(&self.log, seq.to_be_bytes());
                    }
                    let stored = StoredTruncation {
                        base: truncated.base,
                        base_physical_us: truncated.base_stamp.physical_us,
                        base_logical: truncated.base_stamp.logical,
                        first_commit_us: truncated.first_commit_us,
                    };
                    batch.insert(&self.meta, "log_truncated", stored.encode_to_vec());
                }
                Op::Collect { key, bucket, floor } => {
                    batch.remove(&self.items, key.as_bytes());
                    batch.insert(
                        &self.meta,
                        format!("floor/{bucket}"),
                        context_to_pb(&self.regions, floor).encode_to_vec(),
                    );
                }
                Op::ClearItems => {
                    for guard in self.meta.prefix("floor/") {
                        let k = guard.key().map_err(io)?;
                        batch.remove(&self.meta, k);
                    }
                    for guard in self.strong.iter() {
                        let k = guard.key().map_err(io)?;
                        batch.remove(&self.strong, k);
                    }
                    for guard in self.items.iter() {
                        let k = guard.key().map_err(io)?;
                        batch.remove(&self.items, k);
                    }
                    for k in inserted.drain(..) {
                        batch.remove(&self.items, k);
                    }
                }
            }
        }
        batch.commit().map_err(io)?;
        self.db.persist(PersistMode::SyncData).map_err(io)
    }
}
