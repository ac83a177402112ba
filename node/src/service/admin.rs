//! The admin service: status, the link table (latency, jitter, loss, partitions), the conflict
//! feed, state dumps, log ranges and the Aurora Global role changes.
//!
//! Link and partition changes are applied locally and then passed on to every peer (with
//! `local_only` set, so they stop there); peers that cannot be reached are named in the reply.

use std::pin::Pin;

use futures::{Stream, future::join_all};
use meridian_proto::{
    ADMIN_TOKEN_HEADER,
    v1::{self as pb, admin_client::AdminClient, admin_server::Admin},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, metadata::MetadataValue};

use super::Node;
use crate::error::ToStatus;
use crate::{
    convert::{event_to_pb, region_id, write_to_pb},
    error::{Error, Result},
    status::{link_to_pb, node_status},
};
use meridian_core::{
    links::LinkSetting,
    region::RegionId,
    replica::{Fence, Mode, Role},
};

/// How far ahead of a node's epoch a role change may jump.
const MAX_EPOCH_STEP: u64 = 1_000_000;
/// Most fences a role may carry.
const MAX_FENCES: usize = 1024;

/// The admin service.
#[derive(Clone, Debug)]
pub struct AdminService {
    node: Node,
}

impl AdminService {
    /// The service over `node`.
    pub fn new(node: Node) -> Self {
        Self { node }
    }

    fn table(&self, unreachable: Vec<String>) -> pb::LinkTable {
        let state = &self.node.state;
        let links = state
            .links
            .table()
            .iter()
            .map(|(from, to, s)| link_to_pb(&state.regions, from, to, &s))
            .collect();
        pb::LinkTable {
            links,
            unreachable,
            source: state.links.source(),
        }
    }

    fn region(&self, name: &str, what: &str) -> Result<RegionId> {
        region_id(&self.node.state.regions, name, what)
    }

    /// Run `call` against every peer's admin service; return the names of those that failed.
    async fn propagate<T, F, Fut>(&self, call: F) -> Vec<String>
    where
        F: Fn(
            AdminClient<tonic::transport::Channel>,
            Option<MetadataValue<tonic::metadata::Ascii>>,
        ) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let state = &self.node.state;
        let token = state
            .opts
            .admin_token
            .as_deref()
            .and_then(|t| MetadataValue::try_from(t).ok());
        let calls = state.peers().map(|p| {
            let client = AdminClient::new(self.node.peer(p));
            let fut = call(client, token.clone());
            async move {
                (
                    p,
                    tokio::time::timeout(std::time::Duration::from_secs(5), fut).await,
                )
            }
        });
        join_all(calls)
            .await
            .into_iter()
            .filter(|(_, r)| !matches!(r, Ok(Ok(_))))
            .map(|(p, _)| state.regions.name(p).to_owned())
            .collect()
    }
}

