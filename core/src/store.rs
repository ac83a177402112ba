//! The replicated state of one region, and the last-writer-wins merge (SPEC §3–4).
//!
//! [`Store::apply`] is the whole merge: it takes one write — local or replicated, in any order,
//! any number of times — and returns an [`Outcome`] saying what happened. The state it keeps per
//! key is (a) the *current* write, the one with the greatest [`Version`] seen so far, and (b) the
//! union of the causal contexts of every write seen for the key (`seen`). Because (a) is a
//! maximum over a total order and (b) a pointwise maximum, applying any set of writes in any
//! order, with duplicates, ends in the same state: the merge is idempotent, commutative and
//! associative, and every region converges to the same value.
//!
//! Classification compares the incoming write's causal context with the current write's:
//! - the incoming write happened after the current one and has a greater version: an ordinary
//!   overwrite ([`Outcome::Overwrote`]);
//! - the two are concurrent: a [`Outcome::Conflict`]; the smaller version *lost that merge*;
//! - one happened after the other but has the *smaller* version (only possible with skewed
//!   wall clocks): a [`Outcome::CausalInversion`]; the causally later write lost;
//! - the incoming write is already accounted for (it is the current write, or its own entry is
//!   already in `seen` and it does not win): [`Outcome::Duplicate`] / [`Outcome::Superseded`],
//!   so retransmissions and writes learnt of indirectly are never counted twice.
//!
//! # Memory
//! A node keeps every key's current write in memory, so a key costs little beyond its bytes
//! (issue #11): one allocation for the [`Write`] (shared by the store and the own log, 128 bytes
//! with the allocator's header), one for its key and value ([`Payload`]), and one pointer in the
//! table, which finds a write by its own key instead of keeping a second copy of the key. `seen`
//! is almost always the current write's own context (it differs only after a concurrent or
//! out-of-order write): it is kept apart, in a second table, only for the keys where it differs.
//!
//! # Collected tombstones
//! [`Store::collect`] drops a key whose current write is a tombstone every region has settled
//! (see [`crate::replica::Replica::collect_tombstones`]). Its history is not forgotten: it is
//! merged into the *floor* of the key's digest bucket, and a new write to a key the store does
//! not hold starts from that floor ([`Store::next_context`]). So a write made after a
//! collection still happened after the delete (and everything the delete's key had seen) for
//! every region that holds the tombstone yet, and for anyone reading its causal context. The
//! floor claims no more than the region has seen: it only holds dots of writes this region
//! applied before a collection, and dots grow along each region's log, so a write of another
//! key the floor covers was applied here too (its key is then present, not absent). 1024
//! vectors, made at the first collection.

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
};

use hashbrown::HashTable;
use uuid::Uuid;

use crate::{
    clock::Timestamp,
    hash::{BUCKETS, bucket_of_bytes, item_hash},
    region::RegionId,
    version_vector::{Causality, VersionVector},
};

mod payload;

pub use payload::Payload;

/// The version of a write: last-writer-wins orders by timestamp, then region (by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// When the origin stamped it.
    pub timestamp: Timestamp,
    /// The origin region.
    pub region: RegionId,
}

/// One write: a value or a tombstone, with its identity and causal context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The key, and the value or `None` for a tombstone (delete): see [`Write::key`],
    /// [`Write::value`].
    pub payload: Payload,
    /// LWW version.
    pub version: Version,
    /// Globally unique write id.
    pub id: Uuid,
    /// Causal context: the key's history the origin had seen, plus this write.
    pub context: VersionVector,
    /// Real wall-clock commit time at the origin, µs (for lag measurement only).
    pub commit_us: u64,
    /// Aurora Global epoch the write was made in (0 in Global Tables mode).
    pub epoch: u64,
    /// Position in the origin's log (1-based).
    pub seq: u64,
}

impl Write {
    /// The key.
    pub fn key(&self) -> &str {
        self.payload.key()
    }

    /// The value, or `None` for a tombstone.
    pub fn value(&self) -> Option<&[u8]> {
        self.payload.value()
    }

