//! Multi-Region strong consistency (DynamoDB's MRSC) in the node: the pure protocol
//! (`meridian_core::strong::Node`, whose module doc says why it is safe) behind a mutex, the
//! client calls that drive it, the messages peers send, and what the protocol's outcomes do to
//! the replica:
//! - a client write is *prepared* by the replica (checked, stamped, not logged) and proposed;
//!   once a second participant has committed it, it is logged at its origin — so it reaches
//!   the third region by ordinary replication — and the client gets its reply; if every other
//!   participant refused it, the client gets `ReplicatedWriteConflict` and nothing was written;
//!   if no quorum answered in time, `UNAVAILABLE`, and the write stays in doubt (the item
//!   refuses strong operations here) until its fate is learnt;
//! - a write a participant commits or learns is merged into its store at once, and made
//!   durable, with its ballot and fences, before the participant answers;
//! - a strong read asks the others and answers with the newest committed write.
//!
//! A region that started without its state (a new cluster, a memory-mode restart, a wiped
//! data directory) cannot tell a stale proposal from a current one, so it refuses every
//! proposal and answers reads as busy until it has copied every committed write from both
//! other participants ([`rejoin`]); the other two keep full service meanwhile. A region that
//! kept its state (a restart), or that every link to the others was cut from (a heal), takes
//! part in the protocol at once, but *catches up* before it serves writes and strong reads
//! again ([`catch_up`]): it applies the reachable peers' logs up to their heads and learns the
//! ballots of the items it missed, so that its first write of such an item builds on the
//! newest write instead of being refused as stale. Meanwhile they answer `UNAVAILABLE` (`no quorum: region X is catching
//! up ...`); eventual reads are served. The catch-up is bounded: should it not finish, a stale
//! proposal of the region's is still refused and teaches it the newer write.
//!
//! Lock order: the protocol's mutex, then the replica's. Nothing waits while holding either.
//! The catch-up's progress has a lock of its own, taken alone.

mod catch_up;
mod links;
mod range;
mod receive;
mod rejoin;
mod wire;

pub use catch_up::spawn_catch_up;
pub use links::{Outbox, spawn_senders};
pub use range::strong_range_read;
pub use rejoin::copy_chunks;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use meridian_core::{
    clock::now_us,
    region::RegionId,
    replica::{Committed, Condition, WriteOp},
    store::Write,
    strong::{self, Ballot, Participant, Refusal},
};
use meridian_proto::v1 as pb;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    lock::Unpoisoned,
    state::{Durable, NodeState},
};
use wire::NodeMsg;

type Key = Arc<str>;
type Protocol = strong::Node<Key, Arc<Write>>;

/// How a write that waited for its quorum ended.
enum WriteFate {
    /// Committed at a quorum and logged here (durable once this resolves).
    Committed(Committed, Option<Durable>),
    /// Every other participant refused it.
    Conflict,
}

/// How a strong read ended.
enum ReadFate {
    Done(Option<Arc<Write>>),
    Busy,
}

struct Inner {
    protocol: Protocol,
    writes: HashMap<(Key, Ballot), oneshot::Sender<WriteFate>>,
    reads: HashMap<u64, oneshot::Sender<ReadFate>>,
}

/// The node's strong-consistency state (present only in a strong cluster).
pub struct Strong {
    inner: Mutex<Inner>,
    /// Messages waiting for their link.
    pub(crate) outbox: Outbox,
    next_read: AtomicU64,
    /// Does this region take part? Not until a region that started without its state has
    /// copied the others' ([`rejoin`]).
    participating: AtomicBool,
    /// The copy: per region, batches queued before it are dropped; how far it is, in words.
    rejoin: rejoin::Rejoin,
    /// Catching up before serving again (see [`catch_up`]).
    catch_up: catch_up::CatchUp,
    /// Is this region the witness?
    pub witness: bool,
    /// Writes refused with `ReplicatedWriteConflict`.
    pub write_conflicts: AtomicU64,
    /// Writes and strong reads refused for want of a quorum.
    pub quorum_refusals: AtomicU64,
    /// Writes whose outcome was unknown when their reply went out.
    pub in_doubt_writes: AtomicU64,
}

impl std::fmt::Debug for Strong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strong")
            .field("witness", &self.witness)
            .finish_non_exhaustive()
    }
}

/// The participant index of region `r`.
fn participant(r: RegionId) -> Participant {
    u16::try_from(r.index()).expect("at most 65535 regions")
}

