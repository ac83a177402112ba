//! Taking part after starting without state: a region of a strong cluster that starts without
//! its state — a new cluster, a memory-mode restart, a wiped data directory — copies every
//! committed write from **both** other participants (`Replication/StrongState`) before it
//! takes part in the protocol. Meanwhile it refuses every proposal and answers reads as busy
//! (the other two keep full service), and its clients get `UNAVAILABLE` saying how far the
//! copy is. Once it takes part it catches up like a restarted region (`catch_up.rs`) before it
//! serves its own clients. In a new cluster the copies are empty and the wait is the time the
//! three nodes take to start.
//!
//! Why every fresh region copies, not only one that knows it lost its state: it cannot know.
//! A peer that never heard from an earlier incarnation cannot tell it either, and an earlier
//! incarnation may have committed writes.
//!
//! Why both: an acknowledged write is committed at two participants. If this region was one
//! of them, the write may now be committed at only one other — either of the two — so a copy
//! from one peer alone could miss it, and a later quorum of this region and the peer that
//! misses it would not see it. The union of both copies puts every acknowledged write back at
//! two participants. So such a region stays out while a peer is unreachable. A region that is
//! copying answers a copy too, with what it has: it accepted nothing in this incarnation, so
//! that is only what it copied (two regions without their state at once are beyond what any
//! copy can repair).
//!
//! Why messages queued before a copy are dropped: the lost incarnation may have refused
//! (fenced) a proposal that is still on its way here, and this incarnation, not knowing the
//! fence, would take it. So each copy carries the time it was taken by its sender's clock, the
//! sender stamps each batch with when its oldest message was queued (same clock), and once a
//! region takes part it drops batches queued before the copy (the protocol treats them as
//! lost). Everything committed at the sender before that time is in the copy; everything the
//! sender does after it arrives. The other direction needs nothing: the lost incarnation's
//! own unsent messages died with its process (links are emulated at the sender).
//!
//! A durable region remembers that a copy is owed (`Op::StrongRejoining`) from the moment its
//! directory is created until it takes part, so a crash in between does not restart it as a
//! region that kept its state.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use meridian_core::{clock::now_us, region::RegionId, store::Write, strong::Ballot};
use meridian_proto::v1 as pb;
use tracing::{debug, info, warn};

use super::{Key, Strong, catch_up::Why, wire};
use crate::{
    error::{Error, Result},
    lock::Unpoisoned,
    service::Node,
    state::NodeState,
    storage::Op,
};

/// Pause before asking a peer whose copy failed (it may be down or starting) again.
const RETRY: Duration = Duration::from_millis(200);
/// Committed writes per chunk of a copy.
const CHUNK: usize = 512;
/// A copy that takes longer than this is abandoned and asked for again.
const COPY_LIMIT: Duration = Duration::from_secs(60);

/// A region's copy state.
#[derive(Debug)]
pub(super) struct Rejoin {
    /// Per region: batches it queued before this (its clock, µs) are dropped.
    barrier: Vec<AtomicU64>,
    /// How far the copy is, in words.
    words: Mutex<String>,
    /// Wakes the catch-up task when a copy becomes owed.
    pub(super) owed: tokio::sync::Notify,
}

impl Rejoin {
    pub(super) fn new(n: usize) -> Self {
        Self {
            barrier: (0..n).map(|_| AtomicU64::new(0)).collect(),
            words: Mutex::new("about to copy the committed writes of both other regions".into()),
            owed: tokio::sync::Notify::new(),
        }
    }
}

impl Strong {
    /// This region holds none of its state (it started without it, or a copy was owed and
    /// not finished when it stopped): it copies the others' before it takes part.
    pub fn set_rejoining(&self) {
        self.participating.store(false, Ordering::Relaxed);
        self.rejoin.owed.notify_one();
    }

    /// How far the copy is, in words.
    pub fn rejoining(&self) -> String {
        self.rejoin.words.locked().clone()
    }

    /// May a batch from `from`, whose oldest message was queued at `first_queued_us` by its
    /// clock, be taken? Not when it was queued before the copy this region took part with.
    pub fn admits(&self, from: RegionId, first_queued_us: u64) -> bool {
        first_queued_us >= self.rejoin.barrier[from.index()].load(Ordering::Relaxed)
    }

    fn set_words(&self, words: String) {
        *self.rejoin.words.locked() = words;
    }

    /// Both copies are in (`taken`: each peer's copy time): take part, then catch up.
    fn rejoined(&self, taken: &[(RegionId, u64)]) {
        for (p, t) in taken {
            self.rejoin.barrier[p.index()].store(*t, Ordering::Relaxed);
        }
        self.catch_up.owe(Why::Rejoin);
        self.participating.store(true, Ordering::Relaxed);
    }
}

impl NodeState {
    /// The serving side of a copy: when it was taken (this region's clock) and the committed
    /// write of every item whose key starts with `prefix`, once durable here. Refused across a
    /// partition.
    pub async fn strong_copy_for(
        &self,
        asker: RegionId,
        prefix: &str,
    ) -> Result<(u64, Vec<(Key, Ballot, Arc<Write>)>)> {
        let s = self.strong_state()?;
        if self.links.get(self.region, asker).partitioned
            || self.links.get(asker, self.region).partitioned
        {
            return Err(Error::Unavailable(format!(
                "region {} is partitioned from {}",
                self.region_name(),
                self.regions.name(asker)
            )));
        }
        let taken = now_us();
        let (items, ticket) = {
            let inner = s.inner.locked();
            let from: Key = Arc::from(prefix);
            let items = inner
                .protocol
                .committed_from(Some(&from))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, (b, v))| (k.clone(), *b, v.clone()))
                .collect();
            (items, self.durability_ticket())
        };
        self.wait_durable(ticket).await?;
        Ok((taken, items))
    }
}

