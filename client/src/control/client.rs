//! A typed client for one region's node: every call the tools make (items, node status, links
//! and partitions, the Aurora Global role calls, the conflict feed, logs and dumps), each a
//! method that builds the request, sends it with the session's metadata and returns the
//! reply. Callers never see the generated stubs.

use std::{net::SocketAddr, time::Duration};

use meridian_proto::v1::{self as pb, admin_client::AdminClient, kv_client::KvClient};
use tonic::{
    Request,
    transport::{Channel, Endpoint},
};

use super::session::{Metadata, Session};
use crate::error::Result;

/// Largest reply accepted (dumps stream in chunks; a chunk of big values can be large).
pub const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// What a conditional write requires of the key's current version in the region.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The key has no value (absent or a tombstone).
    IfAbsent,
    /// The current version is exactly this one.
    IfVersion(pb::Version),
}

impl From<Condition> for pb::Condition {
    fn from(c: Condition) -> Self {
        let kind = match c {
            Condition::IfAbsent => pb::condition::Kind::IfAbsent(true),
            Condition::IfVersion(v) => pb::condition::Kind::IfVersion(v),
        };
        pb::Condition { kind: Some(kind) }
    }
}

/// How far a link, partition or heal change goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The node passes it on to the other regions.
    Cluster,
    /// Only this node's view (used when a region cannot be reached through the others).
    Local,
}

/// A link's emulated behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSpec {
    /// One-way latency, ms.
    pub latency_ms: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
    /// Fraction of batches lost.
    pub loss: f64,
}

/// An Aurora Global role to take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Role {
    /// The primary region.
    pub primary: String,
    /// The role's epoch.
    pub epoch: u64,
    /// Fences of the failovers so far.
    pub fences: Vec<pb::Fence>,
    /// Drop the local state for a copy of the primary's.
    pub resync: bool,
}

/// A connection to one region's node.
#[derive(Clone, Debug)]
pub struct RegionClient {
    /// The node's address.
    pub addr: SocketAddr,
    channel: Channel,
    meta: Metadata,
    timeout: Option<Duration>,
}

