//! Protocol messages arriving from peers: checked, run through the protocol under its lock,
//! what it committed or learnt applied to the replica (and queued for disk with the item's
//! ballot and fences), the answers sent once that is durable, and the waiting requests woken.

use std::sync::Arc;

use meridian_core::{
    clock::now_us,
    region::RegionId,
    replica::{Committed, Replica},
    store::Write,
    strong::{Ballot, Event, Msg},
};
use meridian_proto::v1 as pb;

use super::{Inner, Key, Protocol, ReadFate, WriteFate, participant, wire, wire::NodeMsg};
use crate::{
    error::Result,
    lock::Unpoisoned,
    state::{Durable, NodeState},
    storage::Op,
};

impl NodeState {
    /// Messages from `from`: run them through the protocol, apply what it committed or
    /// learnt, answer (after what was applied is durable), and wake the waiting requests.
    pub fn strong_receive(
        self: &Arc<Self>,
        from: RegionId,
        msgs: Vec<pb::StrongMsg>,
    ) -> Result<()> {
        let s = self.strong_state()?;
        let now = now_us();
        let mut out = Vec::new();
        let mut queued = false;
        {
            let mut inner = s.inner.locked();
            for m in msgs {
                let msg = match wire::from_pb(&self.regions, m) {
                    Ok(m) => m,
                    Err(e) => {
                        refused(self, from, &e.to_string());
                        continue;
                    }
                };
                if let Err(why) = self.check_strong_value(&inner.protocol, &msg, now) {
                    refused(self, from, &why);
                    continue;
                }
                // A region that has not copied the others' state yet refuses every proposal
                // and counts as busy.
                let msg = match msg {
                    Msg::Propose { key, ballot, .. } if !s.participating() => {
                        out.push((
                            participant(from),
                            Msg::Refused {
                                key,
                                ballot,
                                committed: None,
                            },
                        ));
                        continue;
                    }
                    Msg::Read { key, id } if !s.participating() => {
                        out.push((
                            participant(from),
                            Msg::ReadReply {
                                key,
                                id,
                                committed: None,
                                busy: true,
                            },
                        ));
                        continue;
                    }
                    m => m,
                };
                let key = wire::key_of(&msg).clone();
                tracing::debug!(from = self.regions.name(from), msg = ?kind_of(&msg), key = &*key, "strong message");
                let before = inner.protocol.durable_state(&key);
                let (o, events) = inner.protocol.on_msg(participant(from), msg);
                out.extend(o);
                let settled = self.settle_item(&mut inner, &key, before);
                queued |= settled.is_some();
                let mut settled = settled.flatten();
                for e in events {
                    self.on_event(&mut inner, e, &mut settled);
                }
            }
        }
        // Answers go out once what they promise is on disk.
        let ticket = if queued {
            self.durability_ticket()
        } else {
            None
        };
        self.strong_send(out, ticket);
        Ok(())
    }

    /// After the protocol handled a message about `key`: merge a newly committed write into
    /// the replica (logging it when it is this region's own), and queue the item's protocol
    /// state for disk. `None` when the item's state did not change; `Some(logged)` otherwise,
    /// with the own write logged (and the wait for it to be durable), if one was.
    fn settle_item(
        &self,
        inner: &mut Inner,
        key: &Key,
        before: (Option<Ballot>, Vec<(u16, u64)>),
    ) -> Option<Option<(Committed, Option<Durable>)>> {
        let after = inner.protocol.durable_state(key);
        if after == before {
            return None;
        }
        let committed = inner.protocol.committed(key).cloned();
        let mut core = self.replica();
        let events = core.feed().lost();
        let mut logged = None;
        let mut ops = vec![Op::Strong {
            key: key.clone(),
            committed: committed.clone(),
            fences: after.1.clone(),
        }];
        if after.0 != before.0
            && let Some((_, w)) = &committed
            && !holds(&core, w)
        {
            // An own write is logged here, but one of an incarnation whose state was lost
            // (copied back before taking part) is merged like a peer's: this log is new.
            let rejoining = self.strong.as_ref().is_some_and(|s| !s.participating());
            if w.origin() == self.region && !rejoining {
                let c = core.commit_prepared((**w).clone());
                ops.push(Op::Log(c.write.clone()));
                logged = Some(c);
            } else {
                core.apply_remote(w.clone(), now_us());
            }
        }
        let seq = logged.as_ref().map(|c: &Committed| c.write.seq);
        let durable = self.persist_keys(&core, std::iter::once(&**key), events, ops, seq);
        if durable.is_none()
            && let Some(seq) = seq
        {
            // Memory mode: peers may pull it now.
            self.advance_head(seq);
        }
        Some(logged.map(|c| (c, durable)))
    }

