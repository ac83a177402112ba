//! Reading a node's database back at start: every record [`Storage::commit`] wrote, decoded
//! into what the replica and the node's shell put back ([`Recovered`]).

use meridian_proto::v1 as pb;
use prost::Message;
use uuid::Uuid;

use super::{
    Recovered, RecoveredRole, Storage, io,
    records::{
        StoredEvent, StoredFeedTotals, StoredItem, StoredPosition, StoredRole, StoredStrong,
        StoredTruncation,
    },
};
use crate::{
    convert::{context_from_pb, write_from_pb},
    error::Result,
};
use fjall::PersistMode;
use meridian_core::{
    clock::Timestamp,
    events::{EventKind, LossEvent},
    replica::{Fence, OwnLog, Truncated},
    strong::Ballot,
};

impl Storage {
    /// Records name regions by their index in the cluster's name-sorted region list, so a
    /// directory is only read back by a node of a cluster with the same regions. Whether the
    /// list is still to be recorded (a new directory, or one from before the compact form,
    /// whose records name regions: it is recorded once they all decoded).
    fn check_regions(&self) -> Result<bool> {
        let ours = self.regions.names().join("\n");
        match self.meta.get("regions").map_err(io)? {
            Some(v) if *v == *ours.as_bytes() => Ok(false),
            Some(v) => Err(io(format!(
                "this data directory belongs to a cluster of regions {}; this cluster has {}: \
                 give the node a new data directory, or the cluster its old regions",
                String::from_utf8_lossy(&v).replace('\n', ", "),
                self.regions.names().join(", ")
            ))),
            None => Ok(true),
        }
    }

    /// Read everything back (a new database gets its incarnation id here).
    pub(super) fn recover(&self) -> Result<Recovered> {
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
        let record_regions = self.check_regions()?;
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
            let (k, v) = guard.into_inner().map_err(io)?;
            let item = StoredItem::decode(&*v).map_err(|e| io(format!("corrupt item: {e}")))?;
            let seen = context_from_pb(&self.regions, &item.seen.unwrap_or_default())?;
            let current = match (item.current, item.log_seq) {
                (Some(current), _) => write_from_pb(&self.regions, current)?,
                // The own log entry is the write's one copy: share it.
                (None, seq) if seq > 0 => {
                    let key = String::from_utf8_lossy(&k);
                    let w = r.log.get(seq).filter(|w| w.key() == key).ok_or_else(|| {
                        io(format!(
                            "item {key:?} names own log entry {seq}, which the log does not hold"
                        ))
                    })?;
                    w.clone()
                }
                (None, _) => return Err(io("item without a write")),
            };
            r.items.push((current, seen));
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
        if record_regions {
            self.meta
                .insert("regions", self.regions.names().join("\n").as_bytes())
                .map_err(io)?;
        }
        Ok(r)
    }
}