    /// LWW order between two writes: version, then write id (ids never tie in practice; this
    /// keeps the order total even for hand-made writes).
    pub fn beats(&self, other: &Write) -> bool {
        (self.version, self.id) > (other.version, other.id)
    }

    /// The origin region.
    pub fn origin(&self) -> RegionId {
        self.version.region
    }

    /// Is this a delete?
    pub fn is_tombstone(&self) -> bool {
        self.value().is_none()
    }

    /// Bytes of key and value.
    pub fn payload_bytes(&self) -> usize {
        self.payload.key_bytes().len() + self.value().map_or(0, <[u8]>::len)
    }

    /// This write without its value: a put keeps an empty value, a tombstone stays one.
    pub fn without_value(&self) -> Write {
        Write {
            payload: Payload::new(self.key(), self.value().map(|_| &[][..])),
            context: self.context.clone(),
            ..*self
        }
    }
}

/// What applying a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// First write of the key seen here.
    Inserted,
    /// A causally later write with a greater version replaced the current one.
    Overwrote,
    /// This exact write is already the current one.
    Duplicate,
    /// Already accounted for, or happened before the current write (which has the greater
    /// version): nothing changes, nothing lost.
    Superseded,
    /// Two concurrent writes met; `loser` (the smaller version) lost this merge.
    Conflict {
        /// The write kept.
        winner: Arc<Write>,
        /// The write that lost.
        loser: Arc<Write>,
    },
    /// One write happened after the other but had the smaller version; it lost.
    CausalInversion {
        /// The causally earlier write, kept because its version is greater.
        winner: Arc<Write>,
        /// The causally later write that lost.
        loser: Arc<Write>,
    },
}

impl Outcome {
    /// The write that lost a merge here, if any.
    pub fn loser(&self) -> Option<&Arc<Write>> {
        match self {
            Outcome::Conflict { loser, .. } | Outcome::CausalInversion { loser, .. } => Some(loser),
            _ => None,
        }
    }
}

/// The causal history of a key whose `seen` is more than its current write's context.
#[derive(Clone, Debug)]
struct Wider {
    key: Box<[u8]>,
    seen: VersionVector,
}

/// The state of one region: the LWW-current write of every key, and its anti-entropy digest
/// (per bucket, the XOR of the current writes' hashes), kept up to date as writes apply.
#[derive(Clone, Debug)]
pub struct Store {
    /// Every key's current write, found by its own key.
    items: HashTable<Arc<Write>>,
    /// `seen` of the keys where it is not the current write's context (see the module docs).
    wider: HashTable<Wider>,
    /// Hashes keys for both tables (randomly keyed: keys are chosen by clients).
    hasher: RandomState,
    digest: Vec<u64>,
    /// Per digest bucket, the union of the histories of the keys collected in it (empty until
    /// the first collection; see the module docs).
    floors: Vec<VersionVector>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            items: HashTable::new(),
            wider: HashTable::new(),
            hasher: RandomState::new(),
            digest: vec![0; BUCKETS as usize],
            floors: Vec::new(),
        }
    }
}

/// Fold `w` into (or out of: XOR) the digest.
fn toggle(digest: &mut [u64], w: &Write) {
    digest[bucket_of_bytes(w.payload.key_bytes(), BUCKETS) as usize] ^= item_hash(w);
}

/// `seen` of the key hashed `hash` whose current write is `current`.
fn seen_of<'a>(wider: &'a HashTable<Wider>, hash: u64, current: &'a Write) -> &'a VersionVector {
    let key = current.payload.key_bytes();
    wider
        .find(hash, |e| *e.key == *key)
        .map_or(&current.context, |e| &e.seen)
}

