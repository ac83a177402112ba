//! What participants of the strong-consistency protocol say to each other ([`Msg`]), what they
//! tell the shell ([`Event`]), and why a request is refused at once ([`Refusal`]).

use super::Ballot;

/// A protocol message about item `K` with values `V`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg<K, V> {
    /// Commit `value` at `ballot`, building on the committed ballot `base`.
    Propose {
        /// The item.
        key: K,
        /// The write's ballot.
        ballot: Ballot,
        /// The committed ballot the origin builds on.
        base: Option<Ballot>,
        /// The value.
        value: V,
    },
    /// The proposal at `ballot` is committed here.
    Accepted {
        /// The item.
        key: K,
        /// The proposal.
        ballot: Ballot,
    },
    /// The proposal at `ballot` is refused (and fenced) here; `committed`: what is committed here.
    Refused {
        /// The item.
        key: K,
        /// The proposal.
        ballot: Ballot,
        /// The refuser's committed write.
        committed: Option<(Ballot, V)>,
    },
    /// A committed write, for participants that did not take part.
    Learn {
        /// The item.
        key: K,
        /// Its ballot.
        ballot: Ballot,
        /// Its value.
        value: V,
    },
    /// The origin of an in-doubt write asks for its fate.
    Query {
        /// The item.
        key: K,
        /// The write.
        ballot: Ballot,
    },
    /// The answer to a `Query`: what is committed here (the ballot is fenced if not this one).
    Fate {
        /// The item.
        key: K,
        /// The write asked about.
        ballot: Ballot,
        /// The answerer's committed write.
        committed: Option<(Ballot, V)>,
    },
    /// A strong read asks for the committed write.
    Read {
        /// The item.
        key: K,
        /// The read.
        id: u64,
    },
    /// The answer to a `Read`; `busy`: the answerer has an unfinished write of the item and does
    /// not count.
    ReadReply {
        /// The item.
        key: K,
        /// The read.
        id: u64,
        /// The answerer's committed write.
        committed: Option<(Ballot, V)>,
        /// Has an unfinished write of the item.
        busy: bool,
    },
}

/// What happened, for the shell to answer clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<K, V> {
    /// The write at `ballot` is committed at a quorum: acknowledge it.
    Committed(K, Ballot),
    /// Every other participant refused the write: `ReplicatedWriteConflict` (it was committed
    /// nowhere).
    Conflict(K, Ballot),
    /// The strong read `id` returns this.
    ReadDone(u64, Option<V>),
    /// Every other participant was busy: the read may be retried.
    ReadBusy(u64),
    /// An in-doubt write's fate is known (committed or not); the item serves again.
    Resolved(K, Ballot),
}

/// Why a request is refused at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This region has an unfinished write of the item (`ReplicatedWriteConflict`).
    Busy,
    /// The item's last write here is in doubt: its fate must be learnt first.
    InDoubt,
}
