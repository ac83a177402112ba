//! The strong protocol's messages over emulated links: each message to a peer is held until
//! `now + latency ± jitter` of the link from this region (plus a retransmission timeout when
//! the link's loss rate drops it), in FIFO order, and a message on a partitioned link is
//! dropped — the protocol's timeouts and queries take it from there, as they would on a real
//! network. One sender task per peer keeps one `Replication/Strong` stream open and sends the
//! due messages in batches; a broken stream is opened again for the next batch.

use std::collections::VecDeque;

use meridian_core::{clock::now_us, links::delivery_time, region::RegionId};
use meridian_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::debug;

use crate::{lock::Unpoisoned, service::Node, state::NodeState};

/// A message, when it was queued and when it is due at the peer, µs.
pub struct Outgoing {
    queued_us: u64,
    due_us: u64,
    msg: pb::StrongMsg,
}

/// Where messages to each peer wait for their sender task.
#[derive(Debug)]
pub struct Outbox {
    tx: Vec<mpsc::UnboundedSender<Outgoing>>,
    rx: std::sync::Mutex<Vec<Option<mpsc::UnboundedReceiver<Outgoing>>>>,
    /// Per peer, the due time of the last message (FIFO).
    last_due: std::sync::Mutex<Vec<u64>>,
}

impl Outbox {
    /// Queues for `n` regions.
    pub fn new(n: usize) -> Self {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..n)
            .map(|_| {
                let (t, r) = mpsc::unbounded_channel();
                (t, Some(r))
            })
            .unzip();
        Self {
            tx,
            rx: std::sync::Mutex::new(rx),
            last_due: std::sync::Mutex::new(vec![0; n]),
        }
    }

    /// Queue `msg` for `to` over the emulated link; `false` when the link is partitioned and
    /// the message was dropped.
    pub fn send(&self, state: &NodeState, to: RegionId, msg: pb::StrongMsg) -> bool {
        let setting = state.links.get(state.region, to);
        if setting.partitioned {
            return false;
        }
        let lost = setting.loss > 0.0 && state.uniform() < setting.loss;
        let extra = if lost {
            setting.retransmit_timeout_us()
        } else {
            0
        };
        let delay = setting.delay_us(state.uniform());
        let queued_us = now_us();
        let due_us = {
            let mut last = self.last_due.locked();
            let due = delivery_time(queued_us, delay, extra, last[to.index()]);
            last[to.index()] = due;
            due
        };
        self.tx[to.index()]
            .send(Outgoing {
                queued_us,
                due_us,
                msg,
            })
            .is_ok()
    }
}

/// Start one sender task per peer of `node` (once).
pub fn spawn_senders(node: &Node, tasks: &mut tokio::task::JoinSet<()>) {
    let Some(strong) = node.state.strong.as_ref() else {
        return;
    };
    let mut rx = strong.outbox.rx.locked();
    for peer in node.state.peers() {
        if let Some(r) = rx[peer.index()].take() {
            tasks.spawn(sender(node.clone(), peer, r));
        }
    }
}

/// Most messages per batch.
const MAX_BATCH: usize = 512;

async fn sender(node: Node, peer: RegionId, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut queue: VecDeque<Outgoing> = VecDeque::new();
    let mut stream: Option<mpsc::Sender<pb::StrongBatch>> = None;
    let from = node.state.region_name().to_owned();
    loop {
        while let Ok(m) = rx.try_recv() {
            queue.push_back(m);
        }
        let now = now_us();
        while queue.front().is_some_and(|m| m.due_us <= now) {
            let mut msgs = Vec::new();
            let mut first_queued_us = u64::MAX;
            while msgs.len() < MAX_BATCH && queue.front().is_some_and(|m| m.due_us <= now) {
                let m = queue.pop_front().expect("front exists");
                first_queued_us = first_queued_us.min(m.queued_us);
                msgs.push(m.msg);
            }
            let batch = pb::StrongBatch {
                from: from.clone(),
                msgs,
                first_queued_us,
            };
            deliver(&node, peer, &mut stream, batch);
        }
        let next_due = queue.front().map(|m| m.due_us);
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            m = rx.recv() => match m {
                Some(m) => queue.push_back(m),
                None => return,
            },
            _ = meridian_timer::sleep_until_us(next_due.unwrap_or(0)), if next_due.is_some() => {}
        }
    }
}

/// Send `batch` on the open stream to `peer`, opening one if there is none (or it broke). A
/// batch that cannot go out is dropped: the protocol treats it as lost.
fn deliver(
    node: &Node,
    peer: RegionId,
    stream: &mut Option<mpsc::Sender<pb::StrongBatch>>,
    batch: pb::StrongBatch,
) {
    let open = |node: &Node| {
        let (tx, rx) = mpsc::channel::<pb::StrongBatch>(256);
        let mut client = node.replication_client(peer);
        let name = node.state.regions.name(peer).to_owned();
        tokio::spawn(async move {
            if let Err(e) = client.strong(ReceiverStream::new(rx)).await {
                debug!(peer = name, error = %e, "strong stream ended");
            }
        });
        tx
    };
    let tx = stream.get_or_insert_with(|| open(node));
    if let Err(mpsc::error::TrySendError::Closed(batch)) = tx.try_send(batch) {
        let tx = stream.insert(open(node));
        let _ = tx.try_send(batch);
    }
}
