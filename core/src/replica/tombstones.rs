//! Tombstone collection (Global Tables, hybrid clock): a delete's tombstone is dropped once
//! every region has settled it, so a workload that deletes keeps memory flat.
//!
//! A tombstone `T` of key `k` is *settled* at region `X` when nothing can arrive at `X` any more
//! that `T` is needed for:
//! 1. every other region `Q` confirmed `T` (it was, or had been and collected it, the current
//!    write of `k` there), and its log head `h` at its first confirmation — every write `Q` made
//!    before it applied `T` is at or below `h` — has been applied here;
//! 2. every region's log has been truncated past that `h` (its own, too, past the head it had
//!    when `T` became a candidate), so a region that loses its state and pulls the logs again
//!    cannot get back a write `T` superseded without `T` itself.
//!
//! Then `X` drops `k` ([`crate::store::Store::collect`]): its history joins a per-bucket floor
//! that new writes to absent keys start from, so they still come after `T` wherever `T` is held
//! yet. Whatever arrives for `k` afterwards is either a write made after its origin applied `T`
//! (a newer write, merged as usual) or one this region applied before (anti-entropy sending it
//! back while the sender has not collected yet: see [`super::Replica::is_collected`]).
//!
//! This module is the bookkeeping: tombstones queue as they become current, turn into
//! candidates once older than the grace period, and collect when settled. Regions ask each
//! other about candidates ([`super::Replica::answer_tombstones`]); the node carries the
//! questions and answers. Everything is plain data: no clock, no I/O.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use crate::{region::RegionId, store::Write};

/// Most candidates tracked at once (a round asks every peer about all of them).
pub const MAX_CANDIDATES: usize = 65_536;

/// What a region says about a tombstone another asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TombstoneState {
    /// Not (yet) confirmed: another write is current, or the tombstone has not arrived.
    Unconfirmed,
    /// The tombstone is the key's current write here.
    Current,
    /// The key is gone and the tombstone was applied here: collected.
    Collected,
}

/// A region's answer about a list of tombstones: its states, and the region's own log head and
/// base when it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TombstoneReply {
    /// The answering region's log head.
    pub head: u64,
    /// The answering region's log base (every entry at or below it is truncated).
    pub base: u64,
    /// One state per tombstone asked about, in order.
    pub states: Vec<TombstoneState>,
}

/// What one peer has confirmed about a candidate.
#[derive(Clone, Copy, Debug, Default)]
struct Confirmation {
    /// The peer's log head at its first confirmation.
    head: Option<u64>,
    /// A later answer showed the peer's log truncated past `head`.
    truncated: bool,
}

#[derive(Debug)]
struct Candidate {
    tombstone: Arc<Write>,
    /// This region's log head when the tombstone became a candidate (after it applied it).
    own_head: u64,
    /// By region index (this region's own slot unused).
    peers: Vec<Confirmation>,
}

/// Counters of the collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TombstoneCounts {
    /// Tombstones waiting out the grace period.
    pub pending: u64,
    /// Tombstones being confirmed with the other regions.
    pub candidates: u64,
    /// Tombstones collected by this node since it started.
    pub collected: u64,
}

/// The collection's state (see the module docs).
#[derive(Debug, Default)]
pub struct Tombstones {
    /// `None`: collection is off (Aurora Global, multi-Region strong consistency, wall clocks).
    grace_us: Option<u64>,
    /// Tombstones that became current here, oldest first (some since superseded).
    pending: VecDeque<Arc<Write>>,
    candidates: HashMap<Box<str>, Candidate>,
    /// `pending` longer than this is compacted: see [`Tombstones::promote`].
    compact_above: usize,
    collected: u64,
}

impl Tombstones {
    /// Collection on, with tombstones becoming candidates `grace_us` after their commit.
    pub fn enable(&mut self, grace_us: u64) {
        self.grace_us = Some(grace_us);
    }

    /// Is collection on?
    pub fn enabled(&self) -> bool {
        self.grace_us.is_some()
    }

    /// `w` just became the current write of its key.
    pub fn became_current(&mut self, w: &Arc<Write>) {
        if self.enabled() && w.is_tombstone() {
            self.pending.push_back(w.clone());
        }
    }

    /// The counters.
    pub fn counts(&self) -> TombstoneCounts {
        TombstoneCounts {
            pending: self.pending.len() as u64,
            candidates: self.candidates.len() as u64,
            collected: self.collected,
        }
    }