impl RegionClient {
    /// A client for the node at `addr` (connects lazily, on the first call).
    pub fn new(addr: SocketAddr, session: &Session) -> Result<Self> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self {
            addr,
            channel,
            meta: session.metadata()?,
            timeout: None,
        })
    }

    /// This client with a deadline on every request (sent to the node as `grpc-timeout`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A request with the session's metadata and deadline.
    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        for (k, v) in &self.meta {
            req.metadata_mut().insert(*k, v.clone());
        }
        if let Some(t) = self.timeout {
            req.set_timeout(t);
        }
        req
    }

    fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }

    fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }

    /// Write `value` at `key` (last-writer-wins), if `condition` holds. `write_id`: the id the
    /// client chose for the write (empty: the node chooses).
    pub async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        condition: Option<Condition>,
        write_id: &str,
    ) -> Result<pb::WriteReply> {
        let req = pb::PutRequest {
            key: key.to_owned(),
            value,
            condition: condition.map(Into::into),
            write_id: write_id.to_owned(),
        };
        Ok(self.kv().put(self.request(req)).await?.into_inner())
    }

    /// Read `key` in the node's region.
    pub async fn get(&self, key: &str) -> Result<pb::GetReply> {
        self.get_with(key, false).await
    }

    /// Read `key`; `consistent`: a strongly consistent read (multi-Region strong consistency:
    /// the latest acknowledged write, at the price of a round trip to another region).
    pub async fn get_with(&self, key: &str, consistent: bool) -> Result<pb::GetReply> {
        let req = pb::GetRequest {
            key: key.to_owned(),
            consistent_read: consistent,
        };
        Ok(self.kv().get(self.request(req)).await?.into_inner())
    }

    /// Delete `key` (a tombstone), if `condition` holds.
    pub async fn delete(
        &self,
        key: &str,
        condition: Option<Condition>,
        write_id: &str,
    ) -> Result<pb::WriteReply> {
        let req = pb::DeleteRequest {
            key: key.to_owned(),
            condition: condition.map(Into::into),
            write_id: write_id.to_owned(),
        };
        Ok(self.kv().delete(self.request(req)).await?.into_inner())
    }

    /// Add `delta` to the decimal integer at `key` (read-modify-write in the node's region).
    pub async fn increment(&self, key: &str, delta: i64, write_id: &str) -> Result<pb::WriteReply> {
        let req = pb::IncrementRequest {
            key: key.to_owned(),
            delta,
            write_id: write_id.to_owned(),
        };
        Ok(self.kv().increment(self.request(req)).await?.into_inner())
    }

    /// The node's status and statistics.
    pub async fn status(&self) -> Result<pb::NodeStatus> {
        let req = self.request(pb::StatusRequest {});
        Ok(self.admin().status(req).await?.into_inner())
    }

    /// The link table.
    pub async fn links(&self) -> Result<pb::LinkTable> {
        let req = self.request(pb::LinksRequest {});
        Ok(self.admin().links(req).await?.into_inner())
    }

    /// Set the link `from` → `to` (and back, when `both_ways`).
    pub async fn set_link(
        &self,
        from: &str,
        to: &str,
        spec: LinkSpec,
        both_ways: bool,
        reach: Reach,
    ) -> Result<pb::LinkTable> {
        let req = pb::SetLinkRequest {
            from: from.to_owned(),
            to: to.to_owned(),
            latency_ms: spec.latency_ms,
            jitter_ms: spec.jitter_ms,
            loss: spec.loss,
            both_ways,
            local_only: reach == Reach::Local,
        };
        Ok(self.admin().set_link(self.request(req)).await?.into_inner())
    }

    /// Cut `region` off from every other region (or only from `peer`).
    pub async fn partition(
        &self,
        region: &str,
        peer: Option<&str>,
        reach: Reach,
    ) -> Result<pb::LinkTable> {
        let req = pb::PartitionRequest {
            region: region.to_owned(),
            peer: peer.unwrap_or_default().to_owned(),
            local_only: reach == Reach::Local,
        };
        Ok(self
            .admin()
            .partition(self.request(req))
            .await?
            .into_inner())
    }

    /// Heal partitions: every one (no region), one region's, or one pair's.
    pub async fn heal(
        &self,
        region: Option<&str>,
        peer: Option<&str>,
        reach: Reach,
    ) -> Result<pb::LinkTable> {
        let req = pb::HealRequest {
            region: region.unwrap_or_default().to_owned(),
            peer: peer.unwrap_or_default().to_owned(),
            local_only: reach == Reach::Local,
        };
        Ok(self.admin().heal(self.request(req)).await?.into_inner())
    }

    /// Freeze (or unfreeze) the primary's writes (a switchover's drain).
    pub async fn freeze(&self, frozen: bool) -> Result<pb::FreezeReply> {
        let req = self.request(pb::FreezeRequest { frozen });
        Ok(self.admin().freeze(req).await?.into_inner())
    }

    /// Take an Aurora Global role.
    pub async fn set_role(&self, role: Role) -> Result<pb::NodeStatus> {
        let req = pb::SetRoleRequest {
            primary: role.primary,
            epoch: role.epoch,
            fences: role.fences,
            resync: role.resync,
        };
        Ok(self.admin().set_role(self.request(req)).await?.into_inner())
    }

    /// The conflict feed: at most `limit` events after position `after` of `incarnation`
    /// (empty: any).
    pub async fn conflicts(
        &self,
        after: u64,
        limit: u32,
        incarnation: &str,
    ) -> Result<pb::ConflictsReply> {
        let req = pb::ConflictsRequest {
            after,
            limit,
            incarnation: incarnation.to_owned(),
        };
        Ok(self
            .admin()
            .conflicts(self.request(req))
            .await?
            .into_inner())
    }

    /// One page of the node's own log: writes with seq in (`after_seq`, `up_to_seq`]
    /// (`up_to_seq` 0: the head), and the log's truncation base (the page starts after it
    /// when `after_seq` is below it).
    pub async fn log_page(&self, after_seq: u64, up_to_seq: u64) -> Result<pb::LogReply> {
        let req = pb::LogRequest {
            after_seq,
            up_to_seq,
        };
        Ok(self.admin().log(self.request(req)).await?.into_inner())
    }

    /// The node's own log in (`after_seq`, `up_to_seq`], every page of it. Fails, naming the
    /// base, when the log was truncated past `after_seq` (the range is no longer whole).
    pub async fn log(&self, after_seq: u64, up_to_seq: u64) -> Result<Vec<pb::WriteRecord>> {
        // The node answers in pages (bounded in bytes); ask until a page comes back empty.
        let mut out: Vec<pb::WriteRecord> = Vec::new();
        let mut after = after_seq;
        loop {
            let page = self.log_page(after, up_to_seq).await?;
            check_not_truncated("the node", after, page.base_seq)?;
            match page.writes.last() {
                Some(last) if last.seq > after => after = last.seq,
                _ => return Ok(out),
            }
            out.extend(page.writes);
        }
    }

    /// The node's whole state: every key's current write, in the node's order.
    pub async fn dump(&self) -> Result<Vec<pb::WriteRecord>> {
        let req = self.request(pb::DumpRequest {});
        let mut stream = self.admin().dump(req).await?.into_inner();
        let mut items = Vec::new();
        while let Some(chunk) = stream.message().await? {
            items.extend(chunk.items);
        }
        Ok(items)
    }

    /// Aurora Global: the node's writes set aside after a failover (never merged).
    pub async fn divergent(&self) -> Result<Vec<pb::WriteRecord>> {
        let req = self.request(pb::DivergentRequest {});
        Ok(self.admin().divergent(req).await?.into_inner().writes)
    }
}

/// `Err` when a log read from `after` met a truncation base past it: the writes in
/// (`after`, `base`] are no longer listed (every peer had them; see `log_retention_ms`).
pub fn check_not_truncated(region: &str, after: u64, base: u64) -> Result<()> {
    if base > after {
        return Err(crate::Error::Failed(format!(
            "the log of {region} is truncated to seq {base}: its writes {}..={base} are no longer listed (every peer had them; raise log_retention_ms in the cluster file to keep them longer)",
            after + 1
        )));
    }
    Ok(())
}
