//! Catching up: a region of a strong cluster that may have missed writes — every link to the
//! other participants was cut, or it restarted with its durable state — serves no write and no
//! strong read until it has caught up with the peers it can reach:
//! 1. it asks each reachable peer for its log head (`Replication/Head`), for up to a quorum
//!    timeout; a peer that does not answer in time is left out;
//! 2. it waits until its pull streams have applied each answering peer's own writes up to that
//!    head (every write committed at a quorum is logged at its origin, so this brings every such
//!    write the answering peers made);
//! 3. for each item whose current write here is not the protocol's committed one (it came by
//!    replication, which carries values but not ballots), it asks the peers for the item's
//!    committed write with a protocol `Read`; the protocol learns the answer, ballot included.
//!
//! Then it serves. Meanwhile writes and strong reads answer `UNAVAILABLE` (`no quorum: region X
//! is catching up ...`, saying from whom and how far), eventual reads are served, and
//! `Admin/Status` shows the same words as its quorum state. A region that started without its
//! state first copies the others' (`rejoin.rs`), then catches up like this.
//!
//! Why step 3: the protocol knows an item's committed ballot only from protocol messages, which
//! a region away did not get. Without it, the region's first write of an item it missed builds
//! on the older ballot and the others refuse it as stale (a `ReplicatedWriteConflict`).
//!
//! Why it is safe: it only adds knowledge the protocol already trusts, and decides nothing by
//! timing. A read's reply carries the answerer's committed write — what a refusal carries too —
//! and the protocol learns it from either (`meridian_core::strong`), which only ever raises an
//! item's committed write. The region keeps taking part in the protocol all along
//! (it accepts and refuses proposals as before); only its own clients wait. A catch-up that
//! cannot finish (a peer silent, a stream stuck) gives up after a bounded time, says so in the
//! log and serves with what it has: a proposal built on something older is then refused by
//! whoever knows better, and teaches this region — the safety net the protocol always had.
//! Nothing is counted as lost.

use std::time::Duration;

use futures::future::join_all;
use meridian_core::{
    region::{RegionId, Regions},
    store::Write,
};
use meridian_proto::v1 as pb;
use tokio::{sync::oneshot, time::Instant};
use tracing::{debug, info, warn};

use super::{Key, ReadFate, Strong, quorum_timeout};
use crate::{lock::Unpoisoned, service::Node, state::NodeState};

/// A whole catch-up gives up after this many quorum timeouts.
const BOUND_IN_QUORUM_TIMEOUTS: u32 = 10;
/// Items asked about at once.
const ITEMS_AT_ONCE: usize = 1024;
/// Pause before asking a peer whose `Head` call failed (it may be starting) again.
const HEAD_RETRY: Duration = Duration::from_millis(50);

/// Why a region catches up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// It started with its durable state.
    Restart,
    /// Every link to the other participants was cut.
    CutOff,
    /// It started without its state and copied the others' (see `rejoin.rs`).
    Rejoin,
}

impl Why {
    fn words(self) -> &'static str {
        match self {
            Why::Restart => "after a restart",
            Why::CutOff => "after being cut off",
            Why::Rejoin => "after copying the others' state",
        }
    }
}

/// How far a catch-up is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Serving: caught up, or never away.
    Serving,
    /// Owed: it begins as soon as a peer is reachable.
    Owed,
    /// Asking these peers for their log heads.
    Heads(Vec<RegionId>),
    /// Applying each peer's log up to the head it gave.
    Pulling(Vec<(RegionId, u64)>),
    /// Asking these peers for the committed writes of `items` items.
    Learning { items: usize, from: Vec<RegionId> },
}

#[derive(Debug)]
struct Progress {
    phase: Phase,
    why: Why,
    /// Bumped whenever a catch-up becomes owed: a catch-up begun before is void.
    epoch: u64,
}

/// A region's catch-up state (its own lock, never held with another one nor across an await).
#[derive(Debug)]
pub(crate) struct CatchUp(std::sync::Mutex<Progress>);