impl Strong {
    /// The state of region `me` among `n` regions; `fresh`: it starts without its state.
    pub fn new(me: RegionId, n: usize, witness: bool, fresh: bool) -> Self {
        let all: Vec<Participant> = (0..n)
            .map(|i| participant(RegionId::from_index(i)))
            .collect();
        let mut protocol = Protocol::new(participant(me), &all);
        // Above every ballot an earlier incarnation proposed (see the core's doc).
        protocol.set_ballot_floor(now_us());
        Self {
            inner: Mutex::new(Inner {
                protocol,
                writes: HashMap::new(),
                reads: HashMap::new(),
            }),
            outbox: Outbox::new(n),
            next_read: AtomicU64::new(1),
            participating: AtomicBool::new(!fresh),
            rejoin: rejoin::Rejoin::new(n),
            catch_up: catch_up::CatchUp::new(),
            witness,
            write_conflicts: AtomicU64::new(0),
            quorum_refusals: AtomicU64::new(0),
            in_doubt_writes: AtomicU64::new(0),
        }
    }

    /// Put back what storage kept of one item.
    pub fn restore(
        &self,
        key: &str,
        committed: Option<(Ballot, Arc<Write>)>,
        fences: Vec<(u16, u64)>,
    ) {
        self.inner
            .locked()
            .protocol
            .restore(Arc::from(key), committed, fences);
    }

    /// Did this region start without its state? Then it takes no part until it has copied
    /// the others' ([`rejoin`]). With its state, it catches up before it serves.
    pub fn set_fresh(&self, fresh: bool) {
        if fresh {
            self.set_rejoining();
        } else {
            self.participating.store(true, Ordering::Relaxed);
            self.catch_up.owe(catch_up::Why::Restart);
        }
    }

    /// Does this region take part in the protocol?
    pub fn participating(&self) -> bool {
        self.participating.load(Ordering::Relaxed)
    }
}

/// How long a write waits for a quorum, and a read for an answer: a few round trips to the
/// farthest peer, and never less than a second.
fn quorum_timeout(state: &NodeState) -> Duration {
    let worst_ms = state
        .peers()
        .map(|p| {
            let out = state.links.get(state.region, p);
            let back = state.links.get(p, state.region);
            out.latency_ms
                + out.jitter_ms
                + back.latency_ms
                + back.jitter_ms
                + if out.loss > 0.0 || back.loss > 0.0 {
                    (out.retransmit_timeout_us() + back.retransmit_timeout_us()) as f64 / 1000.0
                } else {
                    0.0
                }
        })
        .fold(0.0, f64::max);
    Duration::from_millis((3.0 * worst_ms) as u64 + 1000)
}

