//! Writing a group of [`Op`]s as one atomic batch of the database: how each operation is
//! encoded into records.

use meridian_proto::v1 as pb;
use prost::Message;

use super::{
    Op, Storage, io,
    records::{
        StoredEvent, StoredFeedTotals, StoredFence, StoredItem, StoredPosition, StoredRole,
        StoredStrong, StoredTruncation,
    },
};
use crate::{
    convert::{Naming, context_encoded, write_encoded},
    error::Result,
};
use fjall::PersistMode;
use meridian_core::events::EventKind;

impl Storage {
    /// A write as this node's data directory keeps it: regions by index (see [`Naming`]; the
    /// region list is checked at start).
    fn record(&self, w: &meridian_core::store::Write) -> pb::WriteRecord {
        write_encoded(&self.regions, w, Naming::Indexes)
    }

    /// A causal context as the data directory keeps it.
    fn context(&self, c: &meridian_core::version_vector::VersionVector) -> pb::CausalContext {
        context_encoded(&self.regions, c, Naming::Indexes)
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
                    self.record(w).encode_to_vec(),
                ),
                Op::Item {
                    current,
                    seen,
                    in_log,
                } => {
                    let item = StoredItem {
                        current: (!in_log).then(|| self.record(current)),
                        seen: Some(self.context(seen)),
                        log_seq: if *in_log { current.seq } else { 0 },
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
                        winner: Some(self.record(&event.winner.without_value())),
                        loser: Some(self.record(&event.loser.without_value())),
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
                        committed: committed.as_ref().map(|(_, w)| self.record(w)),
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
                        self.context(floor).encode_to_vec(),
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
