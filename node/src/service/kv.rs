//! The key-value service: put, get, delete, conditional writes and increments.
//!
//! A request from a client in another region pays the one-way latency there and back (from
//! the link table). In Aurora Global mode a secondary refuses writes, or forwards them to the
//! primary when the cluster and the request allow, waiting by the request's consistency.

use std::{sync::Arc, time::Duration};

use meridian_proto::{
    CLIENT_REGION_HEADER,
    v1::{self as pb, kv_client::KvClient, kv_server::Kv},
};
use tonic::{Request, Response, Status, metadata::MetadataValue};

use super::{Consistency, Node, RequestMeta};
use crate::error::ToStatus;
use crate::{
    convert::{context_to_pb, version_from_pb, version_to_pb},
    error::{Error, Result, check_key, check_value},
};
use meridian_core::{
    replica::{Committed, Condition, Mode, WriteOp},
    store::Outcome,
};

/// How long a forwarded write or a `global` read waits for replication before giving up.
const CONSISTENCY_WAIT: Duration = Duration::from_secs(30);

/// A client write as it would be forwarded to the primary, unchanged.
enum Forwardable {
    Put(pb::PutRequest),
    Delete(pb::DeleteRequest),
    Increment(pb::IncrementRequest),
}

/// The key-value service.
#[derive(Clone, Debug)]
pub struct KvService {
    node: Node,
}

impl KvService {
    /// The service over `node`.
    pub fn new(node: Node) -> Self {
        Self { node }
    }

    fn condition(&self, c: Option<pb::Condition>) -> Result<Option<Condition>> {
        match c.and_then(|c| c.kind) {
            None => Ok(None),
            Some(pb::condition::Kind::IfAbsent(true)) => Ok(Some(Condition::IfAbsent)),
            Some(pb::condition::Kind::IfAbsent(false)) => Ok(None),
            Some(pb::condition::Kind::IfVersion(v)) => Ok(Some(Condition::IfVersion(
                version_from_pb(&self.node.state.regions, &v)?,
            ))),
        }
    }

    fn reply(&self, c: Committed) -> pb::WriteReply {
        let regions = &self.node.state.regions;
        pb::WriteReply {
            version: Some(version_to_pb(regions, &c.write.version)),
            write_id: c.write.id.to_string(),
            context: Some(context_to_pb(regions, &c.write.context)),
            outcome: match c.outcome {
                Outcome::CausalInversion { .. } | Outcome::Conflict { .. } => {
                    pb::WriteOutcome::LostOnArrival
                }
                _ => pb::WriteOutcome::Applied,
            } as i32,
            committed_by: self.node.state.region_name().to_owned(),
            seq: c.write.seq,
            new_value: c.new_value.unwrap_or_default(),
        }
    }

