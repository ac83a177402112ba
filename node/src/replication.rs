//! Replication between regions: the receiving side.
//!
//! Each node runs one [`pull_loop`] per peer. It opens a `Replication/Pull` stream at its
//! high-water mark for that peer (the highest seq applied), and *emulates the link*: each write
//! is held in a FIFO queue until `commit time + latency ± jitter` (plus a retransmission timeout
//! for a batch drawn as lost), then applied with the rest of the due writes in one batch.
//! Acknowledgements of what has been applied flow back on the same stream.
//!
//! A partition drops the stream and the queue; on heal the loop pulls again from the high-water
//! mark, so held-back writes arrive in order and nothing is lost. A broken connection (peer
//! down) is retried with backoff. The queue is bounded: when it is full the loop stops reading
//! the stream and HTTP/2 flow control pushes back on the origin.
//!
//! A resync (Aurora Global, after a failover) moves the applied positions under the session's
//! feet: the session notices the new resync generation (or has its next batch refused by
//! [`NodeState::apply_batch`]), drops its stream and queue, and the loop pulls again from the
//! new position.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use meridian_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::error::ToStatus;
use crate::lock::Unpoisoned;
use crate::peer::PeerClient;
use crate::{
    convert::write_from_pb,
    state::{Applied, Durable, NodeState},
    storage,
};
use meridian_core::{clock::now_us, links::delivery_time, region::RegionId, store::Write};

/// Most writes held in a link's delivery queue before the stream is left unread.
pub const MAX_QUEUED_WRITES: usize = 65_536;

enum SessionEnd {
    Shutdown,
    Partitioned,
    Resynced,
}

