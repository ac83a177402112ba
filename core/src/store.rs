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

use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;

use crate::{
    clock::Timestamp,
    hash::{BUCKETS, bucket_of, item_hash},
    region::RegionId,
    version_vector::{Causality, VersionVector},
};

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
    /// The key.
    pub key: Arc<str>,
    /// The value, or `None` for a tombstone (delete).
    pub value: Option<Arc<[u8]>>,
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
        self.value.is_none()
    }

    /// Bytes of key and value.
    pub fn payload_bytes(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, |v| v.len())
    }

    /// This write without its value: a put keeps an empty value, a tombstone stays one.
    pub fn without_value(&self) -> Write {
        Write {
            value: self.value.as_ref().map(|_| Arc::from(&[][..])),
            ..self.clone()
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

/// A key's state.
#[derive(Clone, Debug)]
struct Entry {
    current: Arc<Write>,
    seen: VersionVector,
}

/// The state of one region: the LWW-current write of every key, and its anti-entropy digest
/// (per bucket, the XOR of the current writes' hashes), kept up to date as writes apply.
#[derive(Clone, Debug)]
pub struct Store {
    items: HashMap<Arc<str>, Entry>,
    digest: Vec<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            digest: vec![0; BUCKETS as usize],
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

    /// Fold `w` into (or out of: XOR) the digest.
    fn toggle(&mut self, w: &Write) {
        self.digest[bucket_of(&w.key, BUCKETS) as usize] ^= item_hash(w);
    }

    /// The current write of `key` (value or tombstone), if the key was ever written.
    pub fn get(&self, key: &str) -> Option<&Arc<Write>> {
        self.items.get(key).map(|e| &e.current)
    }

    /// The current write and everything seen of `key`.
    pub fn entry(&self, key: &str) -> Option<(&Arc<Write>, &VersionVector)> {
        self.items.get(key).map(|e| (&e.current, &e.seen))
    }

    /// Put back a key's persisted state (recovery after a restart).
    pub fn restore(&mut self, current: Arc<Write>, seen: VersionVector) {
        self.toggle(&current);
        if let Some(old) = self
            .items
            .insert(current.key.clone(), Entry { current, seen })
        {
            self.toggle(&old.current);
        }
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
        self.items.values().map(|e| &e.current)
    }

    /// The causal context a new write to `key` by `region` gets: everything seen for the key,
    /// with `region`'s own entry (its *dot*) raised to `max(seen + 1, floor)`. `floor` is how a
    /// region that lost its state stays above every dot it issued before (see
    /// [`crate::replica::Replica::set_dot_floor`]). `None` when the dot would overflow (only a forged
    /// context can bring a counter that high).
    pub fn next_context(&self, key: &str, region: RegionId, floor: u64) -> Option<VersionVector> {
        let mut ctx = self
            .items
            .get(key)
            .map(|e| e.seen.clone())
            .unwrap_or_default();
        let dot = ctx.get(region).checked_add(1)?.max(floor);
        ctx.set(region, dot);
        Some(ctx)
    }

    /// Merge one write into the state (see the module docs).
    pub fn apply(&mut self, write: Arc<Write>) -> Outcome {
        let Some(entry) = self.items.get_mut(&write.key) else {
            self.toggle(&write);
            let seen = write.context.clone();
            self.items.insert(
                write.key.clone(),
                Entry {
                    current: write,
                    seen,
                },
            );
            return Outcome::Inserted;
        };
        // The same write again: same id *and* version (a client-chosen id used twice names two
        // writes, and neither may be mistaken for the other).
        if entry.current.id == write.id && entry.current.version == write.version {
            return Outcome::Duplicate;
        }
        let origin = write.origin();
        let known = entry.seen.get(origin) >= write.context.get(origin);
        let wins = write.beats(&entry.current);
        if known && !wins {
            return Outcome::Superseded;
        }
        if !known {
            entry.seen.merge(&write.context);
        }
        let current = entry.current.clone();
        let outcome = match (write.context.compare(&current.context), wins) {
            (Causality::After, true) => Outcome::Overwrote,
            (Causality::After, false) => Outcome::CausalInversion {
                winner: current,
                loser: write.clone(),
            },
            (Causality::Before | Causality::Equal, true) => Outcome::CausalInversion {
                winner: write.clone(),
                loser: current,
            },
            (Causality::Before | Causality::Equal, false) => Outcome::Superseded,
            (Causality::Concurrent, true) => Outcome::Conflict {
                winner: write.clone(),
                loser: current,
            },
            (Causality::Concurrent, false) => Outcome::Conflict {
                winner: current,
                loser: write.clone(),
            },
        };
        if wins {
            let old = std::mem::replace(&mut entry.current, write.clone());
            self.toggle(&old);
            self.toggle(&write);
        }
        outcome
    }

    /// Drop everything (a secondary resyncing from its primary).
    pub fn clear(&mut self) {
        self.items.clear();
        self.digest.fill(0);
    }

    /// Approximate memory held by the state, bytes (keys, values, per-key metadata).
    pub fn approx_bytes(&self) -> usize {
        self.items
            .values()
            .map(|e| {
                e.current.payload_bytes()
                    + std::mem::size_of::<Write>()
                    + std::mem::size_of::<Entry>()
                    + e.seen.heap_bytes()
                    + e.current.context.heap_bytes()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests;
