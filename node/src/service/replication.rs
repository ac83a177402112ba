//! The serving side of replication: peers pull this region's own log.
//!
//! A puller positioned below the log's truncation base is first served this region's
//! surviving writes of the truncated part from the store (see `state/truncation.rs`).
//!
//! One task per open stream reads the log from the peer's position in batches (bounded in
//! writes and bytes), sends them through a bounded channel (so a slow consumer holds the task,
//! not memory), and sleeps on the log-head watch when caught up. A second task reads the
//! peer's acknowledgements into [`OutboundPeer::acked`](crate::state::OutboundPeer).

use std::{pin::Pin, sync::atomic::Ordering};

use futures::Stream;
use meridian_proto::v1::{self as pb, replication_server::Replication};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::debug;

use super::Node;
use crate::error::ToStatus;
use crate::lock::Unpoisoned;
use crate::{
    convert::{Naming, region_id, write_encoded, write_to_pb},
    error::Error,
};

/// Largest batch payload, bytes (whole writes are never split).
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Batches a pull stream prepares ahead of what HTTP/2 flow control lets out. With the batch
/// bound this caps what one stream that is never read can hold: about
/// `(STREAM_BATCHES_AHEAD + 2) × MAX_BATCH_BYTES` (the channel, the batch being encoded and the
/// stream window), instead of a copy of the whole log.
const STREAM_BATCHES_AHEAD: usize = 1;
/// Most writes per batch the server allows a puller to ask for.
const MAX_BATCH_WRITES: usize = 8192;

/// This node's durable log head (acks beyond it are nonsense and are clamped).
fn ack_head(state: &crate::state::NodeState) -> u64 {
    *state.subscribe_head().borrow()
}

