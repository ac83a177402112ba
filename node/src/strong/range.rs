//! Strongly consistent range reads (a DynamoDB Query or Scan with `ConsistentRead=true` in a
//! strong cluster): before the range is read from this region's copy, the committed writes of
//! every item under its key prefix are learnt from one other participant
//! (`Replication/StrongState` with the prefix), the first of the reachable ones to answer.
//!
//! Why that is enough: a write acknowledged before the read began is committed at two of the
//! three participants, so at this region or at the one that answers (two pairs among three
//! always meet), and learning only ever raises an item's committed write — the rule of a
//! strong point read, for a whole range. The request pays the emulated round trip to the peer
//! that answers (as the protocol's messages pay it at their sender). Unlike a point read, a
//! range read does not wait out items with an unfinished write: a write committed at one
//! participant and not yet acknowledged may be seen by one range read and not yet by a later
//! one in another region.

use futures::{FutureExt, future::select_ok};
use meridian_core::region::RegionId;
use meridian_proto::v1 as pb;

use super::quorum_timeout;
use crate::{
    error::{Error, Result},
    service::Node,
};

/// Learn from one reachable participant every committed write under `prefix`, so that this
/// region's copy of the range holds every write acknowledged before the call.
pub async fn strong_range_read(node: &Node, prefix: &str) -> Result<()> {
    let state = &node.state;
    let s = state.strong_state()?;
    state.check_strong_service(s)?;
    let peers: Vec<RegionId> = state
        .peers()
        .filter(|p| {
            !state.links.get(state.region, *p).partitioned
                && !state.links.get(*p, state.region).partitioned
        })
        .collect();
    let asks = peers
        .iter()
        .map(|p| learn_from(node, *p, prefix).boxed())
        .collect::<Vec<_>>();
    let timeout = quorum_timeout(state);
    let refused = |why: String| {
        s.quorum_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Error::Unavailable(format!(
            "no quorum: no other region answered a strongly consistent read of the range {prefix:?}: {why}"
        ))
    };
    if asks.is_empty() {
        return Err(refused("every other region is partitioned away".into()));
    }
    match tokio::time::timeout(timeout, select_ok(asks)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(refused(e.to_string())),
        Err(_) => Err(refused(format!("none within {timeout:?}"))),
    }
}

/// Ask `peer` for the committed writes under `prefix` (after the link's round trip) and learn
/// them.
async fn learn_from(node: &Node, peer: RegionId, prefix: &str) -> Result<()> {
    let state = &node.state;
    let out = state.links.get(state.region, peer);
    let back = state.links.get(peer, state.region);
    let rtt = out.delay_us(state.uniform()) + back.delay_us(state.uniform());
    meridian_timer::sleep_until_us(meridian_core::clock::now_us() + rtt).await;
    let unavailable = |e: tonic::Status| {
        Error::Unavailable(format!("{}: {}", state.regions.name(peer), e.message()))
    };
    let mut stream = node
        .replication_client(peer)
        .strong_state(pb::StrongStateRequest {
            region: state.region_name().to_owned(),
            prefix: prefix.to_owned(),
        })
        .await
        .map_err(unavailable)?
        .into_inner();
    while let Some(chunk) = stream.message().await.map_err(unavailable)? {
        state.strong_receive(peer, chunk.items)?;
        if chunk.last {
            return Ok(());
        }
    }
    Err(Error::Unavailable(format!(
        "{}: the answer ended early",
        state.regions.name(peer)
    )))
}