    fn on_event(
        &self,
        inner: &mut Inner,
        e: Event<Key, Arc<Write>>,
        logged: &mut Option<(Committed, Option<Durable>)>,
    ) {
        match e {
            Event::Committed(key, ballot) => {
                if let Some(tx) = inner.writes.remove(&(key, ballot))
                    && let Some((c, durable)) = logged.take()
                {
                    let _ = tx.send(WriteFate::Committed(c, durable));
                }
            }
            Event::Conflict(key, ballot) => {
                if let Some(tx) = inner.writes.remove(&(key, ballot)) {
                    let _ = tx.send(WriteFate::Conflict);
                }
            }
            Event::Resolved(..) => {}
            Event::ReadDone(id, w) => {
                if let Some(tx) = inner.reads.remove(&id) {
                    let _ = tx.send(ReadFate::Done(w));
                }
            }
            Event::ReadBusy(id) => {
                if let Some(tx) = inner.reads.remove(&id) {
                    let _ = tx.send(ReadFate::Busy);
                }
            }
        }
    }

    /// A write a peer sends in a protocol message must be one some region can have made
    /// (the checks replicated writes pass); one claiming this region as origin only if it is
    /// this region's unfinished write of the key, one it holds, or one of an earlier
    /// incarnation.
    fn check_strong_value(
        &self,
        protocol: &Protocol,
        msg: &NodeMsg,
        now: u64,
    ) -> std::result::Result<(), String> {
        let writes: Vec<&Arc<Write>> = match msg {
            Msg::Propose { value, .. } | Msg::Learn { value, .. } => vec![value],
            Msg::Refused { committed, .. }
            | Msg::Fate { committed, .. }
            | Msg::ReadReply { committed, .. } => committed.iter().map(|(_, w)| w).collect(),
            _ => vec![],
        };
        let core = self.replica();
        for w in writes {
            if w.origin() == self.region {
                let pending = protocol
                    .pending_value(w.key())
                    .is_some_and(|p| p.id == w.id && p.version == w.version);
                if !pending && !holds(&core, w) {
                    core.check_repair(w, now, true)?;
                }
            } else {
                core.check_remote(w, now)?;
            }
        }
        Ok(())
    }
}

/// A message's kind and ballot, for logs.
fn kind_of(m: &NodeMsg) -> String {
    match m {
        Msg::Propose { ballot, .. } => format!("propose {ballot:?}"),
        Msg::Accepted { ballot, .. } => format!("accepted {ballot:?}"),
        Msg::Refused { ballot, .. } => format!("refused {ballot:?}"),
        Msg::Learn { ballot, .. } => format!("learn {ballot:?}"),
        Msg::Query { ballot, .. } => format!("query {ballot:?}"),
        Msg::Fate { ballot, .. } => format!("fate {ballot:?}"),
        Msg::Read { id, .. } => format!("read {id}"),
        Msg::ReadReply { id, busy, .. } => format!("read reply {id} busy={busy}"),
    }
}

/// A peer's message that cannot be taken: logged and counted (the protocol treats it as lost).
fn refused(state: &NodeState, from: RegionId, why: &str) {
    state.inbound(from).stats.locked().refused_writes += 1;
    tracing::warn!(
        peer = state.regions.name(from),
        reason = crate::error::truncate(why),
        "refused a strong-consistency message"
    );
}

/// Does the replica's store hold `w` (same id and version) as its key's current write?
pub(super) fn holds(core: &Replica, w: &Write) -> bool {
    core.store()
        .get(w.key())
        .is_some_and(|c| c.id == w.id && c.version == w.version)
}