/// Record `seen` as the history of `current`'s key, hashed `hash` (kept in `wider` only when
/// it is not `current`'s own context).
fn set_seen(
    wider: &mut HashTable<Wider>,
    hasher: &RandomState,
    hash: u64,
    current: &Write,
    seen: VersionVector,
) {
    let key = current.payload.key_bytes();
    let same = seen == current.context;
    match wider.find_entry(hash, |e| *e.key == *key) {
        Ok(e) if same => {
            e.remove();
        }
        Ok(mut e) => e.get_mut().seen = seen,
        Err(_) if same => {}
        Err(_) => {
            let e = Wider {
                key: key.into(),
                seen,
            };
            wider.insert_unique(hash, e, |e| hasher.hash_one(&*e.key));
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The digest at [`BUCKETS`] buckets (see [`crate::digest`]).
    pub fn digest(&self) -> &[u64] {
        &self.digest
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The current write of `key` (value or tombstone), if the key was ever written.
    pub fn get(&self, key: &str) -> Option<&Arc<Write>> {
        self.find(self.hash(key.as_bytes()), key)
    }

    /// The current write of `key`, hashed `hash`.
    fn find(&self, hash: u64, key: &str) -> Option<&Arc<Write>> {
        let key = key.as_bytes();
        self.items.find(hash, |w| w.payload.key_bytes() == key)
    }

    /// The current write and everything seen of `key`.
    pub fn entry(&self, key: &str) -> Option<(&Arc<Write>, &VersionVector)> {
        let hash = self.hash(key.as_bytes());
        let current = self.find(hash, key)?;
        Some((current, seen_of(&self.wider, hash, current)))
    }

    /// Put back a key's persisted state (recovery after a restart).
    pub fn restore(&mut self, current: Arc<Write>, seen: VersionVector) {
        let hash = self.hash(current.payload.key_bytes());
        let hasher = &self.hasher;
        toggle(&mut self.digest, &current);
        let key = current.payload.key_bytes();
        match self
            .items
            .find_entry(hash, |w| w.payload.key_bytes() == key)
        {
            Ok(mut e) => {
                let old = std::mem::replace(e.get_mut(), current.clone());
                toggle(&mut self.digest, &old);
            }
            Err(_) => {
                self.items.insert_unique(hash, current.clone(), |w| {
                    hasher.hash_one(w.payload.key_bytes())
                });
            }
        }
        set_seen(&mut self.wider, hasher, hash, &current, seen);
    }

    /// Number of keys (tombstones included).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No keys at all?
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every key's current write, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Write>> {
        self.items.iter()
    }

    /// The causal context a new write to `key` by `region` gets: everything seen for the key
    /// (for a key not held, the floor of its bucket: see the module docs), with `region`'s own
    /// entry (its *dot*) raised to `max(seen + 1, floor)`. `floor` keeps dots growing along
    /// the region's log and above every dot a region that lost its state issued before (see
    /// [`crate::replica::Replica::set_dot_floor`]). `None` when the dot would overflow (only a
    /// forged context can bring a counter that high).
    pub fn next_context(&self, key: &str, region: RegionId, floor: u64) -> Option<VersionVector> {
        let mut ctx = match self.entry(key) {
            Some((_, seen)) => seen.clone(),
            None => self.floor_of(key.as_bytes()).cloned().unwrap_or_default(),
        };
        let dot = ctx.get(region).checked_add(1)?.max(floor);
        ctx.set(region, dot);
        Some(ctx)
    }

    /// Merge one write into the state (see the module docs).
    pub fn apply(&mut self, write: Arc<Write>) -> Outcome {
        let Store {
            items,
            wider,
            hasher,
            digest,
            ..
        } = self;
        let key = write.payload.key_bytes();
        let hash = hasher.hash_one(key);
        let Some(slot) = items.find_mut(hash, |w| w.payload.key_bytes() == key) else {
            toggle(digest, &write);
            items.insert_unique(hash, write, |w| hasher.hash_one(w.payload.key_bytes()));
            return Outcome::Inserted;
        };
        // The same write again: same id *and* version (a client-chosen id used twice names two
        // writes, and neither may be mistaken for the other).
        if slot.id == write.id && slot.version == write.version {
            return Outcome::Duplicate;
        }
        let origin = write.origin();
        let seen = seen_of(wider, hash, slot);
        let known = seen.get(origin) >= write.context.get(origin);
        let wins = write.beats(slot);
        if known && !wins {
            return Outcome::Superseded;
        }
        let mut seen = seen.clone();
        if !known {
            seen.merge(&write.context);
        }
        let current = if wins {
            std::mem::replace(slot, write.clone())
        } else {
            slot.clone()
        };
        let outcome = match (write.context.compare(&current.context), wins) {
            (Causality::After, true) => Outcome::Overwrote,
            (Causality::After, false) => Outcome::CausalInversion {
                winner: current.clone(),
                loser: write.clone(),
            },
            (Causality::Before | Causality::Equal, true) => Outcome::CausalInversion {
                winner: write.clone(),
                loser: current.clone(),
            },
            (Causality::Before | Causality::Equal, false) => Outcome::Superseded,
            (Causality::Concurrent, true) => Outcome::Conflict {
                winner: write.clone(),
                loser: current.clone(),
            },
            (Causality::Concurrent, false) => Outcome::Conflict {
                winner: current.clone(),
                loser: write.clone(),
            },
        };
        if wins {
            toggle(digest, &current);
            toggle(digest, &write);
        }
        set_seen(
            wider,
            hasher,
            hash,
            if wins { &write } else { &current },
            seen,
        );
        outcome
    }

    /// Drop everything (a secondary resyncing from its primary).
    pub fn clear(&mut self) {
        self.items.clear();
        self.wider.clear();
        self.digest.fill(0);
        self.floors.clear();
    }

    /// The floor of the bucket of the key whose bytes are `key`, once something was collected.
    fn floor_of(&self, key: &[u8]) -> Option<&VersionVector> {
        self.floors.get(bucket_of_bytes(key, BUCKETS) as usize)
    }

    /// Drop `key` if its current write is the tombstone `id` (see the module docs): its history
    /// joins its bucket's floor. Returns the bucket and its new floor (to persist), or `None`
    /// when the key's current write is something else.
    pub fn collect(&mut self, key: &str, id: Uuid) -> Option<(u32, VersionVector)> {
        let hash = self.hash(key.as_bytes());
        let bytes = key.as_bytes();
        let entry = self
            .items
            .find_entry(hash, |w| w.payload.key_bytes() == bytes)
            .ok()?;
        if entry.get().id != id || !entry.get().is_tombstone() {
            return None;
        }
        let (current, _) = entry.remove();
        let seen = match self.wider.find_entry(hash, |e| *e.key == *bytes) {
            Ok(e) => e.remove().0.seen,
            Err(_) => current.context.clone(),
        };
        toggle(&mut self.digest, &current);
        let bucket = bucket_of_bytes(bytes, BUCKETS);
        if self.floors.is_empty() {
            self.floors = vec![VersionVector::new(); BUCKETS as usize];
        }
        let floor = &mut self.floors[bucket as usize];
        floor.merge(&seen);
        Some((bucket, floor.clone()))
    }

    /// Put back a persisted bucket floor (recovery after a restart).
    pub fn restore_floor(&mut self, bucket: u32, floor: VersionVector) {
        if bucket >= BUCKETS {
            return;
        }
        if self.floors.is_empty() {
            self.floors = vec![VersionVector::new(); BUCKETS as usize];
        }
        self.floors[bucket as usize].merge(&floor);
    }

    /// Approximate memory held by the state, bytes (keys, values, per-key metadata).
    pub fn approx_bytes(&self) -> usize {
        let per_write = std::mem::size_of::<Write>() + 2 * std::mem::size_of::<usize>();
        let items: usize = self
            .items
            .iter()
            .map(|w| {
                per_write
                    + std::mem::size_of::<Arc<Write>>()
                    + w.payload.heap_bytes()
                    + w.context.heap_bytes()
            })
            .sum();
        let wider: usize = self
            .wider
            .iter()
            .map(|e| std::mem::size_of::<Wider>() + e.key.len() + e.seen.heap_bytes())
            .sum();
        let floors: usize = self
            .floors
            .iter()
            .map(|f| std::mem::size_of::<VersionVector>() + f.heap_bytes())
            .sum();
        items + wider + floors
    }
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
