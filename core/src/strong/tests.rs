//! Strong-consistency protocol tests: table-driven scenarios of one item at three participants,
//! with messages delivered by hand (in any order the test chooses), and a property test over
//! random interleavings. The exhaustive check of linearizability is `core/tests/strong_model.rs`.

use proptest::prelude::*;

use super::*;

type N = Node<&'static str, u32>;

/// Three participants and the messages in flight.
struct Net {
    nodes: Vec<N>,
    inflight: Vec<(Participant, Participant, Msg<&'static str, u32>)>,
    events: Vec<(Participant, Event<&'static str, u32>)>,
}

impl Net {
    fn new() -> Self {
        Self {
            nodes: (0..3).map(|i| Node::new(i, &[0, 1, 2])).collect(),
            inflight: Vec::new(),
            events: Vec::new(),
        }
    }

    fn send(&mut self, from: Participant, out: Out<&'static str, u32>) {
        for (to, m) in out {
            self.inflight.push((from, to, m));
        }
    }

    fn write(&mut self, at: Participant, v: u32) -> Result<Ballot, Refusal> {
        let (b, out) = self.nodes[at as usize].write("k", v)?;
        self.send(at, out);
        Ok(b)
    }

    fn read(&mut self, at: Participant, id: u64) -> Result<(), Refusal> {
        let out = self.nodes[at as usize].read("k", id)?;
        self.send(at, out);
        Ok(())
    }

    /// Deliver message `i` of those in flight.
    fn deliver(&mut self, i: usize) {
        let (from, to, m) = self.inflight.remove(i);
        let (out, events) = self.nodes[to as usize].on_msg(from, m);
        self.send(to, out);
        self.events.extend(events.into_iter().map(|e| (to, e)));
    }

    /// Deliver the first message matching `pick`.
    fn deliver_where(
        &mut self,
        pick: impl Fn(Participant, Participant, &Msg<&'static str, u32>) -> bool,
    ) {
        let i = self
            .inflight
            .iter()
            .position(|(f, t, m)| pick(*f, *t, m))
            .expect("such a message is in flight");
        self.deliver(i);
    }

    /// Drop every message to or from `p` (a partition or a crash, for what is in flight).
    fn drop_involving(&mut self, p: Participant) {
        self.inflight.retain(|(f, t, _)| *f != p && *t != p);
    }

    fn settle(&mut self) {
        while !self.inflight.is_empty() {
            self.deliver(0);
        }
    }

    /// Deliver everything, losing whatever is sent to or from `p` (cut off for the while).
    fn settle_without(&mut self, p: Participant) {
        loop {
            self.drop_involving(p);
            if self.inflight.is_empty() {
                return;
            }
            self.deliver(0);
        }
    }

    fn committed(&self, p: Participant) -> Option<(Ballot, u32)> {
        self.nodes[p as usize].committed(&"k").cloned()
    }

    fn has(&self, p: Participant, e: &Event<&'static str, u32>) -> bool {
        self.events.iter().any(|(q, x)| *q == p && x == e)
    }
}

fn propose_to(
    to: Participant,
) -> impl Fn(Participant, Participant, &Msg<&'static str, u32>) -> bool {
    move |_, t, m| t == to && matches!(m, Msg::Propose { .. })
}

#[test]
fn a_write_is_committed_once_a_second_participant_has_it() {
    let mut n = Net::new();
    let b = n.write(0, 7).unwrap();
    assert_eq!(
        n.committed(0),
        None,
        "not before a second participant has it"
    );
    n.deliver_where(propose_to(1));
    assert_eq!(n.committed(1), Some((b, 7)), "the acceptor committed it");
    n.deliver_where(|_, t, m| t == 0 && matches!(m, Msg::Accepted { .. }));
    assert!(n.has(0, &Event::Committed("k", b)));
    n.settle();
    for p in 0..3 {
        assert_eq!(n.committed(p), Some((b, 7)), "participant {p}");
    }
}

#[test]
fn of_two_concurrent_writes_exactly_one_commits_and_the_other_is_a_conflict() {
    for first_at_third in [0, 1] {
        let mut n = Net::new();
        let a = n.write(0, 1).unwrap();
        let b = n.write(1, 2).unwrap();
        // The third participant takes whichever proposal it receives first.
        n.deliver_where(move |f, t, m| {
            f == first_at_third && t == 2 && matches!(m, Msg::Propose { .. })
        });
        n.settle();
        let (winner, loser) = if first_at_third == 0 { (a, b) } else { (b, a) };
        let (wp, lp) = (winner.origin, loser.origin);
        assert!(n.has(wp, &Event::Committed("k", winner)), "{:?}", n.events);
        assert!(n.has(lp, &Event::Conflict("k", loser)), "{:?}", n.events);
        for p in 0..3 {
            assert_eq!(
                n.committed(p).map(|c| c.0),
                Some(winner),
                "nothing of the loser anywhere"
            );
        }
    }
}

/// A participant that lost its state copies every committed write from both others
/// ([`Node::committed_items`], learnt) before it takes part again: an acknowledged write only
/// it and the origin had is back at two participants, so a strong read with the origin gone
/// still returns it. Without the copy the read misses it (the case the copy exists for).
#[test]
fn a_participant_that_lost_its_state_copies_the_committed_writes_back_from_both_others() {
    for copy in [true, false] {
        let mut n = Net::new();
        let b = n.write(0, 9).unwrap();
        n.deliver_where(propose_to(1));
        n.deliver_where(|_, t, m| t == 0 && matches!(m, Msg::Accepted { .. }));
        assert!(n.has(0, &Event::Committed("k", b)), "acknowledged");
        // Participant 2 never hears of it; participant 1 loses its state.
        n.inflight.clear();
        n.nodes[1] = Node::new(1, &[0, 1, 2]);
        if copy {
            for from in [0, 2] {
                let items: Vec<_> = n.nodes[from as usize]
                    .committed_items()
                    .map(|(k, (b, v))| (*k, *b, *v))
                    .collect();
                for (key, ballot, value) in items {
                    let (out, events) = n.nodes[1].on_msg(from, Msg::Learn { key, ballot, value });
                    assert!(out.is_empty() && events.is_empty());
                }
            }
        }
        // The origin is gone: a strong read at 2 pairs with 1.
        n.read(2, 1).unwrap();
        n.settle_without(0);
        let read = n.events.iter().find_map(|(p, e)| match e {
            Event::ReadDone(1, v) if *p == 2 => Some(*v),
            _ => None,
        });
        let expected = if copy { Some(9) } else { None };
        assert_eq!(read, Some(expected), "copy={copy}: {:?}", n.events);
    }
}

#[test]
fn a_region_with_an_unfinished_write_refuses_another_of_the_same_item() {
    let mut n = Net::new();
    n.write(0, 1).unwrap();
    assert_eq!(n.write(0, 2), Err(Refusal::Busy));
    assert_eq!(n.read(0, 1), Err(Refusal::Busy));
}

#[test]
fn a_strong_read_sees_an_acknowledged_write_from_any_region() {
    let mut n = Net::new();
    let b = n.write(0, 5).unwrap();
    n.deliver_where(propose_to(1));
    n.deliver_where(|_, t, m| t == 0 && matches!(m, Msg::Accepted { .. }));
    assert!(n.has(0, &Event::Committed("k", b)));
    // Participant 2 has not learnt it yet; its strong read asks a quorum.
    assert_eq!(n.committed(2), None);
    n.inflight
        .retain(|(_, t, m)| !(*t == 2 && matches!(m, Msg::Propose { .. } | Msg::Learn { .. })));
    for answerer in [0, 1] {
        let id = u64::from(answerer) + 10;
        n.read(2, id).unwrap();
        n.deliver_where(move |_, t, m| {
            t == answerer && matches!(m, Msg::Read { id: i, .. } if *i == id)
        });
        n.deliver_where(move |f, t, m| {
            f == answerer && t == 2 && matches!(m, Msg::ReadReply { .. })
        });
        assert!(
            n.has(2, &Event::ReadDone(id, Some(5))),
            "answered by {answerer}: {:?}",
            n.events
        );
    }
}

#[test]
fn a_strong_read_teaches_the_reader_the_committed_write_it_found() {
    let mut n = Net::new();
    let b = n.write(0, 5).unwrap();
    n.deliver_where(propose_to(1));
    n.deliver_where(|_, t, m| t == 0 && matches!(m, Msg::Accepted { .. }));
    n.inflight
        .retain(|(_, t, m)| !(*t == 2 && matches!(m, Msg::Propose { .. } | Msg::Learn { .. })));
    assert_eq!(n.committed(2), None, "premise: 2 never heard of it");
    n.read(2, 1).unwrap();
    n.deliver_where(|_, t, m| t == 1 && matches!(m, Msg::Read { .. }));
    n.deliver_where(|f, t, m| f == 1 && t == 2 && matches!(m, Msg::ReadReply { .. }));
    assert_eq!(n.committed(2), Some((b, 5)), "learnt from the reply");
    // Its next write builds on it: the others accept it rather than refuse it as stale.
    let next = n.write(2, 6).unwrap();
    assert!(next > b);
    n.deliver_where(|f, t, m| f == 2 && t == 1 && matches!(m, Msg::Propose { .. }));
    n.deliver_where(|_, t, m| t == 2 && matches!(m, Msg::Accepted { .. }));
    assert!(n.has(2, &Event::Committed("k", next)), "{:?}", n.events);
}

#[test]
fn an_origin_whose_write_is_in_doubt_answers_no_strong_read_until_its_fate_is_known() {
    let mut n = Net::new();
    let b = n.write(0, 9).unwrap();
    // Participant 1 commits it; the acceptance never reaches the origin; 2 never hears of it.
    n.deliver_where(propose_to(1));
    n.inflight.clear();
    let query = n.nodes[0].give_up(&"k");
    n.send(0, query);
    assert_eq!(n.read(0, 1), Err(Refusal::InDoubt));
    assert_eq!(n.write(0, 10), Err(Refusal::InDoubt));
    // A strong read at 2 that reaches the origin gets "busy" from it: it must not pair with 2.
    n.read(2, 2).unwrap();
    n.deliver_where(|_, t, m| t == 0 && matches!(m, Msg::Read { .. }));
    n.deliver_where(|f, t, m| f == 0 && t == 2 && matches!(m, Msg::ReadReply { .. }));
    assert!(
        !n.events
            .iter()
            .any(|(_, e)| matches!(e, Event::ReadDone(2, _))),
        "no answer from a busy pair"
    );
    // The fate arrives from 1: committed there, so committed at two; the origin serves again.
    n.deliver_where(|_, t, m| t == 1 && matches!(m, Msg::Query { .. }));
    n.deliver_where(|f, t, m| f == 1 && t == 0 && matches!(m, Msg::Fate { .. }));
    assert!(n.has(0, &Event::Resolved("k", b)));
    assert_eq!(n.committed(0), Some((b, 9)));
    n.read(0, 3).unwrap();
    n.settle();
    assert!(n.has(0, &Event::ReadDone(3, Some(9))));
}

#[test]
fn an_in_doubt_write_no_one_committed_is_fenced_and_dropped() {
    let mut n = Net::new();
    let b = n.write(0, 9).unwrap();
    n.inflight.clear(); // both proposals lost
    let query = n.nodes[0].give_up(&"k");
    n.send(0, query);
    n.settle();
    assert!(n.has(0, &Event::Resolved("k", b)));
    assert!((0..3).all(|p| n.committed(p).is_none()));
    // A late copy of the proposal is refused where it was fenced.
    let (out, _) = n.nodes[1].on_msg(
        0,
        Msg::Propose {
            key: "k",
            ballot: b,
            base: None,
            value: 9,
        },
    );
    assert!(matches!(out[0].1, Msg::Refused { .. }), "{out:?}");
    assert_eq!(n.committed(1), None);
}

#[test]
fn with_one_participant_gone_the_other_two_keep_writing_and_build_on_each_other() {
    let mut n = Net::new();
    let mut last = None;
    for (i, at) in [0, 1, 0, 1].into_iter().enumerate() {
        let b = n.write(at, i as u32).unwrap();
        n.settle_without(2);
        assert!(
            n.has(at, &Event::Committed("k", b)),
            "write {i}: {:?}",
            n.events
        );
        assert!(last < Some(b));
        last = Some(b);
    }
    assert_eq!(n.committed(0), n.committed(1));
}

#[test]
fn a_stale_proposal_is_refused_and_its_origin_learns_the_newer_write() {
    let mut n = Net::new();
    let b1 = n.write(1, 1).unwrap();
    n.settle_without(0); // 0 never hears of b1
    assert!(n.has(1, &Event::Committed("k", b1)));
    let b2 = n.write(0, 2).unwrap();
    n.settle();
    assert!(n.has(0, &Event::Conflict("k", b2)), "{:?}", n.events);
    assert_eq!(
        n.committed(0),
        Some((b1, 1)),
        "the refusals carried the newer write"
    );
    let b3 = n.write(0, 3).unwrap();
    n.settle();
    assert!(n.has(0, &Event::Committed("k", b3)) && b3 > b1);
}

proptest! {
    /// Random interleavings of three writers, with lost quorum messages: once everything is
    /// delivered and every unfinished write settled, all participants agree, no write that got a
    /// conflict is the one kept, and nothing overtook the last acknowledged write.
    #[test]
    fn committed_writes_persist_and_conflicts_leave_no_trace(
        script in proptest::collection::vec((0u16..3, 0usize..8, proptest::bool::weighted(0.1)), 1..60)
    ) {
        let mut n = Net::new();
        let mut v = 0;
        for (at, pick, lose) in script {
            if n.inflight.is_empty() || pick == 0 {
                v += 1;
                let _ = n.write(at, v);
            } else {
                let i = pick % n.inflight.len();
                if lose && !matches!(n.inflight[i].2, Msg::Learn { .. }) {
                    // A lost quorum message (committed writes themselves reach every region
                    // through replication, which retransmits): its sender gives up on an
                    // unanswered write.
                    let (from, _, m) = n.inflight.remove(i);
                    if matches!(m, Msg::Propose { .. }) {
                        let q = n.nodes[from as usize].give_up(&"k");
                        n.send(from, q);
                    }
                } else {
                    n.deliver(i);
                }
            }
        }
        n.settle();
        // Settle every unfinished write (no more losses): give up on those still waiting, and ask
        // again for the fate of those in doubt.
        for p in 0..3u16 {
            let node = &mut n.nodes[p as usize];
            let q = match node.in_doubt(&"k") {
                Some(b) => node.query(&"k", b),
                None if node.busy(&"k") => node.give_up(&"k"),
                None => Vec::new(),
            };
            n.send(p, q);
        }
        n.settle();
        prop_assert!((0..3).all(|p| !n.nodes[p].busy(&"k")), "every unfinished write is settled");
        let finals: Vec<_> = (0..3).map(|p| n.committed(p)).collect();
        prop_assert!(finals.windows(2).all(|w| w[0] == w[1]), "{finals:?}");
        for (_, e) in &n.events {
            if let Event::Conflict(_, b) = e {
                prop_assert!(finals[0].is_none_or(|(c, _)| c != *b), "a conflicted write won: {b:?}");
            }
        }
        let acked: Vec<Ballot> = n.events.iter().filter_map(|(_, e)| match e { Event::Committed(_, b) => Some(*b), _ => None }).collect();
        if let Some(max) = acked.iter().max() {
            prop_assert!(finals[0].is_some_and(|(c, _)| c >= *max), "an acknowledged write was overtaken by nothing: {finals:?} vs {max:?}");
        }
    }
}

/// A participant restarted from what it made durable (committed ballot, fences) refuses a
/// stale proposal and a fenced ballot as before it stopped.
#[test]
fn a_participant_restored_from_its_durable_state_refuses_as_before() {
    let mut n = Net::new();
    let b = n.write(0, 7).unwrap();
    n.settle();
    // Participant 2 fences a ballot of participant 1 (an in-doubt query it answered).
    let fenced = Ballot {
        counter: b.counter + 5,
        origin: 1,
    };
    let (out, _) = n.nodes[2].on_msg(
        1,
        Msg::Query {
            key: "k",
            ballot: fenced,
        },
    );
    assert_eq!(out.len(), 1);
    let (ballot, fences) = n.nodes[2].durable_state(&"k");
    assert_eq!(ballot, Some(b));
    let mut restarted = N::new(2, &[0, 1, 2]);
    restarted.restore("k", Some((b, 7)), fences);
    assert_eq!(restarted.committed(&"k"), Some(&(b, 7)));
    let refused =
        |out: &Out<&'static str, u32>| matches!(out.as_slice(), [(_, Msg::Refused { .. })]);
    let (out, _) = restarted.on_msg(
        1,
        Msg::Propose {
            key: "k",
            ballot: fenced,
            base: Some(b),
            value: 9,
        },
    );
    assert!(refused(&out), "the fence survived: {out:?}");
    let (out, _) = restarted.on_msg(
        1,
        Msg::Propose {
            key: "k",
            ballot: Ballot {
                counter: b.counter + 9,
                origin: 1,
            },
            base: None,
            value: 9,
        },
    );
    assert!(refused(&out), "a stale base is refused: {out:?}");
    // Its own next write builds on what it restored, above every fence it holds.
    let (own, _) = restarted.write("k", 11).unwrap();
    assert!(own.counter > fenced.counter);
}

/// A participant restarted without the counter of a write it had in flight (the others
/// committed it meanwhile) proposes above its ballot floor, so its next write is never taken
/// for that one; and a different write under an already committed ballot is refused.
#[test]
fn a_restarted_origin_never_reuses_the_ballot_of_its_orphaned_write() {
    let mut n = Net::new();
    let orphan = n.write(2, 5).unwrap();
    n.deliver_where(propose_to(0));
    n.deliver_where(propose_to(1));
    assert_eq!(n.committed(0), Some((orphan, 5)));
    // 2 restarts with what it made durable (nothing for this item) and a floor.
    let mut restarted = N::new(2, &[0, 1, 2]);
    restarted.set_ballot_floor(1_000);
    n.nodes[2] = restarted;
    n.inflight.clear();
    let next = n.write(2, 6).unwrap();
    assert!(next.counter >= 1_000 && next != orphan, "{next:?}");
    // Without the floor the same ballot comes back: the others refuse a different value at it.
    let (out, _) = n.nodes[0].on_msg(
        2,
        Msg::Propose {
            key: "k",
            ballot: orphan,
            base: None,
            value: 6,
        },
    );
    assert!(
        matches!(out.as_slice(), [(_, Msg::Refused { .. })]),
        "{out:?}"
    );
    // The same proposal delivered twice is still accepted.
    let (out, _) = n.nodes[0].on_msg(
        2,
        Msg::Propose {
            key: "k",
            ballot: orphan,
            base: None,
            value: 5,
        },
    );
    assert!(
        matches!(out.as_slice(), [(_, Msg::Accepted { .. })]),
        "{out:?}"
    );
}
