//! Multi-Region strong consistency (DynamoDB's MRSC), per item, as a pure state machine: three
//! participants (replicas, or two replicas and a witness); a write is acknowledged only once a
//! second participant has committed it; a write that meets another region's unfinished write of
//! the same item fails with a conflict instead of being lost; a strong read asks one other
//! participant and returns the greatest committed write it sees.
//!
//! # Protocol (one item)
//! Every participant holds the item's greatest committed write `(ballot, value)`; ballots are
//! `(counter, origin)`, ordered lexicographically, and an origin's ballots only grow.
//! - **Write** at origin O: refused at once (conflict) if O has an unfinished write of the item.
//!   Otherwise O picks a ballot above every ballot it knows, remembers the write as *pending*
//!   (`base`: the committed ballot it builds on) and sends `Propose` to the other participants.
//! - **Propose** at P: P *refuses* if it has an unfinished write of its own for the item (the
//!   conflict), if it knows a committed ballot newer than the proposal's base (the proposal is
//!   stale), or if it has *fenced* the ballot (it promised never to take it). Otherwise P
//!   commits the write and accepts. A refusal fences the ballot: a refused proposal is never
//!   committed there later.
//! - O **commits** on the first acceptance, acknowledges the client and tells every participant
//!   (`Learn`). If every other participant refused, the write failed (`Conflict`) and was
//!   committed nowhere. If neither answer comes in time, the outcome is unknown: the write stays
//!   *in doubt* at O (O serves no strong operation on the item) until O learns its fate with
//!   `Query`: a participant that committed it says so; one that did not fences it and says so.
//! - **Strong read** at R: refused while R has an unfinished write of the item; otherwise R asks
//!   the others and answers with the greater of its own and the first answer from a participant
//!   that has no unfinished write of the item. R learns every committed write an answer
//!   carries (as it does from a refusal): it is committed at the answerer, so its origin
//!   commits it (a participant accepted it), and R's next write of the item builds on it.
//!
//! # Why it holds
//! - *A strong read sees every write acknowledged before it began.* An acknowledged write W is
//!   committed at its origin and at one other participant. A read's quorum is the reader and one
//!   answering participant: two sets of two among three participants always meet, so one of the
//!   read's pair has W (or a newer write) committed.
//! - *Reads never go back in time.* A write committed at one participant while its origin does
//!   not know yet is visible to some quorums and not others — unless every participant that could
//!   miss it is barred from answering: the origin, which has the write pending or in doubt, does
//!   not answer strong reads for the item until its fate is known, and once known the write is
//!   committed at two participants. The third participant alone cannot make a read quorum with
//!   the origin barred, so it pairs with the participant that has W.
//! - *No acknowledged write is lost when a participant dies.* It is committed at two of three;
//!   any write after it builds on it (a proposal with an older base is refused by whoever has it,
//!   and with one participant dead the two left are exactly the pair that must agree).
//! - *A conflicting write was committed nowhere.* Every other participant refused it, and each
//!   refusal fences the ballot.
//! - *Two concurrent writes of one item cannot both succeed on the same base*: each origin
//!   refuses the other's proposal (its own is unfinished), so each needs the third participant,
//!   which commits the first it receives and refuses the second as stale.
//!
//! The shell makes committed writes and fences durable before it answers, carries the messages
//! over the links (with their lag and faults), and turns the events into replies.

mod item;
mod msg;

pub use msg::{Event, Msg, Refusal};

use std::collections::{BTreeMap, BTreeSet};

use item::{Item, Pending};

/// A participant: a region's index among the three.
pub type Participant = u16;

/// A write's place in an item's history: `(counter, origin)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    /// Grows with every write of the item.
    pub counter: u64,
    /// The participant that proposed it (breaks ties).
    pub origin: Participant,
}

/// `Learn` of a committed write, to every one of `peers`.
fn learn_all<K: Clone, V: Clone>(
    peers: &[Participant],
    key: &K,
    ballot: Ballot,
    value: &V,
) -> Out<K, V> {
    peers
        .iter()
        .map(|p| {
            (
                *p,
                Msg::Learn {
                    key: key.clone(),
                    ballot,
                    value: value.clone(),
                },
            )
        })
        .collect()
}