/// A copy as chunks of `Learn` messages (made one at a time), the last one flagged.
pub fn copy_chunks<'a>(
    state: &'a NodeState,
    taken_us: u64,
    items: &'a [(Key, Ballot, Arc<Write>)],
) -> impl Iterator<Item = pb::StrongStateChunk> + 'a {
    let n = items.len().div_ceil(CHUNK).max(1);
    (0..n).map(move |i| {
        let part = &items[(i * CHUNK).min(items.len())..((i + 1) * CHUNK).min(items.len())];
        pb::StrongStateChunk {
            items: part
                .iter()
                .map(|(key, ballot, value)| {
                    wire::to_pb(
                        &state.regions,
                        &super::NodeMsg::Learn {
                            key: key.clone(),
                            ballot: *ballot,
                            value: value.clone(),
                        },
                    )
                })
                .collect(),
            taken_us,
            last: i + 1 == n,
        }
    })
}

/// Copy from both peers (as long as it takes), then take part. `Err` at shutdown.
pub(super) async fn rejoin(node: &Node, s: &Strong) -> std::result::Result<(), ()> {
    let state = &node.state;
    let peers: Vec<RegionId> = state.peers().collect();
    info!(
        "started without its state: copying the committed writes of both other regions before taking part"
    );
    persisted(state, true).await;
    let mut links = state.links.subscribe();
    let mut taken: Vec<(RegionId, u64)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    loop {
        let missing: Vec<RegionId> = peers
            .iter()
            .filter(|p| !taken.iter().any(|(t, _)| t == *p))
            .copied()
            .collect();
        if missing.is_empty() {
            break;
        }
        let done: Vec<&str> = taken.iter().map(|(p, _)| state.regions.name(*p)).collect();
        let waiting: Vec<&str> = missing.iter().map(|p| state.regions.name(*p)).collect();
        s.set_words(format!(
            "copying the committed writes of {}{}{}",
            waiting.join(" and "),
            if done.is_empty() {
                String::new()
            } else {
                format!(" (done: {})", done.join(", "))
            },
            if failures.is_empty() {
                String::new()
            } else {
                format!("; last failure: {}", failures.join("; "))
            }
        ));
        failures.clear();
        for p in missing {
            match tokio::time::timeout(COPY_LIMIT, copy_from(node, p)).await {
                Ok(Ok((t, n))) => {
                    debug!(peer = state.regions.name(p), items = n, "copied");
                    taken.push((p, t));
                }
                Ok(Err(e)) => failures.push(format!("{}: {e}", state.regions.name(p))),
                Err(_) => failures.push(format!(
                    "{}: no complete copy within {COPY_LIMIT:?}",
                    state.regions.name(p)
                )),
            }
        }
        if taken.len() < peers.len() {
            tokio::select! {
                _ = node.shutdown.cancelled() => return Err(()),
                _ = links.changed() => {}
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    }
    // What was copied is on disk before this region answers anything with it.
    if state.wait_durable(state.durability_ticket()).await.is_err() {
        warn!("the copied state could not be made durable; asking for it again");
        return Ok(());
    }
    persisted(state, false).await;
    s.rejoined(&taken);
    info!(
        copies = ?taken.iter().map(|(p, t)| format!("{} at {t}", state.regions.name(*p))).collect::<Vec<_>>(),
        "copied the others' state: taking part in strong consistency (catching up before serving)"
    );
    Ok(())
}

/// Record durably that a copy is owed (`true`) or done.
async fn persisted(state: &NodeState, owed: bool) {
    if let Some(d) = state.persist(vec![Op::StrongRejoining(owed)]) {
        let _ = d.await;
    }
}

/// Copy `peer`'s committed writes into this region; when the copy was taken by its clock, and
/// how many writes it held.
async fn copy_from(node: &Node, peer: RegionId) -> Result<(u64, usize)> {
    let state = &node.state;
    if state.links.get(state.region, peer).partitioned
        || state.links.get(peer, state.region).partitioned
    {
        return Err(Error::Unavailable("partitioned".into()));
    }
    let mut client = node.replication_client(peer);
    let mut stream = client
        .strong_state(pb::StrongStateRequest {
            region: state.region_name().to_owned(),
            prefix: String::new(),
        })
        .await
        .map_err(|e| Error::Unavailable(e.message().to_owned()))?
        .into_inner();
    let mut n = 0;
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|e| Error::Unavailable(e.message().to_owned()))?
    {
        n += chunk.items.len();
        // Learnt as the protocol learns any committed write: checked, applied, made durable.
        state.strong_receive(peer, chunk.items)?;
        if chunk.last {
            return Ok((chunk.taken_us, n));
        }
    }
    Err(Error::Unavailable(
        "the copy ended before its last chunk".into(),
    ))
}