impl CatchUp {
    pub(crate) fn new() -> Self {
        Self(std::sync::Mutex::new(Progress {
            phase: Phase::Serving,
            why: Why::CutOff,
            epoch: 0,
        }))
    }

    /// A catch-up is owed, for `why`.
    pub(crate) fn owe(&self, why: Why) {
        let mut p = self.0.locked();
        p.phase = Phase::Owed;
        p.why = why;
        p.epoch += 1;
    }

    /// The epoch and reason of an owed catch-up, if one is.
    fn owed(&self) -> Option<(u64, Why)> {
        let p = self.0.locked();
        (p.phase == Phase::Owed).then_some((p.epoch, p.why))
    }

    /// Move the catch-up of `epoch` to `phase`; `false` when a newer one is owed.
    fn advance(&self, epoch: u64, phase: Phase) -> bool {
        let mut p = self.0.locked();
        if p.epoch != epoch {
            return false;
        }
        p.phase = phase;
        true
    }

    fn now(&self) -> (Phase, Why) {
        let p = self.0.locked();
        (p.phase.clone(), p.why)
    }
}

impl NodeState {
    /// After a change of the link table: a region cut off from every other participant owes a
    /// catch-up (it misses writes from now on). Called by whatever changes the table.
    pub fn note_links(&self) {
        if let Some(s) = &self.strong
            && self.quorum_lost().is_some()
        {
            s.catch_up.owe(Why::CutOff);
        }
    }

    /// How far this region is in catching up, in words (`None`: it serves).
    pub(crate) fn catching_up(&self) -> Option<String> {
        let (phase, why) = self.strong.as_ref()?.catch_up.now();
        if phase == Phase::Serving {
            return None;
        }
        describe(&phase, why, &self.regions, &self.reachable_peers(), |p| {
            self.applied_from(p)
        })
    }

    /// The peers no partition separates from this region (either way).
    fn reachable_peers(&self) -> Vec<RegionId> {
        self.peers()
            .filter(|p| {
                !self.links.get(self.region, *p).partitioned
                    && !self.links.get(*p, self.region).partitioned
            })
            .collect()
    }
}

