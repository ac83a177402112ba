//! The gRPC services a node serves. Each handler decodes the request, calls the core through
//! [`NodeState`], and maps the result; errors become statuses through `error::status` (in
//! `error.rs`), the one place that mapping is made.
//!
//! - [`kv`]: the key-value service, with client-region latency emulation and Aurora Global
//!   write forwarding;
//! - [`replication`]: the log streams peers pull from, heads and snapshots;
//! - [`admin`]: status, links, partitions, the conflict feed, dumps and role changes.

pub mod admin;
pub mod kv;
pub mod replication;

use std::{sync::Arc, time::Duration};

use meridian_proto::{
    ADMIN_TOKEN_HEADER, CLIENT_REGION_HEADER, CONSISTENCY_HEADER, FORWARD_HEADER,
    PEER_SECRET_HEADER, v1::replication_client::ReplicationClient,
};
use tokio_util::sync::CancellationToken;
use tonic::{
    metadata::{MetadataMap, MetadataValue},
    transport::Channel,
};

use crate::{
    convert::region_id,
    error::{Error, Result},
    peer::{MAX_REPLICATION_MESSAGE, PeerClient, PeerSecret, constant_time_eq},
    state::NodeState,
};
use meridian_core::region::RegionId;

/// What every service holds: the state, a channel to each peer, and the shutdown token.
#[derive(Clone, Debug)]
pub struct Node {
    /// Shared state.
    pub state: Arc<NodeState>,
    /// Lazily connected channels, indexed by region id (this region's own entry unused).
    pub peers: Arc<Vec<Channel>>,
    /// Cancelled when the node shuts down.
    pub shutdown: CancellationToken,
}

impl Node {
    /// The channel to region `r`.
    pub fn peer(&self, r: RegionId) -> Channel {
        self.peers[r.index()].clone()
    }

    /// A replication client to region `r` that sends the cluster secret.
    pub fn replication_client(&self, r: RegionId) -> PeerClient {
        ReplicationClient::with_interceptor(self.peer(r), self.peer_secret())
            .max_decoding_message_size(MAX_REPLICATION_MESSAGE)
    }

    /// What outgoing peer calls carry.
    pub fn peer_secret(&self) -> PeerSecret {
        PeerSecret(
            self.state
                .opts
                .cluster
                .secret
                .as_deref()
                .and_then(|s| MetadataValue::try_from(s).ok()),
        )
    }

    /// Refuse a replication or anti-entropy call unless it carries the cluster secret (when
    /// the cluster has one).
    pub fn check_peer(&self, md: &MetadataMap) -> Result<()> {
        match &self.state.opts.cluster.secret {
            None => Ok(()),
            Some(secret) => {
                let given = md.get(PEER_SECRET_HEADER).map(|v| v.as_bytes());
                if given.is_some_and(|g| constant_time_eq(g, secret.as_bytes())) {
                    Ok(())
                } else {
                    Err(Error::PeerUnauthenticated)
                }
            }
        }
    }

    /// Refuse the call unless it carries the admin token (when one is set).
    pub fn check_admin(&self, md: &MetadataMap) -> Result<()> {
        match &self.state.opts.admin_token {
            None => Ok(()),
            Some(token) => {
                let given = md.get(ADMIN_TOKEN_HEADER).and_then(|v| v.to_str().ok());
                if given == Some(token.as_str()) {
                    Ok(())
                } else {
                    Err(Error::Unauthenticated)
                }
            }
        }
    }
}

/// Aurora Global read / forwarding consistency (Aurora's `aurora_replica_read_consistency`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// No waiting.
    #[default]
    Eventual,
    /// A forwarded write returns once this secondary can read it back.
    Session,
    /// Additionally, reads wait until the secondary has caught up with the primary as of the
    /// read's start.
    Global,
}

/// Per-request settings carried in metadata.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    /// The client's region (None: the client sits in this node's region).
    pub client: Option<RegionId>,
    /// Aurora Global consistency.
    pub consistency: Consistency,
    /// Ask a secondary to forward a write.
    pub forward: bool,
}

impl RequestMeta {
    /// Read the metadata; unknown regions or values are `InvalidArgument`.
    pub fn parse(state: &NodeState, md: &MetadataMap) -> Result<Self> {
        let text = |key: &str| -> Result<Option<String>> {
            md.get(key)
                .map(|v| {
                    v.to_str()
                        .map(str::to_owned)
                        .map_err(|_| Error::invalid(format!("metadata {key} is not text")))
                })
                .transpose()
        };
        let client = text(CLIENT_REGION_HEADER)?
            .map(|name| region_id(&state.regions, &name, "client region"))
            .transpose()?;
        let consistency = match text(CONSISTENCY_HEADER)?.as_deref() {
            None | Some("eventual") => Consistency::Eventual,
            Some("session") => Consistency::Session,
            Some("global") => Consistency::Global,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "metadata {CONSISTENCY_HEADER}: {other:?} is not one of eventual, session, global"
                )));
            }
        };
        let forward = match text(FORWARD_HEADER)?.as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "metadata {FORWARD_HEADER}: {other:?} is not true or false"
                )));
            }
        };
        Ok(Self {
            client,
            consistency,
            forward,
        })
    }

    /// Emulate one network leg between the client's region and this node's (`inbound`: client
    /// to node). A partitioned link makes the region unreachable.
    pub async fn travel(&self, state: &NodeState, inbound: bool) -> Result<()> {
        let Some(client) = self.client.filter(|c| *c != state.region) else {
            return Ok(());
        };
        let (from, to) = if inbound {
            (client, state.region)
        } else {
            (state.region, client)
        };
        let link = state.links.get(from, to);
        if link.partitioned {
            return Err(Error::Unavailable(format!(
                "region {} cannot reach {}: the link is partitioned",
                state.regions.name(from),
                state.regions.name(to)
            )));
        }
        tokio::time::sleep(Duration::from_micros(link.delay_us(state.uniform()))).await;
        Ok(())
    }
}
