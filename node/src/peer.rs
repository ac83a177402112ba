//! Calls to peers: lazily connected channels, the replication client that carries the cluster
//! secret, and the size limit of replication messages.

use std::{net::SocketAddr, time::Duration};

use meridian_proto::{PEER_SECRET_HEADER, v1::replication_client::ReplicationClient};
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

/// Largest replication message accepted, bytes.
pub const MAX_REPLICATION_MESSAGE: usize = 64 * 1024 * 1024;

/// A lazily connected channel to `addr`.
pub fn channel_to(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a socket address is a valid URI")
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy()
}

/// A replication client whose calls carry the cluster secret.
pub type PeerClient = ReplicationClient<InterceptedService<Channel, PeerSecret>>;

/// Adds the cluster secret (if any) to every outgoing peer call.
#[derive(Clone, Debug)]
pub struct PeerSecret(pub Option<MetadataValue<Ascii>>);

impl Interceptor for PeerSecret {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert(PEER_SECRET_HEADER, v.clone());
        }
        Ok(req)
    }
}

/// Compare without an early exit (the time taken says nothing about where a guess differs).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