    /// Move the pending tombstones older than the grace period that are still current
    /// (`is_current`) into the candidates, with this region's log head `own_head`.
    pub fn promote(
        &mut self,
        now_us: u64,
        own_head: u64,
        regions: usize,
        is_current: impl Fn(&Write) -> bool,
    ) {
        let Some(grace) = self.grace_us else { return };
        while self.candidates.len() < MAX_CANDIDATES
            && self
                .pending
                .front()
                .is_some_and(|w| w.commit_us.saturating_add(grace) <= now_us)
        {
            let w = self.pending.pop_front().expect("front exists");
            let known = self
                .candidates
                .get(w.key())
                .is_some_and(|c| c.tombstone.id == w.id && c.tombstone.version == w.version);
            // A candidate of the key that is no longer current makes way for this one.
            if is_current(&w) && !known {
                self.candidates.insert(
                    w.key().into(),
                    Candidate {
                        tombstone: w,
                        own_head,
                        peers: vec![Confirmation::default(); regions],
                    },
                );
            }
        }
        // While the candidates are at their cap (collection held back, say by a partition),
        // the queue keeps growing with every delete and would keep superseded tombstones
        // alive: drop those once it doubled, so it holds at most about twice the tombstones
        // the store holds anyway (amortised O(1) per delete).
        if self.pending.len() > self.compact_above.max(MAX_CANDIDATES) {
            self.pending.retain(|w| is_current(w));
            self.compact_above = 2 * self.pending.len();
        }
    }

    /// The candidates `peer` has not fully confirmed yet (confirmed, and its log truncated
    /// past its confirmation), to ask it about.
    pub fn questions_for(&self, peer: RegionId) -> Vec<Arc<Write>> {
        self.candidates
            .values()
            .filter(|c| {
                c.peers
                    .get(peer.index())
                    .is_some_and(|p| p.head.is_none() || !p.truncated)
            })
            .map(|c| c.tombstone.clone())
            .collect()
    }

    /// Record `peer`'s answer about `asked`.
    pub fn record(&mut self, peer: RegionId, asked: &[Arc<Write>], reply: &TombstoneReply) {
        for (t, state) in asked.iter().zip(&reply.states) {
            if *state == TombstoneState::Unconfirmed {
                continue;
            }
            let Some(c) = self.candidates.get_mut(t.key()) else {
                continue;
            };
            if c.tombstone.id != t.id || c.tombstone.version != t.version {
                continue;
            }
            let Some(p) = c.peers.get_mut(peer.index()) else {
                continue;
            };
            let head = *p.head.get_or_insert(reply.head);
            if reply.base >= head {
                p.truncated = true;
            }
        }
    }

    /// `peer` lost its state (its log starts again): what it confirmed no longer holds.
    pub fn reset_peer(&mut self, peer: RegionId) {
        for c in self.candidates.values_mut() {
            if let Some(p) = c.peers.get_mut(peer.index()) {
                *p = Confirmation::default();
            }
        }
    }

    /// Take out the settled candidates (see the module docs) and the ones no longer current;
    /// returns the settled ones. `me`: this region; `own_base`: its log base; `applied(q)`:
    /// how far this region has applied `q`'s log.
    pub fn take_settled(
        &mut self,
        me: RegionId,
        own_base: u64,
        applied: impl Fn(RegionId) -> u64,
        is_current: impl Fn(&Write) -> bool,
    ) -> Vec<Arc<Write>> {
        let mut settled = Vec::new();
        self.candidates.retain(|_, c| {
            if !is_current(&c.tombstone) {
                return false;
            }
            let peers_done = c.peers.iter().enumerate().all(|(i, p)| {
                let q = RegionId::from_index(i);
                q == me || p.head.is_some_and(|h| p.truncated && applied(q) >= h)
            });
            if peers_done && own_base >= c.own_head {
                settled.push(c.tombstone.clone());
                false
            } else {
                true
            }
        });
        self.collected += settled.len() as u64;
        settled
    }

    /// Forget everything (the store was replaced).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.candidates.clear();
        self.compact_above = 0;
    }
}

/// A tombstone one region asks another about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TombstoneQuery {
    /// Its key.
    pub key: String,
    /// Its write id.
    pub id: uuid::Uuid,
    /// Its origin region.
    pub origin: RegionId,
    /// Its position in the origin's log.
    pub seq: u64,
}

impl TombstoneQuery {
    /// The query about tombstone `t`.
    pub fn of(t: &Write) -> Self {
        Self {
            key: t.key().to_owned(),
            id: t.id,
            origin: t.origin(),
            seq: t.seq,
        }
    }
}