/// `a`, `a and b`, `a, b and c`.
fn names(regions: &Regions, ps: &[RegionId]) -> String {
    let n: Vec<&str> = ps.iter().map(|p| regions.name(*p)).collect();
    match n.split_last() {
        None => "no one".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn heads(regions: &Regions, ps: &[RegionId]) -> String {
    let whose = if ps.len() == 1 {
        "its log head"
    } else {
        "their log heads"
    };
    format!("{} for {whose}", names(regions, ps))
}

/// A catch-up in `phase` in words, `applied(p)` being how far `p`'s log is applied here
/// (`None`: serving).
fn describe(
    phase: &Phase,
    why: Why,
    regions: &Regions,
    reachable: &[RegionId],
    applied: impl Fn(RegionId) -> u64,
) -> Option<String> {
    let how = match phase {
        Phase::Serving => return None,
        Phase::Owed if reachable.is_empty() => "waiting for a path to another region".to_owned(),
        Phase::Owed => format!("about to ask {}", heads(regions, reachable)),
        Phase::Heads(ps) => format!("asking {}", heads(regions, ps)),
        Phase::Pulling(targets) => {
            let each: Vec<String> = targets
                .iter()
                .map(|(p, head)| {
                    format!(
                        "{}'s to {} of {head}",
                        regions.name(*p),
                        applied(*p).min(*head)
                    )
                })
                .collect();
            format!("applying the others' logs: {}", each.join(", "))
        }
        Phase::Learning { items, from } => format!(
            "learning from {} the committed writes of {items} items it missed",
            names(regions, from)
        ),
    };
    Some(format!("{}: {how}", why.words()))
}

/// Has every peer's log been applied here up to the head it gave?
fn caught_up(targets: &[(RegionId, u64)], applied: impl Fn(RegionId) -> u64) -> bool {
    targets.iter().all(|(p, head)| applied(*p) >= *head)
}

/// Is the item's `current` write here other than the protocol's committed one (so its ballot
/// is unknown here)?
fn stale(committed: Option<&Write>, current: &Write) -> bool {
    committed.is_none_or(|c| c.id != current.id || c.version != current.version)
}

/// Start the catch-up task of `node` (a strong cluster only): one task for the node's life.
pub fn spawn_catch_up(node: &Node, tasks: &mut tokio::task::JoinSet<()>) {
    if node.state.strong.is_some() {
        tasks.spawn(run(node.clone()));
    }
}

/// Catch up whenever one is owed and a peer is reachable, until shutdown.
async fn run(node: Node) {
    let state = node.state.clone();
    let Some(s) = state.strong.as_ref() else {
        return;
    };
    let mut links = state.links.subscribe();
    loop {
        state.note_links();
        if !s.participating() {
            if super::rejoin::rejoin(&node, s).await.is_err() {
                return;
            }
            continue;
        }
        if s.participating()
            && state.quorum_lost().is_none()
            && let Some((epoch, why)) = s.catch_up.owed()
        {
            let stopped = catch_up(&node, s, epoch, why).await;
            if stopped.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = node.shutdown.cancelled() => return,
            _ = s.rejoin.owed.notified() => {}
            r = links.changed() => if r.is_err() { return },
        }
    }
}

/// Why a wait ended early.
enum Stop {
    Shutdown,
    /// The region was cut off again: the catch-up starts over at the heal.
    Cut,
    TimedOut,
}

/// `fut`, unless the node shuts down, the region is cut off again, or `deadline` passes.
async fn within<T>(
    node: &Node,
    deadline: Instant,
    fut: impl Future<Output = T>,
) -> Result<T, Stop> {
    let mut links = node.state.links.subscribe();
    if node.state.quorum_lost().is_some() {
        return Err(Stop::Cut);
    }
    tokio::pin!(fut);
    loop {
        tokio::select! {
            v = &mut fut => return Ok(v),
            _ = node.shutdown.cancelled() => return Err(Stop::Shutdown),
            _ = tokio::time::sleep_until(deadline) => return Err(Stop::TimedOut),
            r = links.changed() => {
                if r.is_err() {
                    return Err(Stop::Shutdown);
                }
                if node.state.quorum_lost().is_some() {
                    return Err(Stop::Cut);
                }
            }
        }
    }
}

/// One catch-up (of `epoch`); `Err` at shutdown.
async fn catch_up(node: &Node, s: &Strong, epoch: u64, why: Why) -> Result<(), ()> {
    let state = &node.state;
    let started = Instant::now();
    let qt = quorum_timeout(state);
    let deadline = started + qt * BOUND_IN_QUORUM_TIMEOUTS;
    let peers = state.reachable_peers();
    info!(
        why = why.words(),
        peers = names(&state.regions, &peers),
        "catching up before serving writes and strong reads"
    );
    let end = |stop: Stop, what: &str| match stop {
        Stop::Shutdown => Err(()),
        Stop::Cut => {
            state.note_links();
            info!("cut off again while catching up; catching up after the heal");
            Ok(())
        }
        Stop::TimedOut => {
            warn!(
                after = ?started.elapsed(),
                at = what,
                "catch-up did not finish in time; serving with what this region has (the others refuse a write built on anything older, and teach it the newer write)"
            );
            s.catch_up.advance(epoch, Phase::Serving);
            Ok(())
        }
    };

    // 1. The heads of the reachable peers.
    if !s.catch_up.advance(epoch, Phase::Heads(peers.clone())) {
        return Ok(());
    }
    let asked = join_all(peers.iter().map(|p| head_of(node, *p, qt)));
    let heads = match within(node, deadline, asked).await {
        Ok(h) => h,
        Err(stop) => return end(stop, "asking for log heads"),
    };
    let targets: Vec<(RegionId, u64)> = peers
        .iter()
        .zip(heads)
        .filter_map(|(p, h)| h.map(|h| (*p, h)))
        .collect();
    if targets.len() < peers.len() {
        warn!(
            silent = names(
                &state.regions,
                &peers
                    .iter()
                    .filter(|p| !targets.iter().any(|(t, _)| t == *p))
                    .copied()
                    .collect::<Vec<_>>()
            ),
            within = ?qt,
            "no log head from some peers; catching up from the others"
        );
    }

    // 2. Their logs applied up to those heads.
    if !s.catch_up.advance(epoch, Phase::Pulling(targets.clone())) {
        return Ok(());
    }
    let pulled = async {
        let mut marks: Vec<_> = targets
            .iter()
            .map(|(p, _)| state.inbound(*p).applied.subscribe())
            .collect();
        while !caught_up(&targets, |p| state.applied_from(p)) {
            // Any mark moving (subscribed before the check: a move in between is not missed).
            let moved = marks.iter_mut().map(|m| Box::pin(m.changed()));
            let _ = futures::future::select_all(moved).await;
        }
    };
    if let Err(stop) = within(node, deadline, pulled).await {
        return end(stop, "applying the peers' logs");
    }

    // 3. The ballots of the items whose newer write came by replication.
    let missed = stale_items(state, s);
    let from: Vec<RegionId> = targets.iter().map(|(p, _)| *p).collect();
    if !missed.is_empty() && !from.is_empty() {
        let items = missed.len();
        if !s.catch_up.advance(epoch, Phase::Learning { items, from }) {
            return Ok(());
        }
        for chunk in missed.chunks(ITEMS_AT_ONCE) {
            let (ids, replies) = ask(state, s, chunk);
            let round = (Instant::now() + qt).min(deadline);
            let answered = within(node, round, join_all(replies)).await;
            let mut inner = s.inner.locked();
            for id in ids {
                inner.reads.remove(&id);
            }
            drop(inner);
            if let Err(stop) = answered {
                return end(stop, "learning the committed writes of missed items");
            }
        }
    }
    if s.catch_up.advance(epoch, Phase::Serving) {
        info!(
            after = ?started.elapsed(),
            logs = ?targets
                .iter()
                .map(|(p, head)| format!("{} to {head}", state.regions.name(*p)))
                .collect::<Vec<_>>(),
            items_asked = missed.len(),
            "caught up: serving writes and strong reads"
        );
    }
    Ok(())
}

/// `peer`'s log head, asked again while the call fails, for at most `limit`.
async fn head_of(node: &Node, peer: RegionId, limit: Duration) -> Option<u64> {
    let mut client = node.replication_client(peer);
    let ask = async {
        loop {
            match client.head(pb::HeadRequest {}).await {
                Ok(reply) => return reply.into_inner().head_seq,
                Err(e) => {
                    debug!(peer = node.state.regions.name(peer), error = %e, "no log head yet");
                    tokio::time::sleep(HEAD_RETRY).await;
                }
            }
        }
    };
    tokio::time::timeout(limit, ask).await.ok()
}

/// The items whose current write here is not the protocol's committed one.
fn stale_items(state: &NodeState, s: &Strong) -> Vec<Key> {
    let inner = s.inner.locked();
    let core = state.replica();
    core.store()
        .iter()
        .filter(|w| {
            let committed = inner.protocol.committed(w.key()).map(|(_, v)| &**v);
            stale(committed, w)
        })
        .map(|w| Key::from(w.key()))
        .collect()
}

/// Send a protocol read of each of `keys` (but items with a write unfinished here); the read
/// ids, and the replies to wait for.
fn ask(
    state: &std::sync::Arc<NodeState>,
    s: &Strong,
    keys: &[Key],
) -> (Vec<u64>, Vec<oneshot::Receiver<ReadFate>>) {
    let (mut ids, mut replies, mut out) = (Vec::new(), Vec::new(), Vec::new());
    {
        let mut inner = s.inner.locked();
        for key in keys {
            let id = s
                .next_read
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(o) = inner.protocol.read(key.clone(), id) {
                let (tx, rx) = oneshot::channel();
                inner.reads.insert(id, tx);
                out.extend(o);
                ids.push(id);
                replies.push(rx);
            }
        }
    }
    state.strong_send(out, None);
    (ids, replies)
}

#[cfg(test)]
mod tests;
