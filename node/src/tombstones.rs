//! Tombstone collection rounds (Global Tables, eventual, hybrid clocks): the network half of
//! `meridian_core::replica::tombstones`. Every [`ROUND_EVERY`] a node turns its tombstones past
//! the grace period into candidates, asks each reachable peer (`Replication/Tombstones`) about
//! those the peer has not confirmed yet, and drops the settled ones from its store and its data
//! directory. A partitioned or down peer confirms nothing, so nothing is collected until it is
//! back: the tombstones wait, bounded by [`MAX_CANDIDATES`] being asked about at once.

use std::{sync::Arc, time::Duration};

use meridian_core::{
    clock::now_us,
    region::{RegionId, Regions},
    replica::{
        TombstoneReply, TombstoneState,
        tombstones::{MAX_CANDIDATES, TombstoneQuery},
    },
    store::Write,
};
use meridian_proto::v1 as pb;
use tracing::{debug, info};

use crate::{
    convert::region_id,
    error::{Error, Result},
    lock::Unpoisoned,
    service::{Node, replication::byte_chunks},
    storage::Op,
};

/// How often a node runs a round.
pub const ROUND_EVERY: Duration = Duration::from_millis(500);
/// How long a peer may take to answer one request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Rounds until shutdown (only started when the cluster collects tombstones).
pub async fn run(node: Node) {
    loop {
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = tokio::time::sleep(ROUND_EVERY) => {}
        }
        round(&node).await;
    }
}

/// One round: promote, ask every reachable peer, collect what is settled.
async fn round(node: &Node) {
    let state = &node.state;
    state.replica().tombstone_round(now_us());
    for peer in state.peers() {
        let links = &state.links;
        if links.get(state.region, peer).partitioned || links.get(peer, state.region).partitioned {
            continue;
        }
        if let Err(e) = ask(node, peer).await {
            debug!(peer = state.regions.name(peer), error = %e, "tombstone round: no answer");
        }
    }
    let collected = {
        let mut core = state.replica();
        let ops: Vec<Op> = core
            .collect_tombstones(|q| state.applied_from(q))
            .into_iter()
            .map(|(key, bucket, floor)| Op::Collect { key, bucket, floor })
            .collect();
        let collected = ops.len();
        if collected > 0 {
            // Queued under the lock that removed the keys (the queue order is the commit
            // order): a truncation after it finds the keys gone and must not be committed
            // before their removal, or an item naming a truncated entry could be left on
            // disk. After every position and item the settlement relied on; nothing waits
            // for it (a crash before it syncs leaves tombstones that are collected again).
            drop(state.persist(ops));
        }
        collected
    };
    if collected > 0 {
        info!(collected, "collected tombstones every region has settled");
    }
}

/// Ask `peer` about the candidates it has not confirmed, in requests of bounded size.
async fn ask(node: &Node, peer: RegionId) -> Result<()> {
    let state = &node.state;
    let asked = state.replica().tombstone_questions(peer);
    if asked.is_empty() {
        return Ok(());
    }
    let mut client = node.replication_client(peer);
    for chunk in byte_chunks(&asked) {
        let request = pb::TombstonesRequest {
            region: state.region_name().to_owned(),
            tombstones: chunk
                .iter()
                .map(|t| query_to_pb(&state.regions, t))
                .collect(),
        };
        let reply = tokio::time::timeout(ANSWER_TIMEOUT, client.tombstones(request))
            .await
            .map_err(|_| Error::Unavailable("timed out".into()))?
            .map_err(|s| Error::Unavailable(s.message().to_owned()))?
            .into_inner();
        // Its log positions belong to the incarnation our pull stream follows (a peer that
        // restarted without its state confirms again once the stream has caught up with it),
        // or it has sent nothing yet: then a head above 0 waits until its writes arrive.
        let following = state
            .inbound(peer)
            .stats
            .locked()
            .origin_incarnation
            .clone();
        let same_log = reply.incarnation == following
            || (following.is_empty() && state.applied_from(peer) == 0);
        if !same_log || reply.states.len() != chunk.len() {
            return Ok(());
        }
        let reply = TombstoneReply {
            head: reply.head_seq,
            base: reply.base_seq,
            states: reply.states.iter().map(|s| state_from_pb(*s)).collect(),
        };
        state.replica().record_tombstone_reply(peer, chunk, &reply);
    }
    Ok(())
}

/// Answer a peer's `Replication/Tombstones` request.
pub fn answer(node: &Node, request: pb::TombstonesRequest) -> Result<pb::TombstonesReply> {
    let state = &node.state;
    let asker = region_id(&state.regions, &request.region, "asking region")?;
    if asker == state.region {
        return Err(Error::invalid(
            "a region cannot ask itself about tombstones",
        ));
    }
    if request.tombstones.len() > MAX_CANDIDATES {
        return Err(Error::invalid(format!(
            "at most {MAX_CANDIDATES} tombstones per request ({} asked about)",
            request.tombstones.len()
        )));
    }
    let queries = request
        .tombstones
        .into_iter()
        .map(|q| query_from_pb(&state.regions, q))
        .collect::<Result<Vec<_>>>()?;
    let reply = state
        .replica()
        .answer_tombstones(&queries, |o| state.applied_from(o));
    Ok(pb::TombstonesReply {
        incarnation: state.incarnation.to_string(),
        head_seq: reply.head,
        base_seq: reply.base,
        states: reply
            .states
            .into_iter()
            .map(|s| state_to_pb(s) as i32)
            .collect(),
    })
}

fn query_to_pb(regions: &Regions, t: &Arc<Write>) -> pb::TombstoneQuery {
    pb::TombstoneQuery {
        key: t.key().to_owned(),
        write_id: t.id.as_bytes().to_vec(),
        origin: regions.name(t.origin()).to_owned(),
        seq: t.seq,
    }
}

fn query_from_pb(regions: &Regions, q: pb::TombstoneQuery) -> Result<TombstoneQuery> {
    let id = uuid::Uuid::from_slice(&q.write_id)
        .map_err(|_| Error::invalid("a tombstone's write_id must be 16 bytes"))?;
    let origin = region_id(regions, &q.origin, "tombstone origin")?;
    Ok(TombstoneQuery {
        key: q.key,
        id,
        origin,
        seq: q.seq,
    })
}

fn state_to_pb(s: TombstoneState) -> pb::TombstoneState {
    match s {
        TombstoneState::Unconfirmed => pb::TombstoneState::Unconfirmed,
        TombstoneState::Current => pb::TombstoneState::Current,
        TombstoneState::Collected => pb::TombstoneState::Collected,
    }
}

fn state_from_pb(s: i32) -> TombstoneState {
    match pb::TombstoneState::try_from(s) {
        Ok(pb::TombstoneState::Current) => TombstoneState::Current,
        Ok(pb::TombstoneState::Collected) => TombstoneState::Collected,
        _ => TombstoneState::Unconfirmed,
    }
}
