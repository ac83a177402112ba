//! Anti-entropy rounds: a node compares its digest with each peer's and merges the writes of
//! the buckets that differ (the digest and the repair rule are pure, in `meridian_core::digest`).
//! This rebuilds a region whose data directory was lost (its own old writes live on only in its
//! peers' state, not in their logs), and repairs any divergence found. Each node runs a round
//! against every peer at start-up (when its storage is fresh) and then periodically.

use std::{sync::Arc, time::Duration};

use meridian_core::{
    clock::now_us,
    digest::{BUCKETS, differing, digest, repairable},
    region::RegionId,
    store::Write,
};
use meridian_proto::v1 as pb;
use tracing::{debug, info};

use crate::{convert::write_from_pb, service::Node};

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
    let mine = digest(state.replica().store(), BUCKETS);
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
            let applied = state.applied_from(w.origin());
            if !repairable(&w, state.region, applied) {
                continue;
            }
            let checked = {
                let core = state.replica();
                // The sender has not collected a tombstone this region did: nothing to merge.
                if core.is_collected(&w, applied, state.fresh_start) {
                    continue;
                }
                core.check_repair(&w, now, state.fresh_start)
            };
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
            if node.state.links.get(peer, node.state.region).partitioned {
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