/// One participant's state of every item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node<K: Ord, V> {
    me: Participant,
    peers: Vec<Participant>,
    items: BTreeMap<K, Item<V>>,
    /// Open strong reads: the best committed write seen so far, and how many answered busy.
    reads: BTreeMap<u64, (Option<(Ballot, V)>, usize)>,
    /// The lowest counter this incarnation proposes at (see [`Node::set_ballot_floor`]).
    ballot_floor: u64,
}

/// Messages to send: `(destination, message)`.
pub type Out<K, V> = Vec<(Participant, Msg<K, V>)>;

impl<K: Ord + Clone, V: Clone + PartialEq> Node<K, V> {
    /// Participant `me` among `all`.
    pub fn new(me: Participant, all: &[Participant]) -> Self {
        Self {
            me,
            peers: all.iter().copied().filter(|p| *p != me).collect(),
            items: BTreeMap::new(),
            reads: BTreeMap::new(),
            ballot_floor: 0,
        }
    }

    fn item(&mut self, key: &K) -> &mut Item<V> {
        self.items.entry(key.clone()).or_default()
    }

    /// The committed write of `key` here (an eventually consistent read).
    pub fn committed<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&(Ballot, V)>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.items.get(key).and_then(|i| i.committed.as_ref())
    }

    /// Every item's committed write here, in key order: what a participant that lost its state
    /// copies from both others before it takes part again. Any write acknowledged anywhere is
    /// committed at two participants, so at one of the two it copies from at least; learning
    /// the union puts it back at two.
    pub fn committed_items(&self) -> impl Iterator<Item = (&K, &(Ballot, V))> {
        self.committed_from(None)
    }

    /// [`Node::committed_items`] from key `from` on (all with `None`), in key order: what a
    /// strongly consistent range read (a Query or Scan) learns from another participant.
    pub fn committed_from(&self, from: Option<&K>) -> impl Iterator<Item = (&K, &(Ballot, V))> {
        let range = match from {
            Some(k) => self.items.range(k.clone()..),
            None => self.items.range(..),
        };
        range.filter_map(|(k, i)| i.committed.as_ref().map(|c| (k, c)))
    }

    /// What must survive a restart of `key` here: its committed ballot and its fences (the
    /// committed value itself the shell keeps in its store).
    pub fn durable_state(&self, key: &K) -> (Option<Ballot>, Vec<(Participant, u64)>) {
        self.items.get(key).map_or((None, Vec::new()), |i| {
            (
                i.committed_ballot(),
                i.fences.iter().map(|(p, c)| (*p, *c)).collect(),
            )
        })
    }

    /// Put back what [`Node::durable_state`] kept of `key`, with its committed value.
    pub fn restore(
        &mut self,
        key: K,
        committed: Option<(Ballot, V)>,
        fences: impl IntoIterator<Item = (Participant, u64)>,
    ) {
        let item = self.item(&key);
        if let Some((b, v)) = committed {
            item.learn(b, v);
        }
        for (origin, counter) in fences {
            item.fence(Ballot { counter, origin });
            item.counter = item.counter.max(counter);
        }
    }

    /// Does `key` have an unfinished write originated here?
    pub fn busy(&self, key: &K) -> bool {
        self.items.get(key).is_some_and(|i| i.pending.is_some())
    }

    /// The value of `key`'s unfinished write originated here, if any.
    pub fn pending_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.items
            .get(key)
            .and_then(|i| i.pending.as_ref())
            .map(|p| &p.value)
    }

    /// The ballot of `key`'s in-doubt write here, if any (the shell asks for its fate again,
    /// with [`Node::query`], until a quorum has answered).
    pub fn in_doubt(&self, key: &K) -> Option<Ballot> {
        self.items
            .get(key)
            .and_then(|i| i.pending.as_ref())
            .filter(|p| p.in_doubt)
            .map(|p| p.ballot)
    }

    /// The lowest ballot counter this incarnation proposes at. A participant restarted with
    /// its committed state and fences, but not the counters of proposals it had in flight,
    /// would otherwise reuse one: its next write could get the ballot of a write the others
    /// committed while it was down, and be taken for it. The shell sets the floor to the
    /// machine time (µs) at which the node started — above every counter an earlier
    /// incarnation can have used, since no item sees more than one write per microsecond —
    /// as it does for causal dots.
    pub fn set_ballot_floor(&mut self, floor: u64) {
        self.ballot_floor = floor;
    }

    /// A client writes `value` to `key` here.
    pub fn write(&mut self, key: K, value: V) -> Result<(Ballot, Out<K, V>), Refusal> {
        let me = self.me;
        let floor = self.ballot_floor;
        let item = self.item(&key);
        if let Some(p) = &item.pending {
            return Err(p.refusal());
        }
        item.counter = (item.counter + 1).max(floor);
        let ballot = Ballot {
            counter: item.counter,
            origin: me,
        };
        let base = item.committed_ballot();
        item.pending = Some(Pending {
            ballot,
            base,
            value: value.clone(),
            refused: BTreeSet::new(),
            in_doubt: false,
            not_here: BTreeSet::new(),
        });
        let out = self
            .peers
            .iter()
            .map(|p| {
                (
                    *p,
                    Msg::Propose {
                        key: key.clone(),
                        ballot,
                        base,
                        value: value.clone(),
                    },
                )
            })
            .collect();
        Ok((ballot, out))
    }

    /// A client reads `key` strongly here (read `id`).
    pub fn read(&mut self, key: K, id: u64) -> Result<Out<K, V>, Refusal> {
        let item = self.item(&key);
        if let Some(p) = &item.pending {
            return Err(p.refusal());
        }
        let own = item.committed.clone();
        self.reads.insert(id, (own, 0));
        Ok(self
            .peers
            .iter()
            .map(|p| {
                (
                    *p,
                    Msg::Read {
                        key: key.clone(),
                        id,
                    },
                )
            })
            .collect())
    }

    /// No quorum answered the pending write of `key` in time: it is in doubt (its outcome is
    /// unknown to the client); ask the others for its fate.
    pub fn give_up(&mut self, key: &K) -> Out<K, V> {
        let Some(p) = self.item(key).pending.as_mut().filter(|p| !p.in_doubt) else {
            return Vec::new();
        };
        p.in_doubt = true;
        let ballot = p.ballot;
        self.query(key, ballot)
    }

    /// Ask again for the fate of the in-doubt write of `key` (peers that did not answer).
    pub fn query(&self, key: &K, ballot: Ballot) -> Out<K, V> {
        self.peers
            .iter()
            .map(|p| {
                (
                    *p,
                    Msg::Query {
                        key: key.clone(),
                        ballot,
                    },
                )
            })
            .collect()
    }

    /// Handle `msg` from `from`.
    pub fn on_msg(&mut self, from: Participant, msg: Msg<K, V>) -> (Out<K, V>, Vec<Event<K, V>>) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        match msg {
            Msg::Propose {
                key,
                ballot,
                base,
                value,
            } => {
                let item = self.item(&key);
                let committed = item.committed_ballot();
                // The same proposal again is accepted again; another write under a ballot
                // already committed here never is.
                let same = item
                    .committed
                    .as_ref()
                    .is_some_and(|(c, v)| *c == ballot && *v == value);
                let accept = item.pending.is_none()
                    && !item.fenced(ballot)
                    && (same
                        || committed.is_none_or(|c| c != ballot && base.is_some_and(|b| c <= b)));
                if accept {
                    item.learn(ballot, value);
                    out.push((from, Msg::Accepted { key, ballot }));
                } else {
                    item.counter = item.counter.max(ballot.counter);
                    if committed != Some(ballot) {
                        item.fence(ballot);
                    }
                    let committed = item.committed.clone();
                    out.push((
                        from,
                        Msg::Refused {
                            key,
                            ballot,
                            committed,
                        },
                    ));
                }
            }
            Msg::Accepted { key, ballot } => {
                let item = self.item(&key);
                if let Some(p) = item.pending.take_if(|p| p.ballot == ballot) {
                    let was_in_doubt = p.in_doubt;
                    item.learn(ballot, p.value.clone());
                    out.extend(learn_all(&self.peers, &key, ballot, &p.value));
                    events.push(if was_in_doubt {
                        Event::Resolved(key, ballot)
                    } else {
                        Event::Committed(key, ballot)
                    });
                }
            }
            Msg::Refused {
                key,
                ballot,
                committed,
            } => {
                let peers = self.peers.len();
                let item = self.item(&key);
                if let Some((b, v)) = committed {
                    item.learn(b, v);
                }
                if let Some(p) = item.pending.as_mut().filter(|p| p.ballot == ballot) {
                    p.refused.insert(from);
                    // A refusal fences the ballot there: it counts as "not committed here".
                    p.not_here.insert(from);
                    if p.refused.len() == peers || p.not_here.len() == peers {
                        let p = item.pending.take().expect("pending");
                        events.push(if p.in_doubt {
                            Event::Resolved(key, ballot)
                        } else {
                            Event::Conflict(key, ballot)
                        });
                    }
                }
            }
            Msg::Learn { key, ballot, value } => {
                self.item(&key).learn(ballot, value);
            }
            Msg::Query { key, ballot } => {
                let item = self.item(&key);
                if item.committed_ballot() != Some(ballot) {
                    item.fence(ballot);
                }
                let committed = item.committed.clone();
                out.push((
                    from,
                    Msg::Fate {
                        key,
                        ballot,
                        committed,
                    },
                ));
            }
            Msg::Fate {
                key,
                ballot,
                committed,
            } => {
                let peers = self.peers.len();
                let item = self.item(&key);
                let Some(p) = item.pending.as_mut().filter(|p| p.ballot == ballot) else {
                    if let Some((b, v)) = committed {
                        item.learn(b, v);
                    }
                    return (out, events);
                };
                match committed {
                    // Committed there (or a newer write built on what is committed there): the
                    // write's fate no longer matters to anyone reading at a quorum.
                    Some((b, v)) if b >= ballot => {
                        let value = p.value.clone();
                        item.pending = None;
                        if b == ballot {
                            item.learn(b, value.clone());
                            out.extend(learn_all(&self.peers, &key, ballot, &value));
                        } else {
                            item.learn(b, v);
                        }
                        events.push(Event::Resolved(key, ballot));
                    }
                    other => {
                        p.not_here.insert(from);
                        let done = p.not_here.len() == peers;
                        if let Some((b, v)) = other {
                            item.learn(b, v);
                        }
                        if done {
                            item.pending = None;
                            events.push(Event::Resolved(key, ballot));
                        }
                    }
                }
            }
            Msg::Read { key, id } => {
                let item = self.item(&key);
                out.push((
                    from,
                    Msg::ReadReply {
                        key,
                        id,
                        committed: item.committed.clone(),
                        busy: item.pending.is_some(),
                    },
                ));
            }
            Msg::ReadReply {
                key,
                id,
                committed,
                busy,
            } => {
                // What is committed there is committed: learnt here as from a refusal, so
                // what the reader evaluates next (a condition, a write's base) is this new.
                if let Some((b, v)) = &committed {
                    self.item(&key).learn(*b, v.clone());
                }
                let peers = self.peers.len();
                if let Some((own, busy_count)) = self.reads.get_mut(&id) {
                    if busy {
                        *busy_count += 1;
                        if *busy_count == peers {
                            self.reads.remove(&id);
                            events.push(Event::ReadBusy(id));
                        }
                    } else {
                        let best = match (own.take(), committed) {
                            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
                            (a, b) => a.or(b),
                        };
                        self.reads.remove(&id);
                        events.push(Event::ReadDone(id, best.map(|(_, v)| v)));
                    }
                }
            }
        }
        (out, events)
    }
}

#[cfg(test)]
mod tests;