    /// Pay the client's round trip around `work`, and count the request by status code.
    async fn around<T>(
        &self,
        method: usize,
        meta: RequestMeta,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T, Status> {
        let state = &self.node.state;
        let result: Result<T, Status> = async {
            meta.travel(state, true).await.to_status()?;
            let result = work.await;
            meta.travel(state, false).await.to_status()?;
            result.to_status()
        }
        .await;
        state.requests.count(
            method,
            result.as_ref().err().map_or(tonic::Code::Ok, Status::code),
        );
        result
    }

    /// Commit locally, or forward to the primary when this is a secondary that may.
    async fn write(
        &self,
        meta: RequestMeta,
        key: String,
        op: WriteOp,
        cond: Option<Condition>,
        id: Option<uuid::Uuid>,
        forward: Forwardable,
    ) -> Result<pb::WriteReply> {
        // The API's limits (a replica itself stores larger keys and values: DynamoDB items).
        check_key(&key)?;
        if let WriteOp::Put(v) = &op {
            check_value(v)?;
        }
        let state = &self.node.state;
        if state.strong.is_some() {
            return state
                .strong_write(&key, op, cond.as_ref(), id)
                .await
                .map(|c| self.reply(c));
        }
        match state.commit(&key, op, cond.as_ref(), id).await {
            Ok(c) => Ok(self.reply(c)),
            Err(Error::NotPrimary { region, primary }) if meta.forward => {
                if !state.opts.cluster.write_forwarding {
                    return Err(Error::FailedPrecondition(format!(
                        "region {region} is a read-only secondary and write forwarding is off for this cluster; write at the primary {primary}"
                    )));
                }
                self.forward(meta, &primary, forward).await
            }
            Err(e) => Err(e),
        }
    }

    async fn forward(
        &self,
        meta: RequestMeta,
        primary: &str,
        op: Forwardable,
    ) -> Result<pb::WriteReply> {
        let state = &self.node.state;
        let primary_id = state
            .regions
            .id(primary)
            .ok_or_else(|| Error::Internal(format!("unknown primary {primary}")))?;
        let mut client = KvClient::new(self.node.peer(primary_id));
        let region = MetadataValue::try_from(state.region_name())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let status_to_error = |s: Status| match s.code() {
            tonic::Code::InvalidArgument => Error::InvalidArgument(s.message().to_owned()),
            tonic::Code::FailedPrecondition => Error::FailedPrecondition(s.message().to_owned()),
            _ => Error::Unavailable(format!(
                "forwarding to the primary {primary} failed: {}",
                s.message()
            )),
        };
        macro_rules! call {
            ($method:ident, $req:expr) => {{
                let mut req = Request::new($req);
                req.metadata_mut()
                    .insert(CLIENT_REGION_HEADER, region.clone());
                client
                    .$method(req)
                    .await
                    .map_err(status_to_error)?
                    .into_inner()
            }};
        }
        let reply = match op {
            Forwardable::Put(r) => call!(put, r),
            Forwardable::Delete(r) => call!(delete, r),
            Forwardable::Increment(r) => call!(increment, r),
        };
        state.count_forwarded();
        if meta.consistency != Consistency::Eventual {
            state
                .wait_applied(primary_id, reply.seq, CONSISTENCY_WAIT)
                .await?;
        }
        Ok(reply)
    }

    async fn read(&self, meta: RequestMeta, key: String, strong: bool) -> Result<pb::GetReply> {
        check_key(&key)?;
        let state = &self.node.state;
        state.refuse_if_witness()?;
        let current = if strong {
            state.strong_read(&key).await?
        } else {
            self.local_read(meta, &key).await?
        };
        let regions = &state.regions;
        Ok(match current {
            None => pb::GetReply::default(),
            Some(w) => pb::GetReply {
                found: !w.is_tombstone(),
                value: w.value().map(<[u8]>::to_vec).unwrap_or_default(),
                version: Some(version_to_pb(regions, &w.version)),
                write_id: w.id.to_string(),
                context: Some(context_to_pb(regions, &w.context)),
                tombstone: w.is_tombstone(),
            },
        })
    }

    /// This region's copy of `key` (after the wait a `global` read pays in Aurora Global).
    async fn local_read(
        &self,
        meta: RequestMeta,
        key: &str,
    ) -> Result<Option<Arc<meridian_core::store::Write>>> {
        let state = &self.node.state;
        if meta.consistency == Consistency::Global {
            let role = state.replica().role().clone();
            if let (Mode::AuroraGlobal, Some(primary)) = (role.mode, role.primary)
                && primary != state.region
            {
                let head = self
                    .node
                    .replication_client(primary)
                    .head(pb::HeadRequest {})
                    .await
                    .map_err(|s| {
                        Error::Unavailable(format!(
                            "cannot reach the primary for a global read: {}",
                            s.message()
                        ))
                    })?
                    .into_inner()
                    .head_seq;
                state.wait_applied(primary, head, CONSISTENCY_WAIT).await?;
            }
        }
        state.read_durable(key).await
    }
}

/// A client-chosen write id (empty: none).
fn client_write_id(s: &str) -> Result<Option<uuid::Uuid>> {
    if s.is_empty() {
        return Ok(None);
    }
    crate::convert::write_id_from_pb(s).map(Some)
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn put(&self, req: Request<pb::PutRequest>) -> Result<Response<pb::WriteReply>, Status> {
        let meta = RequestMeta::parse(&self.node.state, req.metadata()).to_status()?;
        let r = req.into_inner();
        let cond = self.condition(r.condition.clone()).to_status()?;
        let (key, value) = (r.key.clone(), Arc::from(r.value.as_slice()));
        let id = client_write_id(&r.write_id).to_status()?;
        let reply = self
            .around(
                0,
                meta,
                self.write(
                    meta,
                    key,
                    WriteOp::Put(value),
                    cond,
                    id,
                    Forwardable::Put(r),
                ),
            )
            .await?;
        Ok(Response::new(reply))
    }

    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetReply>, Status> {
        let meta = RequestMeta::parse(&self.node.state, req.metadata()).to_status()?;
        let r = req.into_inner();
        Ok(Response::new(
            self.around(1, meta, self.read(meta, r.key, r.consistent_read))
                .await?,
        ))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::WriteReply>, Status> {
        let meta = RequestMeta::parse(&self.node.state, req.metadata()).to_status()?;
        let r = req.into_inner();
        let cond = self.condition(r.condition.clone()).to_status()?;
        let key = r.key.clone();
        let id = client_write_id(&r.write_id).to_status()?;
        let reply = self
            .around(
                2,
                meta,
                self.write(meta, key, WriteOp::Delete, cond, id, Forwardable::Delete(r)),
            )
            .await?;
        Ok(Response::new(reply))
    }

    async fn increment(
        &self,
        req: Request<pb::IncrementRequest>,
    ) -> Result<Response<pb::WriteReply>, Status> {
        let meta = RequestMeta::parse(&self.node.state, req.metadata()).to_status()?;
        let r = req.into_inner();
        let (key, delta) = (r.key.clone(), r.delta);
        let op = WriteOp::Increment(delta);
        let id = client_write_id(&r.write_id).to_status()?;
        let reply = self
            .around(
                3,
                meta,
                self.write(meta, key, op, None, id, Forwardable::Increment(r)),
            )
            .await?;
        Ok(Response::new(reply))
    }
}
