//! A model check of the strong-consistency protocol (`meridian_core::strong`) with stateright:
//! three participants wrapping the pure state machine, clients that write then read, every
//! interleaving of message deliveries explored breadth-first, and a linearizability tester on
//! the history of client operations. A write that meets a conflict never answers its client
//! (the tester then lets it take effect or not; that a conflicted write leaves no trace is the
//! property test in `core/src/strong/tests.rs`).

use std::borrow::Cow;

use meridian_core::strong::{Event, Msg, Node, Participant};
use stateright::{
    Checker, Expectation, Model,
    actor::{
        Actor, ActorModel, Id, Network, Out,
        register::{RegisterActor, RegisterMsg},
    },
    semantics::{LinearizabilityTester, register::Register},
    util::HashableHashMap,
};

type Value = char;
type Internal = Msg<u8, Value>;
type M = RegisterMsg<u64, Value, Internal>;

/// The one item every client writes and reads.
const KEY: u8 = 0;
const SERVERS: usize = 3;

#[derive(Clone)]
struct Server;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    node: Node<u8, Value>,
    /// Client writes waiting for their commit: ballot counter and origin → (client, request).
    writes: HashableHashMap<(u64, u16), (Id, u64)>,
    /// Client reads waiting: read id → (client, request).
    reads: HashableHashMap<u64, (Id, u64)>,
}

fn participant(id: Id) -> Participant {
    usize::from(id) as Participant
}

impl Actor for Server {
    type Msg = M;
    type State = State;
    type Timer = ();
    type Random = ();
    type Storage = ();

    fn on_start(&self, id: Id, _: &Option<()>, _: &mut Out<Self>) -> State {
        let all: Vec<Participant> = (0..SERVERS as Participant).collect();
        State {
            node: Node::new(participant(id), &all),
            writes: HashableHashMap::default(),
            reads: HashableHashMap::default(),
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<State>, src: Id, msg: M, o: &mut Out<Self>) {
        let s = state.to_mut();
        let send = |o: &mut Out<Self>, out: Vec<(Participant, Internal)>| {
            for (to, m) in out {
                o.send(Id::from(usize::from(to)), RegisterMsg::Internal(m));
            }
        };
        match msg {
            RegisterMsg::Put(req, v) => {
                if let Ok((b, out)) = s.node.write(KEY, v) {
                    s.writes.insert((b.counter, b.origin), (src, req));
                    send(o, out);
                }
            }
            RegisterMsg::Get(req) => {
                let id = (usize::from(src) as u64) << 32 | req;
                if let Ok(out) = s.node.read(KEY, id) {
                    s.reads.insert(id, (src, req));
                    send(o, out);
                }
            }
            RegisterMsg::Internal(m) => {
                let (out, events) = s.node.on_msg(participant(src), m);
                send(o, out);
                for e in events {
                    match e {
                        Event::Committed(_, b) => {
                            if let Some((client, req)) = s.writes.remove(&(b.counter, b.origin)) {
                                o.send(client, RegisterMsg::PutOk(req));
                            }
                        }
                        Event::ReadDone(id, v) => {
                            if let Some((client, req)) = s.reads.remove(&id) {
                                o.send(client, RegisterMsg::GetOk(req, v.unwrap_or_default()));
                            }
                        }
                        Event::Conflict(..) | Event::ReadBusy(_) | Event::Resolved(..) => {}
                    }
                }
            }
            RegisterMsg::PutOk(_) | RegisterMsg::GetOk(..) => {}
        }
    }
}

fn model(
    clients: usize,
    puts: usize,
) -> ActorModel<RegisterActor<Server>, (), LinearizabilityTester<Id, Register<Value>>> {
    ActorModel::new((), LinearizabilityTester::new(Register(Value::default())))
        .actors((0..SERVERS).map(|_| RegisterActor::Server(Server)))
        .actors((0..clients).map(|_| RegisterActor::Client {
            put_count: puts,
            server_count: SERVERS,
        }))
        .init_network(Network::new_unordered_nonduplicating([]))
        .property(Expectation::Always, "linearizable", |_, state| {
            state.history.serialized_history().is_some()
        })
        .property(
            Expectation::Sometimes,
            "a write is read back",
            |_, state| {
                state.network.iter_deliverable().any(
                    |env| matches!(env.msg, RegisterMsg::GetOk(_, v) if *v != Value::default()),
                )
            },
        )
        .record_msg_in(RegisterMsg::record_returns)
        .record_msg_out(RegisterMsg::record_invocations)
}

/// Exhaustive (about 3 minutes in a release build): `.ci/run` runs it with `--release --ignored`.
#[test]
#[ignore = "exhaustive model check: run in release (`.ci/run` does)"]
fn strong_writes_and_reads_are_linearizable_in_every_interleaving() {
    // Two clients at different regions, each writing once then reading: concurrent writes of
    // one item (conflicts), reads racing writes, every delivery order.
    let checker = model(2, 1).checker().spawn_bfs().join();
    checker.assert_properties();
    assert!(
        checker.unique_state_count() > 1000,
        "the search explored the interleavings"
    );
}
