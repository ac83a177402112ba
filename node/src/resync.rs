//! Taking state from peers: the run-time link table at start (so a restarted node keeps the
//! network's partitions), and an Aurora Global resync from the primary's snapshot.

use std::{collections::HashMap, time::Duration};

use meridian_core::{region::RegionId, replica::Role};
use meridian_proto::v1::{self as pb, admin_client::AdminClient};
use tracing::info;

use crate::{
    convert::write_from_pb,
    error::{Error, Result},
    service::Node,
};

/// How long a starting node waits for a peer's link table.
const LEARN_LINKS_TIMEOUT: Duration = Duration::from_millis(500);

/// Take the run-time link table (partitions, latency, loss) back from the first peer that
/// answers, before replicating: killing a partitioned region must not heal it. With no peer
/// up (a cluster starting), the cluster file's table stands.
pub async fn learn_links(node: &Node) {
    let state = &node.state;
    for peer in state.peers().collect::<Vec<_>>() {
        let mut client = AdminClient::new(node.peer(peer));
        let Ok(Ok(reply)) =
            tokio::time::timeout(LEARN_LINKS_TIMEOUT, client.links(pb::LinksRequest {})).await
        else {
            continue;
        };
        match crate::convert::link_table_from_pb(
            &state.regions,
            state.links.table(),
            &reply.into_inner(),
        ) {
            Ok(table) => {
                if table != state.links.table() {
                    info!(
                        peer = state.regions.name(peer),
                        "took the run-time link settings from a peer"
                    );
                }
                state.links.adopt(table, state.regions.name(peer));
                state.note_links();
                return;
            }
            Err(e) => {
                tracing::warn!(peer = state.regions.name(peer), error = %e, "a peer's link table is not usable")
            }
        }
    }
}

/// Aurora Global: replace this node's state with a snapshot of `primary`'s and take `role`.
pub async fn resync_from(node: &Node, primary: RegionId, role: Role) -> Result<()> {
    let state = &node.state;
    if primary == state.region {
        state.set_role(role).await?;
        return Ok(());
    }
    let mut client = node.replication_client(primary);
    let unavailable = |s: tonic::Status| {
        Error::Unavailable(format!("snapshot from the primary: {}", s.message()))
    };
    let mut stream = client
        .snapshot(pb::SnapshotRequest {
            region: state.region_name().to_owned(),
        })
        .await
        .map_err(unavailable)?
        .into_inner();
    let mut items = Vec::new();
    let mut high_water: HashMap<String, u64> = HashMap::new();
    while let Some(chunk) = stream.message().await.map_err(unavailable)? {
        for rec in chunk.items {
            items.push(write_from_pb(&state.regions, rec)?);
        }
        if chunk.last {
            high_water = chunk.high_water;
        }
    }
    state
        .resync(role, items, |origin| {
            high_water
                .get(state.regions.name(origin))
                .copied()
                .unwrap_or(0)
        })
        .await
}