/// Pull `origin`'s log into this node until `shutdown`.
pub async fn pull_loop(
    state: Arc<NodeState>,
    origin: RegionId,
    client: PeerClient,
    shutdown: CancellationToken,
) {
    let mut links = state.links.subscribe();
    let mut resyncs = state.subscribe_resyncs();
    let mut backoff = Duration::from_millis(20);
    loop {
        while state.links.get(origin, state.region).partitioned {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = links.changed() => {}
            }
        }
        let result = session(&state, origin, &client, &mut links, &mut resyncs, &shutdown).await;
        set_connected(&state, origin, false);
        match result {
            Ok(SessionEnd::Shutdown) => return,
            Ok(SessionEnd::Partitioned) => {
                info!(
                    origin = state.regions.name(origin),
                    "link partitioned: holding replication back"
                );
                backoff = Duration::from_millis(20);
            }
            Ok(SessionEnd::Resynced) => {
                info!(
                    origin = state.regions.name(origin),
                    "resynced: pulling again from the new position"
                );
                backoff = Duration::from_millis(20);
            }
            Err(status) => {
                debug!(origin = state.regions.name(origin), %status, "replication stream failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Mark the stream up or down. The oldest pending commit time is kept when it goes down: those
/// writes are still not applied here (they will be pulled again), so the RPO lag keeps growing.
fn set_connected(state: &NodeState, origin: RegionId, connected: bool) {
    state.inbound(origin).stats.locked().connected = connected;
}

async fn session(
    state: &Arc<NodeState>,
    origin: RegionId,
    client: &PeerClient,
    links: &mut watch::Receiver<u64>,
    resyncs: &mut watch::Receiver<u64>,
    shutdown: &CancellationToken,
) -> Result<SessionEnd, tonic::Status> {
    // Seen before the position is read: a resync after this point ends the session.
    resyncs.borrow_and_update();
    let (after, generation) = state.pull_position(origin);
    let me = state.region_name().to_owned();
    let (ack_tx, ack_rx) = mpsc::channel(4);
    let origin_incarnation = state
        .inbound(origin)
        .stats
        .locked()
        .origin_incarnation
        .clone();
    let open = pb::PullRequest {
        region: me.clone(),
        after_seq: after,
        max_batch: state.opts.max_batch as u32,
        applied_seq: after,
        origin_incarnation,
        puller_incarnation: state.incarnation.to_string(),
        region_list: state.regions.names().join(","),
    };
    ack_tx.try_send(open).expect("fresh channel has room");
    let mut client = client.clone();
    let mut stream = tokio::select! {
        _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
        r = client.pull(ReceiverStream::new(ack_rx)) => r?.into_inner(),
    };
    set_connected(state, origin, true);
    let acks = spawn_acker(me.clone(), ack_tx);
    let mut queue: VecDeque<(u64, Arc<Write>)> = VecDeque::new();
    let mut prev_delivery = 0u64;
    loop {
        let next_due = queue.front().map(|(t, _)| *t);
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
            _ = links.changed() => {
                if state.links.get(origin, state.region).partitioned {
                    return Ok(SessionEnd::Partitioned);
                }
            }
            _ = resyncs.changed() => return Ok(SessionEnd::Resynced),
            _ = sleep_until_us(next_due.unwrap_or(0)), if next_due.is_some() => {
                let now = now_us();
                let mut due = Vec::new();
                while queue.front().is_some_and(|(t, _)| *t <= now) {
                    due.push(queue.pop_front().expect("front exists").1);
                }
                let durable = match state.apply_batch(origin, &due, generation) {
                    Applied::Resynced => return Ok(SessionEnd::Resynced),
                    Applied::Syncing(d) => Some(d),
                    Applied::Done => None,
                };
                if let Some(last) = due.last() {
                    // Acknowledged to the origin in order, each once it is durable here.
                    let _ = acks.send((last.seq, durable));
                }
                let oldest = queue.front().map_or(0, |(_, w)| w.commit_us);
                state.inbound(origin).stats.locked().oldest_pending_commit_us = oldest;
            }
            msg = stream.message(), if queue.len() < MAX_QUEUED_WRITES => {
                let Some(batch) = msg? else {
                    return Err(tonic::Status::unavailable("replication stream ended"));
                };
                if batch.reset {
                    info!(origin = state.regions.name(origin), "origin restarted with a new log; pulling it from the start");
                    queue.clear();
                    state.reset_position(origin);
                }
                state.inbound(origin).stats.locked().origin_incarnation = batch.incarnation.clone();
                let setting = state.links.get(origin, state.region);
                let lost = setting.loss > 0.0 && state.uniform() < setting.loss;
                let extra = if lost { setting.retransmit_timeout_us() } else { 0 };
                let mut writes = Vec::with_capacity(batch.writes.len());
                for record in batch.writes {
                    let write = match write_from_pb(&state.regions, record) {
                        Ok(w) if w.origin() == origin => w,
                        Ok(w) => return Err(state.refuse_from(origin, format!("write {} of region {} on {}'s stream", w.id, state.regions.name(w.origin()), state.regions.name(origin))).to_status()),
                        Err(e) => return Err(state.refuse_from(origin, format!("malformed write: {e}")).to_status()),
                    };
                    writes.push(write);
                }
                state.check_received(origin, &writes).to_status()?;
                for write in writes {
                    let at = delivery_time(write.commit_us, setting.delay_us(state.uniform()), extra, prev_delivery);
                    prev_delivery = at;
                    queue.push_back((at, write));
                }
                let mut s = state.inbound(origin).stats.locked();
                s.origin_head = s.origin_head.max(batch.head_seq);
                if s.oldest_pending_commit_us == 0 {
                    s.oldest_pending_commit_us = queue.front().map_or(0, |(_, w)| w.commit_us);
                }
            }
        }
    }
}

/// The session's acknowledger: sends `applied_seq` acks to the origin in order, each once its
/// batch is durable here (a storage failure stops the acks: the origin then sees this region
/// fall behind, which is the truth). Ends with the session (its sender is dropped).
fn spawn_acker(
    me: String,
    ack_tx: mpsc::Sender<pb::PullRequest>,
) -> mpsc::UnboundedSender<(u64, Option<Durable>)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Option<Durable>)>();
    tokio::spawn(async move {
        while let Some((seq, durable)) = rx.recv().await {
            if let Some(d) = durable
                && let Err(e) = storage::durable(d).await
            {
                tracing::error!(error = %e, "cannot persist replicated writes; no more acks");
                return;
            }
            let ack = pb::PullRequest {
                region: me.clone(),
                applied_seq: seq,
                ..Default::default()
            };
            if ack_tx.send(ack).await.is_err() {
                return; // the session is over
            }
        }
    });
    tx
}

async fn sleep_until_us(at_us: u64) {
    let now = now_us();
    if at_us > now {
        tokio::time::sleep(Duration::from_micros(at_us - now)).await;
    }
}