impl NodeState {
    fn strong_state(&self) -> Result<&Strong> {
        self.strong.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(
                "this cluster has eventual multi-Region consistency: strongly consistent reads need multi_region_consistency = \"strong\"".into(),
            )
        })
    }

    /// Why this region cannot serve a strong operation now, if it cannot: it is the witness,
    /// it lost its state, every link to the other participants is cut, or it is catching up.
    fn check_strong_service(&self, s: &Strong) -> Result<()> {
        self.refuse_if_witness()?;
        if !s.participating() {
            s.quorum_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable(format!(
                "no quorum: region {} started without its state and takes part once it has copied the committed writes of both other regions: {} (the other two regions serve)",
                self.region_name(),
                s.rejoining()
            )));
        }
        if let Some(why) = self.quorum_lost() {
            s.quorum_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable(format!("no quorum: {why}")));
        }
        if let Some(how) = self.catching_up() {
            s.quorum_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Unavailable(format!(
                "no quorum: region {} is catching up {how}",
                self.region_name()
            )));
        }
        Ok(())
    }

    /// The witness of a strong cluster serves no client call: `Err` saying so there.
    pub fn refuse_if_witness(&self) -> Result<()> {
        if self.strong.as_ref().is_some_and(|s| s.witness) {
            return Err(Error::FailedPrecondition(format!(
                "region {} is the witness of this strong-consistency cluster: it stores writes and counts for quorum, but serves no reads or writes",
                self.region_name()
            )));
        }
        Ok(())
    }

    /// Why no other participant can be reached (every link to them cut), if so.
    pub fn quorum_lost(&self) -> Option<String> {
        let cut: Vec<&str> = self
            .peers()
            .filter(|p| {
                self.links.get(self.region, *p).partitioned
                    || self.links.get(*p, self.region).partitioned
            })
            .map(|p| self.regions.name(p))
            .collect();
        (cut.len() == self.regions.len() - 1).then(|| {
            format!(
                "region {} cannot reach {} (partitioned)",
                self.region_name(),
                cut.join(" or ")
            )
        })
    }

    /// Queue `out` on the links; after `ticket` is durable when there is one.
    fn strong_send(self: &Arc<Self>, out: Vec<(Participant, NodeMsg)>, ticket: Option<u64>) {
        let Some(s) = self.strong.as_ref() else {
            return;
        };
        if out.is_empty() {
            return;
        }
        let msgs: Vec<(RegionId, pb::StrongMsg)> = out
            .iter()
            .map(|(to, m)| {
                (
                    RegionId::from_index(usize::from(*to)),
                    wire::to_pb(&self.regions, m),
                )
            })
            .collect();
        if ticket.is_none() || !self.durable() {
            for (to, m) in msgs {
                s.outbox.send(self, to, m);
            }
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if me.wait_durable(ticket).await.is_ok()
                && let Some(s) = me.strong.as_ref()
            {
                for (to, m) in msgs {
                    s.outbox.send(&me, to, m);
                }
            }
        });
    }

    /// A client write in a strong cluster: prepared here, proposed to the others, answered
    /// once a second participant has committed it.
    pub async fn strong_write(
        self: &Arc<Self>,
        key: &str,
        op: WriteOp,
        condition: Option<&Condition>,
        id: Option<Uuid>,
    ) -> Result<Committed> {
        let s = self.strong_state()?;
        self.check_strong_service(s)?;
        let key: Key = Arc::from(key);
        let (ballot, rx, out, new_value) = {
            let mut inner = s.inner.locked();
            if inner.protocol.busy(&key) {
                s.write_conflicts.fetch_add(1, Ordering::Relaxed);
                return Err(busy_error(&key, inner.protocol.in_doubt(&key).is_some()));
            }
            let (prepared, new_value) = self.replica().prepare(
                &key,
                op,
                condition,
                id.unwrap_or_else(Uuid::new_v4),
                now_us(),
            )?;
            let (ballot, out) = inner
                .protocol
                .write(key.clone(), Arc::new(prepared))
                .map_err(|r| busy_error(&key, r == Refusal::InDoubt))?;
            let (tx, rx) = oneshot::channel();
            inner.writes.insert((key.clone(), ballot), tx);
            (ballot, rx, out, new_value)
        };
        self.strong_send(out, None);
        match tokio::time::timeout(quorum_timeout(self), rx).await {
            Ok(Ok(WriteFate::Committed(mut c, durable))) => {
                self.await_logged(durable, c.write.seq).await?;
                c.new_value = new_value;
                Ok(c)
            }
            Ok(Ok(WriteFate::Conflict)) => {
                s.write_conflicts.fetch_add(1, Ordering::Relaxed);
                Err(Error::WriteConflict(format!(
                    "key {key:?} is being modified in another region; the write was not applied anywhere (retry it)"
                )))
            }
            Ok(Err(_)) | Err(_) => {
                let out = {
                    let mut inner = s.inner.locked();
                    inner.writes.remove(&(key.clone(), ballot));
                    inner.protocol.give_up(&key)
                };
                s.in_doubt_writes.fetch_add(1, Ordering::Relaxed);
                s.quorum_refusals.fetch_add(1, Ordering::Relaxed);
                self.strong_send(out, None);
                self.spawn_fate_queries(key.clone(), ballot);
                Err(Error::Unavailable(format!(
                    "no quorum: no other region answered the write of key {key:?} within {:?}; its outcome is unknown until one does (the key refuses strong operations here meanwhile)",
                    quorum_timeout(self)
                )))
            }
        }
    }

    /// Ask for the fate of an in-doubt write again and again until it is known.
    fn spawn_fate_queries(self: &Arc<Self>, key: Key, ballot: Ballot) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(quorum_timeout(&me)).await;
                let Some(s) = me.strong.as_ref() else { return };
                let out = {
                    let inner = s.inner.locked();
                    if inner.protocol.in_doubt(&key) != Some(ballot) {
                        return;
                    }
                    inner.protocol.query(&key, ballot)
                };
                me.strong_send(out, None);
            }
        });
    }

    /// A strongly consistent read: the newest write a quorum has committed.
    pub async fn strong_read(self: &Arc<Self>, key: &str) -> Result<Option<Arc<Write>>> {
        let s = self.strong_state()?;
        self.check_strong_service(s)?;
        let key: Key = Arc::from(key);
        let deadline = tokio::time::Instant::now() + quorum_timeout(self);
        loop {
            let id = s.next_read.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            let started = {
                let mut inner = s.inner.locked();
                match inner.protocol.read(key.clone(), id) {
                    Ok(out) => {
                        inner.reads.insert(id, tx);
                        Some(out)
                    }
                    Err(_) => None,
                }
            };
            let fate = match started {
                Some(out) => {
                    self.strong_send(out, None);
                    tokio::time::timeout_at(deadline, rx).await
                }
                // A write of the item is unfinished here: wait a little and ask again.
                None => Ok(Ok(ReadFate::Busy)),
            };
            match fate {
                // What the read learnt is in the replica already (`receive::settle_item`).
                Ok(Ok(ReadFate::Done(w))) => return Ok(w),
                Ok(Ok(ReadFate::Busy)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ => {
                    s.inner.locked().reads.remove(&id);
                    s.quorum_refusals.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::Unavailable(format!(
                        "no quorum: no other region answered a strong read of key {key:?} in time"
                    )));
                }
            }
        }
    }
}

fn busy_error(key: &str, in_doubt: bool) -> Error {
    if in_doubt {
        Error::Unavailable(format!(
            "no quorum: the last write of key {key:?} here is in doubt until another region answers for it"
        ))
    } else {
        Error::WriteConflict(format!(
            "key {key:?} has a write in flight in this region; the write was not applied (retry it)"
        ))
    }
}