/// A request carrying the admin token, if there is one.
fn with_token<T>(msg: T, token: Option<MetadataValue<tonic::metadata::Ascii>>) -> Request<T> {
    let mut req = Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut().insert(ADMIN_TOKEN_HEADER, t);
    }
    req
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Admin for AdminService {
    type DumpStream = BoxStream<pb::DumpChunk>;

    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        Ok(Response::new(node_status(&self.node.state)))
    }

    async fn links(
        &self,
        _req: Request<pb::LinksRequest>,
    ) -> Result<Response<pb::LinkTable>, Status> {
        Ok(Response::new(self.table(vec![])))
    }

    async fn set_link(
        &self,
        req: Request<pb::SetLinkRequest>,
    ) -> Result<Response<pb::LinkTable>, Status> {
        self.node.check_admin(req.metadata()).to_status()?;
        let r = req.into_inner();
        let from = self.region(&r.from, "link region").to_status()?;
        let to = self.region(&r.to, "link region").to_status()?;
        if from == to {
            return Err(Error::invalid("a link needs two different regions").to_status());
        }
        let state = &self.node.state;
        let current = state.links.get(from, to);
        let setting = LinkSetting {
            latency_ms: r.latency_ms,
            jitter_ms: r.jitter_ms,
            loss: r.loss,
            partitioned: current.partitioned,
        };
        setting
            .validate()
            .map_err(Error::InvalidArgument)
            .to_status()?;
        state.links.update(|t| {
            t.set(from, to, setting);
            if r.both_ways {
                let back = LinkSetting {
                    partitioned: t.get(to, from).partitioned,
                    ..setting
                };
                t.set(to, from, back);
            }
        });
        state.note_links();
        let unreachable = if r.local_only {
            vec![]
        } else {
            let fwd = pb::SetLinkRequest {
                local_only: true,
                ..r
            };
            self.propagate(|mut c, t| {
                let fwd = fwd.clone();
                async move { c.set_link(with_token(fwd, t)).await }
            })
            .await
        };
        Ok(Response::new(self.table(unreachable)))
    }

    async fn partition(
        &self,
        req: Request<pb::PartitionRequest>,
    ) -> Result<Response<pb::LinkTable>, Status> {
        self.node.check_admin(req.metadata()).to_status()?;
        let r = req.into_inner();
        let region = self.region(&r.region, "region to partition").to_status()?;
        let peer = (!r.peer.is_empty())
            .then(|| self.region(&r.peer, "peer region"))
            .transpose()
            .to_status()?;
        if peer == Some(region) {
            return Err(Error::invalid("cannot partition a region from itself").to_status());
        }
        let state = &self.node.state;
        state.links.update(|t| {
            for other in state
                .regions
                .ids()
                .filter(|o| *o != region && peer.is_none_or(|p| p == *o))
            {
                t.set_partitioned(region, other, true);
            }
        });
        state.note_links();
        let unreachable = if r.local_only {
            vec![]
        } else {
            let fwd = pb::PartitionRequest {
                local_only: true,
                ..r
            };
            self.propagate(|mut c, t| {
                let fwd = fwd.clone();
                async move { c.partition(with_token(fwd, t)).await }
            })
            .await
        };
        Ok(Response::new(self.table(unreachable)))
    }

    async fn heal(&self, req: Request<pb::HealRequest>) -> Result<Response<pb::LinkTable>, Status> {
        self.node.check_admin(req.metadata()).to_status()?;
        let r = req.into_inner();
        let region = (!r.region.is_empty())
            .then(|| self.region(&r.region, "region to heal"))
            .transpose()
            .to_status()?;
        let peer = (!r.peer.is_empty())
            .then(|| self.region(&r.peer, "peer region"))
            .transpose()
            .to_status()?;
        if region.is_none() && peer.is_some() {
            return Err(Error::invalid("heal: give the region when giving a peer").to_status());
        }
        let state = &self.node.state;
        state.links.update(|t| {
            for a in state.regions.ids() {
                for b in state.regions.ids().filter(|b| *b != a) {
                    let selected = match (region, peer) {
                        (None, _) => true,
                        (Some(x), None) => a == x || b == x,
                        (Some(x), Some(y)) => (a == x && b == y) || (a == y && b == x),
                    };
                    if selected {
                        let mut s = t.get(a, b);
                        s.partitioned = false;
                        t.set(a, b, s);
                    }
                }
            }
        });
        state.note_links();
        let unreachable = if r.local_only {
            vec![]
        } else {
            let fwd = pb::HealRequest {
                local_only: true,
                ..r
            };
            self.propagate(|mut c, t| {
                let fwd = fwd.clone();
                async move { c.heal(with_token(fwd, t)).await }
            })
            .await
        };
        Ok(Response::new(self.table(unreachable)))
    }

    async fn conflicts(
        &self,
        req: Request<pb::ConflictsRequest>,
    ) -> Result<Response<pb::ConflictsReply>, Status> {
        let r = req.into_inner();
        let limit = match r.limit {
            0 => 1000,
            n => (n as usize).min(100_000),
        };
        let state = &self.node.state;
        let incarnation = state.incarnation.to_string();
        let reset = !r.incarnation.is_empty() && r.incarnation != incarnation;
        let after = if reset { 0 } else { r.after };
        let (events, dropped, conflicts, lost) = {
            let core = state.replica();
            let (events, dropped) = core.feed().since(after, limit);
            (events, dropped, core.feed().conflicts(), core.feed().lost())
        };
        let next = events
            .last()
            .map_or(after.max(lost.min(after.saturating_add(dropped))), |e| {
                e.seq
            });
        Ok(Response::new(pb::ConflictsReply {
            events: events
                .iter()
                .map(|e| event_to_pb(&state.regions, state.region, e))
                .collect(),
            next,
            total_conflicts: conflicts,
            total_lost: lost,
            dropped,
            incarnation,
            durable: state.durable(),
            reset,
        }))
    }

    async fn dump(
        &self,
        _req: Request<pb::DumpRequest>,
    ) -> Result<Response<Self::DumpStream>, Status> {
        let state = self.node.state.clone();
        let items: Vec<_> = state.replica().store().iter().cloned().collect();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in crate::service::replication::byte_chunks(&items) {
                let msg = pb::DumpChunk {
                    items: chunk
                        .iter()
                        .map(|w| write_to_pb(&state.regions, w))
                        .collect(),
                };
                if tx.send(Ok(msg)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn log(&self, req: Request<pb::LogRequest>) -> Result<Response<pb::LogReply>, Status> {
        let r = req.into_inner();
        let state = &self.node.state;
        let (writes, base_seq) = {
            // Only the durable part of the log: entries past it could still vanish in a crash.
            let head = state.durable_head();
            let core = state.replica();
            let up_to = if r.up_to_seq == 0 {
                head
            } else {
                r.up_to_seq.min(head)
            };
            let after = r.after_seq.max(core.log_base());
            let writes = core.log_after(after, up_to.saturating_sub(after).min(10_000) as usize);
            (writes, core.log_base())
        };
        // One page, bounded in writes and bytes; callers page on with after_seq.
        let page = crate::service::replication::byte_chunks(&writes)
            .first()
            .copied()
            .unwrap_or(&[]);
        Ok(Response::new(pb::LogReply {
            writes: page
                .iter()
                .map(|w| write_to_pb(&state.regions, w))
                .collect(),
            base_seq,
        }))
    }

    async fn freeze(
        &self,
        req: Request<pb::FreezeRequest>,
    ) -> Result<Response<pb::FreezeReply>, Status> {
        self.node.check_admin(req.metadata()).to_status()?;
        let (head_seq, head_commit_time_us) = self
            .node
            .state
            .freeze(req.into_inner().frozen)
            .await
            .to_status()?;
        Ok(Response::new(pb::FreezeReply {
            head_seq,
            head_commit_time_us,
        }))
    }

    async fn set_role(
        &self,
        req: Request<pb::SetRoleRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        self.node.check_admin(req.metadata()).to_status()?;
        let r = req.into_inner();
        let state = &self.node.state;
        if state.replica().role().mode != Mode::AuroraGlobal {
            return Err(
                Error::FailedPrecondition("role changes need Aurora Global mode".into())
                    .to_status(),
            );
        }
        let primary = self.region(&r.primary, "primary").to_status()?;
        // An epoch far ahead would leave no room for later switchovers and failovers; a
        // flood of fences would stall every write behind the fence check.
        let current = state.replica().role().epoch;
        if r.epoch > current.saturating_add(MAX_EPOCH_STEP) {
            return Err(Error::invalid(format!(
                "epoch {} is more than {MAX_EPOCH_STEP} ahead of this node's epoch {current}",
                r.epoch
            ))
            .to_status());
        }
        if r.fences.len() > MAX_FENCES {
            return Err(Error::invalid(format!(
                "{} fences; at most {MAX_FENCES} (one per failover)",
                r.fences.len()
            ))
            .to_status());
        }
        let mut fences = Vec::with_capacity(r.fences.len());
        for f in &r.fences {
            if f.epoch == 0 || f.epoch > r.epoch {
                return Err(Error::invalid(format!(
                    "fence epoch {} must be between 1 and the role's epoch {}",
                    f.epoch, r.epoch
                ))
                .to_status());
            }
            let region = self.region(&f.region, "fenced region").to_status()?;
            fences.push(Fence {
                region,
                after_seq: f.after_seq,
                epoch: f.epoch,
                cut_at_us: f.cut_at_us,
            });
        }
        let mut role = Role {
            mode: Mode::AuroraGlobal,
            primary: Some(primary),
            epoch: r.epoch,
            frozen: false,
            fences: state.replica().role().fences.clone(),
        };
        role.add_fences(fences);
        if r.resync {
            crate::resync::resync_from(&self.node, primary, role)
                .await
                .to_status()?;
        } else {
            state.set_role(role).await.to_status()?;
        }
        Ok(Response::new(node_status(state)))
    }

    async fn divergent(
        &self,
        _req: Request<pb::DivergentRequest>,
    ) -> Result<Response<pb::LogReply>, Status> {
        let state = &self.node.state;
        let (writes, base_seq) = {
            let core = state.replica();
            (core.divergent_writes(), core.log_base())
        };
        Ok(Response::new(pb::LogReply {
            writes: writes
                .iter()
                .map(|w| write_to_pb(&state.regions, w))
                .collect(),
            base_seq,
        }))
    }
}
