//! A typed client for one region's node: the kv and admin services over one channel, with the
//! client's own region (and Aurora Global consistency / forwarding) sent as request metadata.

use std::{net::SocketAddr, time::Duration};

use meridian_proto::{
    ADMIN_TOKEN_HEADER, CLIENT_REGION_HEADER, CONSISTENCY_HEADER, FORWARD_HEADER,
    v1::{admin_client::AdminClient, kv_client::KvClient, replication_client::ReplicationClient},
};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::{Channel, Endpoint},
};

/// Largest reply accepted (dumps stream in chunks; a chunk of big values can be large).
pub const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// Session settings sent with every request.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The region the client sits in (it pays the round trip to the node's region).
    pub client_region: Option<String>,
    /// Aurora Global consistency: eventual, session or global.
    pub consistency: Option<String>,
    /// Ask a secondary to forward writes to the primary.
    pub forward: bool,
    /// Admin token for calls that change links, partitions or roles.
    pub admin_token: Option<String>,
}

/// A connection to one region's node.
#[derive(Clone, Debug)]
pub struct RegionClient {
    /// The node's address.
    pub addr: SocketAddr,
    channel: Channel,
    meta: Vec<(&'static str, MetadataValue<Ascii>)>,
}

impl RegionClient {
    /// A client for the node at `addr` (connects lazily, on the first call).
    pub fn new(addr: SocketAddr, session: &Session) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        let mut meta = Vec::new();
        let mut add = |key: &'static str, value: &str| -> anyhow::Result<()> {
            meta.push((
                key,
                MetadataValue::try_from(value)
                    .map_err(|_| anyhow::anyhow!("{key}: {value:?} is not valid metadata text"))?,
            ));
            Ok(())
        };
        if let Some(r) = &session.client_region {
            add(CLIENT_REGION_HEADER, r)?;
        }
        if let Some(c) = &session.consistency {
            add(CONSISTENCY_HEADER, c)?;
        }
        if session.forward {
            add(FORWARD_HEADER, "true")?;
        }
        if let Some(t) = &session.admin_token {
            add(ADMIN_TOKEN_HEADER, t)?;
        }
        Ok(Self {
            addr,
            channel,
            meta,
        })
    }

    /// A request with the session's metadata.
    pub fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        for (k, v) in &self.meta {
            req.metadata_mut().insert(*k, v.clone());
        }
        req
    }

    /// The key-value service.
    pub fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }

    /// The admin service.
    pub fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }

    /// The replication service.
    pub fn replication(&self) -> ReplicationClient<Channel> {
        ReplicationClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }
}