/// Split `items` into chunks of at most [`MAX_BATCH_BYTES`] of payload (a single larger item
/// goes alone), so no message exceeds the replication message limit whatever the value sizes.
pub fn byte_chunks(
    items: &[std::sync::Arc<meridian_core::store::Write>],
) -> Vec<&[std::sync::Arc<meridian_core::store::Write>]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, w) in items.iter().enumerate() {
        let size = w.payload_bytes() + 128;
        if i > start && bytes + size > MAX_BATCH_BYTES {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// The replication service.
#[derive(Clone, Debug)]
pub struct ReplicationService {
    node: Node,
}

impl ReplicationService {
    /// The service over `node`.
    pub fn new(node: Node) -> Self {
        Self { node }
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Replication for ReplicationService {
    type PullStream = BoxStream<pb::ReplBatch>;
    type SnapshotStream = BoxStream<pb::SnapshotChunk>;
    type ItemsStream = BoxStream<pb::SnapshotChunk>;
    type StrongStateStream = BoxStream<pb::StrongStateChunk>;

    async fn digest(
        &self,
        req: Request<pb::DigestRequest>,
    ) -> Result<Response<pb::DigestReply>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let r = req.into_inner();
        region_id(&self.node.state.regions, &r.region, "requesting region").to_status()?;
        if !(1..=65_536).contains(&r.buckets) {
            return Err(Error::invalid("buckets must be between 1 and 65536").to_status());
        }
        let hashes = meridian_core::digest::digest(self.node.state.replica().store(), r.buckets);
        Ok(Response::new(pb::DigestReply { hashes }))
    }

    async fn items(
        &self,
        req: Request<pb::ItemsRequest>,
    ) -> Result<Response<Self::ItemsStream>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let r = req.into_inner();
        let state = self.node.state.clone();
        region_id(&state.regions, &r.region, "requesting region").to_status()?;
        if !(1..=65_536).contains(&r.buckets) || r.wanted.iter().any(|b| *b >= r.buckets) {
            return Err(Error::invalid(
                "buckets must be between 1 and 65536, and wanted buckets below it",
            )
            .to_status());
        }
        let items = meridian_core::digest::items_in(state.replica().store(), r.buckets, &r.wanted);
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in byte_chunks(&items) {
                let msg = pb::SnapshotChunk {
                    items: chunk
                        .iter()
                        .map(|w| write_to_pb(&state.regions, w))
                        .collect(),
                    high_water: Default::default(),
                    last: false,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn pull(
        &self,
        req: Request<Streaming<pb::PullRequest>>,
    ) -> Result<Response<Self::PullStream>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let mut inbound = req.into_inner();
        let open = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("pull stream opened without a request"))?;
        let state = self.node.state.clone();
        let peer = region_id(&state.regions, &open.region, "pulling region").to_status()?;
        if peer == state.region {
            return Err(Error::invalid("a region cannot pull from itself").to_status());
        }
        let head = state.replica().log_head();
        let incarnation = state.incarnation.to_string();
        // A position from another incarnation of this node (or past its head) means the log the
        // puller knew is gone: serve from the start and say so; the merge is idempotent.
        let reset = open.after_seq > head
            || (!open.origin_incarnation.is_empty() && open.origin_incarnation != incarnation);
        let after_seq = if reset { 0 } else { open.after_seq };
        // A node of a cluster with the same regions reads them by index.
        let naming = if open.region_list == state.regions.names().join(",") {
            Naming::Indexes
        } else {
            Naming::Names
        };
        let max_batch = match open.max_batch as usize {
            0 => state.opts.max_batch,
            n => n.min(MAX_BATCH_WRITES),
        };
        let outbound = state.outbound(peer);
        // Claim a stream slot; a peer with too many open is refused (and counted).
        if outbound.streams.fetch_add(1, Ordering::AcqRel)
            >= crate::state::MAX_PULL_STREAMS_PER_PEER
        {
            outbound.streams.fetch_sub(1, Ordering::AcqRel);
            state.pull_stream_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Status::resource_exhausted(format!(
                "{} already has {} pull streams open here; close one first",
                state.regions.name(peer),
                crate::state::MAX_PULL_STREAMS_PER_PEER
            )));
        }
        // What this peer holds now. Within one incarnation of the peer its position only moves
        // forward; a new incarnation (it restarted without its state) may start lower.
        let claimed = open.applied_seq.min(after_seq);
        let same_incarnation = {
            let mut known = outbound.incarnation.locked();
            let same = !open.puller_incarnation.is_empty() && *known == open.puller_incarnation;
            known.clone_from(&open.puller_incarnation);
            same
        };
        if same_incarnation {
            outbound.acked.fetch_max(claimed, Ordering::Relaxed);
        } else {
            outbound.acked.store(claimed, Ordering::Relaxed);
        }

        let ack_state = state.clone();
        tokio::spawn(async move {
            while let Ok(Some(ack)) = inbound.message().await {
                // Acknowledgements count only for the region the stream was opened by.
                if !ack.region.is_empty() && ack.region != ack_state.regions.name(peer) {
                    tracing::warn!(stream = ack_state.regions.name(peer), claimed = %crate::error::truncate(&ack.region), "ignored an acknowledgement naming another region");
                    continue;
                }
                ack_state
                    .outbound(peer)
                    .acked
                    .fetch_max(ack.applied_seq.min(ack_head(&ack_state)), Ordering::Relaxed);
            }
        });

        let (tx, rx) = mpsc::channel(STREAM_BATCHES_AHEAD);
        let shutdown = self.node.shutdown.clone();
        tokio::spawn(async move {
            let mut head_rx = state.subscribe_head();
            let mut next = after_seq;
            let mut reset = reset;
            // A puller below the log's base (it lost its state, or is new) is first served
            // this region's surviving writes of the truncated part, from the store.
            let mut catch_up = std::collections::VecDeque::new();
            let mut catch_up_upto = 0;
            loop {
                // Only durable entries go out: the head watch is the durable head.
                let head = *head_rx.borrow_and_update();
                let mut from_store = !catch_up.is_empty();
                let writes: Vec<_> = if from_store {
                    let n = max_batch.min(catch_up.len());
                    catch_up.drain(..n).collect()
                } else {
                    next = next.max(catch_up_upto);
                    // One hold of the lock per batch: the base and the log read together.
                    let core = state.replica();
                    if next < core.log_base() {
                        catch_up_upto = core.log_base();
                        catch_up = core.own_writes_between(next, catch_up_upto).into();
                        state
                            .catch_up_writes
                            .fetch_add(catch_up.len() as u64, Ordering::Relaxed);
                        debug!(
                            peer = state.regions.name(peer),
                            writes = catch_up.len(),
                            "serving the truncated part of the log from the store"
                        );
                    }
                    if catch_up.is_empty() {
                        core.log_after(next, max_batch.min(head.saturating_sub(next) as usize))
                    } else {
                        from_store = true;
                        let n = max_batch.min(catch_up.len());
                        catch_up.drain(..n).collect()
                    }
                };
                if writes.is_empty() && !reset {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tx.closed() => break,
                        r = head_rx.changed() => if r.is_err() { break },
                    }
                    continue;
                }
                let mut bytes = 0;
                let mut batch = Vec::with_capacity(writes.len());
                for (i, w) in writes.iter().enumerate() {
                    if bytes > 0 && bytes + w.payload_bytes() > MAX_BATCH_BYTES {
                        // What did not fit goes back to the front of the catch-up (log
                        // entries are read again from `next`).
                        if from_store {
                            for w in writes[i..].iter().rev() {
                                catch_up.push_front(w.clone());
                            }
                        }
                        break;
                    }
                    bytes += w.payload_bytes();
                    batch.push(write_encoded(&state.regions, w, naming));
                    next = w.seq;
                }
                let msg = pb::ReplBatch {
                    origin: state.region_name().to_owned(),
                    writes: batch,
                    head_seq: head,
                    incarnation: incarnation.clone(),
                    reset: std::mem::take(&mut reset),
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    r = tx.send(Ok(msg)) => if r.is_err() { break },
                }
            }
            state.outbound(peer).streams.fetch_sub(1, Ordering::Relaxed);
            debug!(peer = state.regions.name(peer), "pull stream closed");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn strong(
        &self,
        req: Request<Streaming<pb::StrongBatch>>,
    ) -> Result<Response<pb::StrongAck>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let state = self.node.state.clone();
        if state.strong.is_none() {
            return Err(Error::FailedPrecondition(
                "this node runs eventual multi-Region consistency: it takes no strong-consistency messages".into(),
            )
            .to_status());
        }
        let mut inbound = req.into_inner();
        let mut from = None;
        while let Some(batch) = inbound.message().await? {
            let sender = region_id(&state.regions, &batch.from, "sending region").to_status()?;
            // One stream, one sender: a batch naming another region ends the stream.
            if sender == state.region || from.is_some_and(|f| f != sender) {
                return Err(Error::invalid(format!(
                    "a strong stream carries one other region's messages; this batch names {}",
                    crate::error::truncate(&batch.from)
                ))
                .to_status());
            }
            from = Some(sender);
            if state
                .strong
                .as_ref()
                .is_some_and(|s| !s.admits(sender, batch.first_queued_us))
            {
                // Meant for an incarnation whose state was lost (see `strong/rejoin.rs`).
                debug!(
                    peer = batch.from,
                    "dropped a strong batch queued before the rejoin copy"
                );
                continue;
            }
            state.strong_receive(sender, batch.msgs).to_status()?;
        }
        Ok(Response::new(pb::StrongAck {}))
    }

    async fn strong_state(
        &self,
        req: Request<pb::StrongStateRequest>,
    ) -> Result<Response<Self::StrongStateStream>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let state = self.node.state.clone();
        let req = req.into_inner();
        let asker = region_id(&state.regions, &req.region, "asking region").to_status()?;
        if asker == state.region {
            return Err(Error::invalid("a region cannot copy its own strong state").to_status());
        }
        let (taken, items) = state
            .strong_copy_for(asker, &req.prefix)
            .await
            .to_status()?;
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            for chunk in crate::strong::copy_chunks(&state, taken, &items) {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn tombstones(
        &self,
        req: Request<pb::TombstonesRequest>,
    ) -> Result<Response<pb::TombstonesReply>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        crate::tombstones::answer(&self.node, req.into_inner())
            .map(Response::new)
            .to_status()
    }

    async fn head(&self, req: Request<pb::HeadRequest>) -> Result<Response<pb::HeadReply>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let state = &self.node.state;
        Ok(Response::new(pb::HeadReply {
            // The durable head: what peers can pull (and a `global` read can wait for).
            head_seq: *state.subscribe_head().borrow(),
            epoch: state.replica().role().epoch,
        }))
    }

    async fn snapshot(
        &self,
        req: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.node.check_peer(req.metadata()).to_status()?;
        let state = self.node.state.clone();
        region_id(
            &state.regions,
            &req.into_inner().region,
            "requesting region",
        )
        .to_status()?;
        let (items, mut high_water, ticket) = {
            let core = state.replica();
            let items: Vec<_> = core.store().iter().cloned().collect();
            let mut hw = std::collections::HashMap::new();
            for r in state.regions.ids() {
                let seq = if r == state.region {
                    core.log_head()
                } else {
                    state.applied_from(r)
                };
                hw.insert(state.regions.name(r).to_owned(), seq);
            }
            (items, hw, state.durability_ticket())
        };
        // Serve the cut only once it is durable, high-water positions included: a resync from
        // a state that a crash could still take back would install writes that never were.
        state.wait_durable(ticket).await.to_status()?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut chunks = byte_chunks(&items).into_iter().peekable();
            if chunks.peek().is_none() {
                let _ = tx
                    .send(Ok(pb::SnapshotChunk {
                        items: vec![],
                        high_water: std::mem::take(&mut high_water),
                        last: true,
                    }))
                    .await;
            }
            while let Some(chunk) = chunks.next() {
                let last = chunks.peek().is_none();
                let msg = pb::SnapshotChunk {
                    items: chunk
                        .iter()
                        .map(|w| write_to_pb(&state.regions, w))
                        .collect(),
                    high_water: if last {
                        std::mem::take(&mut high_water)
                    } else {
                        Default::default()
                    },
                    last,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