impl super::Replica {
    /// Collect tombstones (Global Tables with hybrid clocks only: see the module docs), each
    /// becoming a candidate `grace_us` after its commit. Call before [`super::Replica::restore`].
    pub fn enable_tombstone_collection(&mut self, grace_us: u64) {
        self.tombstones.enable(grace_us);
    }

    /// The collection's counters.
    pub fn tombstone_counts(&self) -> TombstoneCounts {
        self.tombstones.counts()
    }

    /// Start a round at `now_us`: the tombstones past their grace period become candidates.
    pub fn tombstone_round(&mut self, now_us: u64) {
        let head = self.log_head();
        let regions = self.regions.len();
        let store = &self.store;
        self.tombstones
            .promote(now_us, head, regions, |w| is_current(store, w));
    }

    /// The candidates to ask `peer` about ([`super::Replica::answer_tombstones`]): those it has
    /// not fully confirmed yet.
    pub fn tombstone_questions(&self, peer: RegionId) -> Vec<Arc<Write>> {
        self.tombstones.questions_for(peer)
    }

    /// Answer another region's questions about its candidates. `applied(origin)`: how far this
    /// region has applied `origin`'s log.
    pub fn answer_tombstones(
        &self,
        asked: &[TombstoneQuery],
        applied: impl Fn(RegionId) -> u64,
    ) -> TombstoneReply {
        let states = asked
            .iter()
            .map(|q| match self.store.get(&q.key) {
                Some(c) if c.id == q.id && c.is_tombstone() => TombstoneState::Current,
                Some(_) => TombstoneState::Unconfirmed,
                None => {
                    let reached = if q.origin == self.region {
                        self.log_head()
                    } else {
                        applied(q.origin)
                    };
                    if self.tombstones.enabled() && q.seq > 0 && q.seq <= reached {
                        TombstoneState::Collected
                    } else {
                        TombstoneState::Unconfirmed
                    }
                }
            })
            .collect();
        TombstoneReply {
            head: self.log_head(),
            base: self.log_base(),
            states,
        }
    }

    /// Record `peer`'s answer about `asked` (the list [`super::Replica::tombstone_questions`]
    /// gave).
    pub fn record_tombstone_reply(
        &mut self,
        peer: RegionId,
        asked: &[Arc<Write>],
        reply: &TombstoneReply,
    ) {
        self.tombstones.record(peer, asked, reply);
    }

    /// `peer` lost its state: what it confirmed is void.
    pub fn reset_tombstone_peer(&mut self, peer: RegionId) {
        self.tombstones.reset_peer(peer);
    }

    /// Drop the settled candidates from the store (see the module docs). `applied(q)`: how far
    /// this region has applied `q`'s log. Returns, per collected key, its bucket and the
    /// bucket's new floor (to persist).
    pub fn collect_tombstones(
        &mut self,
        applied: impl Fn(RegionId) -> u64,
    ) -> Vec<(String, u32, crate::version_vector::VersionVector)> {
        let base = self.log_base();
        let store = &self.store;
        let settled = self
            .tombstones
            .take_settled(self.region, base, applied, |w| is_current(store, w));
        settled
            .iter()
            .filter_map(|t| {
                let (bucket, floor) = self.store.collect(t.key(), t.id)?;
                Some((t.key().to_owned(), bucket, floor))
            })
            .collect()
    }

    /// Put back a persisted bucket floor (see [`crate::store::Store::collect`]).
    pub fn restore_floor(&mut self, bucket: u32, floor: crate::version_vector::VersionVector) {
        self.store.restore_floor(bucket, floor);
    }

    /// Was `w`, sent by anti-entropy, collected here? Its key is gone and this region applied
    /// it before (its origin's log is applied past it, or it is one of this region's own
    /// tombstones): merging it would bring back what was collected. `applied_from_origin`: how
    /// far this region has applied `w`'s origin's log; `fresh`: this region started without its
    /// state (then its own old writes are taken back, as before).
    pub fn is_collected(&self, w: &Write, applied_from_origin: u64, fresh: bool) -> bool {
        if !self.tombstones.enabled() || self.store.get(w.key()).is_some() {
            return false;
        }
        if w.origin() == self.region {
            !fresh && w.is_tombstone() && w.seq <= self.log_head()
        } else {
            w.seq <= applied_from_origin
        }
    }
}

/// Is `w` still the current write of its key in `store`?
fn is_current(store: &crate::store::Store, w: &Write) -> bool {
    store
        .get(w.key())
        .is_some_and(|c| c.id == w.id && c.version == w.version)
}
