//! Anti-entropy: repairing divergence by comparing digests and transferring only what differs.
//!
//! Keys are hashed into buckets; a region's digest is, per bucket, a hash over the (key, write
//! id) of every key in it. Two regions holding the same state have the same digest; for every
//! bucket that differs, the puller asks for the peer's current writes of that bucket and merges
//! them (last-writer-wins, idempotent — so repair never does harm). This rebuilds a region whose
//! data directory was lost (its own old writes live on only in its peers' state, not in their
//! logs), and repairs any divergence found — but it never brings a write that the log stream
//! from its origin has yet to deliver (see [`repairable`]). Each node runs a round against every peer at
//! start-up (when its storage is fresh) and then periodically.

use std::{sync::Arc, time::Duration};

use meridian_proto::v1 as pb;
use tracing::{debug, info};

use crate::{
    clock::now_us,
    convert::write_from_pb,
    region::RegionId,
    service::Node,
    store::{Store, Write},
};

/// Buckets of a digest.
pub const BUCKETS: u32 = 1024;

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The bucket of `key`.
pub fn bucket_of(key: &str, buckets: u32) -> u32 {
    (fnv(key.as_bytes(), 0xcbf2_9ce4_8422_2325) % u64::from(buckets.max(1))) as u32
}

fn item_hash(w: &Write) -> u64 {
    let h = fnv(w.key.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let h = fnv(w.id.as_bytes(), h);
    // The version too: two writes that share a (client-chosen) id still differ.
    let h = fnv(&w.version.timestamp.physical_us.to_le_bytes(), h);
    let h = fnv(&w.version.timestamp.logical.to_le_bytes(), h);
    let h = fnv(&(w.version.region.index() as u64).to_le_bytes(), h);
    // Finalise (splitmix) so XOR-combining stays well mixed.
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The digest of a store.
pub fn digest(store: &Store, buckets: u32) -> Vec<u64> {
    let mut d = vec![0u64; buckets.max(1) as usize];
    for w in store.iter() {
        d[bucket_of(&w.key, buckets) as usize] ^= item_hash(w);
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
        .filter(|w| wanted.contains(&bucket_of(&w.key, buckets)))
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

/// One repair round against `peer`: returns how many writes were merged.
pub async fn repair_from(node: &Node, peer: RegionId) -> Result<usize, tonic::Status> {
    let state = &node.state;
    let mut client = node.replication_client(peer);
    let me = state.region_name().to_owned();
    let theirs = client
        .digest(pb::DigestRequest {
            region: me.clone(),
            buckets: BUCKETS,
        })
        .await?
        .into_inner()
        .hashes;
    let mine = digest(state.core().store(), BUCKETS);
    let wanted = differing(&mine, &theirs);
    if wanted.is_empty() {
        return Ok(0);
    }
    let mut stream = client
        .items(pb::ItemsRequest {
            region: me,
            buckets: BUCKETS,
            wanted,
        })
        .await?
        .into_inner();
    let mut merged = 0;
    while let Some(chunk) = stream.message().await? {
        let now = now_us();
        let mut writes: Vec<Arc<Write>> = Vec::with_capacity(chunk.items.len());
        for r in chunk.items {
            let w = match write_from_pb(&state.regions, r) {
                Ok(w) => w,
                Err(e) => {
                    state.refuse_from(peer, format!("anti-entropy: malformed write: {e}"));
                    continue;
                }
            };
            if !repairable(&w, state.region, state.applied_from(w.origin())) {
                continue;
            }
            let checked = state.core().check_repair(&w, now, state.fresh_start);
            match checked {
                Ok(()) => writes.push(w),
                Err(reason) => {
                    state.refuse_from(peer, format!("anti-entropy: {reason}"));
                }
            }
        }
        merged += writes.len();
        state
            .merge_items(&writes, now_us())
            .await
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
    }
    Ok(merged)
}

/// Repair against every peer at start (when `fresh`: retried briefly until each peer answered)
/// and then every `every`, until shutdown.
pub async fn run(node: Node, fresh: bool, every: Duration) {
    let mut pending: Vec<RegionId> = if fresh {
        node.state.peers().collect()
    } else {
        vec![]
    };
    let mut attempts = 0;
    loop {
        let wait = if pending.is_empty() {
            every
        } else {
            Duration::from_millis(200)
        };
        if attempts > 0 || !fresh {
            tokio::select! {
                _ = node.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        attempts += 1;
        let round: Vec<RegionId> = if pending.is_empty() {
            node.state.peers().collect()
        } else {
            std::mem::take(&mut pending)
        };
        for peer in round {
            if node.state.link(peer, node.state.region).partitioned {
                continue;
            }
            match repair_from(&node, peer).await {
                Ok(0) => {}
                Ok(n) => info!(
                    peer = node.state.regions.name(peer),
                    merged = n,
                    "anti-entropy repaired differing keys"
                ),
                Err(s) => {
                    debug!(peer = node.state.regions.name(peer), %s, "anti-entropy round failed");
                    // A fresh node keeps trying its peers for a while (they may be starting too).
                    if fresh && attempts < 50 {
                        pending.push(peer);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::ClockMode, testkit::Sim};

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
