//! The pure half of anti-entropy: digests of a store and the rule for what repair may merge.
//!
//! Keys are hashed into buckets; a region's digest is, per bucket, a hash over the (key, write
//! id, version) of every key in it. Two regions holding the same state have the same digest; for
//! every bucket that differs, the puller asks for the peer's current writes of that bucket and
//! merges them (last-writer-wins, idempotent — so repair never does harm). Repair never brings a
//! write that the log stream from its origin has yet to deliver (see [`repairable`]). The node's
//! `anti_entropy` module runs the rounds over the network.

use std::sync::Arc;

use crate::{
    region::RegionId,
    store::{Store, Write},
};

use crate::hash::item_hash;
pub use crate::hash::{BUCKETS, bucket_of};

/// The digest of a store: at [`BUCKETS`] buckets the one the store keeps up to date as writes
/// apply (no scan); at any other count, computed by a scan.
pub fn digest(store: &Store, buckets: u32) -> Vec<u64> {
    if buckets == BUCKETS {
        return store.digest().to_vec();
    }
    let mut d = vec![0u64; buckets.max(1) as usize];
    for w in store.iter() {
        d[bucket_of(w.key(), buckets) as usize] ^= item_hash(w);
    }
    d
}

/// The buckets where two digests differ.
pub fn differing(a: &[u64], b: &[u64]) -> Vec<u32> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, _)| i as u32)
        .collect()
}

/// The current writes of `store` in the `wanted` buckets.
pub fn items_in(store: &Store, buckets: u32, wanted: &[u32]) -> Vec<Arc<Write>> {
    let wanted: std::collections::HashSet<u32> = wanted.iter().copied().collect();
    store
        .iter()
        .filter(|w| wanted.contains(&bucket_of(w.key(), buckets)))
        .cloned()
        .collect()
}

/// May anti-entropy merge `w` here? Only what the log streams can no longer bring: this region's
/// own writes (lost with a data dir), and writes at or below the origin's applied position
/// (divergence). Anything newer is left to replication, so repair never overtakes a link's lag
/// nor moves a region past its applied position (Aurora Global fences rely on it).
pub fn repairable(w: &Write, me: RegionId, applied_from_origin: u64) -> bool {
    w.origin() == me || w.seq <= applied_from_origin
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::ClockMode, store::Store, testkit::Sim};

    #[test]
    fn equal_states_have_equal_digests_and_differences_are_found_per_bucket() {
        let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
        for i in 0..50 {
            sim.put(0, &format!("k{i}"), "v");
        }
        sim.settle();
        let (a, b) = (
            digest(sim.cores[0].store(), 64),
            digest(sim.cores[1].store(), 64),
        );
        assert_eq!(a, b);
        let w = sim.put(1, "k7", "changed");
        let b2 = digest(sim.cores[1].store(), 64);
        assert_eq!(differing(&a, &b2), vec![bucket_of("k7", 64)]);
        let items = items_in(sim.cores[1].store(), 64, &differing(&a, &b2));
        assert!(items.iter().any(|x| x.id == w.id));
        assert!(items.len() < 50, "only the differing bucket travels");
    }

    #[test]
    fn the_kept_digest_is_the_scanned_digest_after_any_history() {
        let mut sim = Sim::new(ClockMode::Hybrid, &[0, 3, 7]);
        for i in 0..300u64 {
            let r = (i % 3) as usize;
            let key = format!("k{}", (i * 7919) % 37);
            if i % 11 == 0 {
                sim.delete(r, &key);
            } else {
                sim.put(r, &key, &format!("v{i}"));
            }
            if i % 17 == 0 {
                // Partial delivery midway: replaced, superseded and conflicting writes all occur.
                sim.deliver(r, (r + 1) % 3, 5);
            }
        }
        sim.settle();
        for core in &sim.cores {
            let store = core.store();
            let mut scanned = vec![0u64; BUCKETS as usize];
            for w in store.iter() {
                scanned[bucket_of(w.key(), BUCKETS) as usize] ^= item_hash(w);
            }
            assert_eq!(store.digest(), &scanned[..]);
        }
        let mut cleared = sim.cores[0].store().clone();
        cleared.clear();
        assert!(cleared.digest().iter().all(|h| *h == 0));
    }

    #[test]
    fn repair_never_overtakes_the_log_stream() {
        let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
        let own = sim.put(0, "mine", "v");
        let theirs = sim.put(1, "theirs", "v");
        let (me, other) = (own.origin(), theirs.origin());
        assert!(
            repairable(&own, me, 0),
            "own writes: only repair can bring them back"
        );
        assert!(
            !repairable(&theirs, me, 0),
            "not yet delivered by the log: left to replication"
        );
        assert!(
            repairable(&theirs, me, theirs.seq),
            "at or below the applied position: divergence, repaired"
        );
        assert_ne!(me, other);
    }

    #[test]
    fn merging_the_differing_items_repairs_a_wiped_region() {
        let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
        for i in 0..30 {
            sim.put(i % 2, &format!("k{i}"), "v");
        }
        sim.settle();
        let mut wiped = Store::new();
        let peer = sim.cores[0].store();
        let wanted = differing(&digest(&wiped, 16), &digest(peer, 16));
        for w in items_in(peer, 16, &wanted) {
            wiped.apply(w);
        }
        assert_eq!(digest(&wiped, 16), digest(peer, 16));
    }
}
