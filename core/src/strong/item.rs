//! One item's protocol state at one participant: its committed write, the fences it holds,
//! the unfinished write originated here, and the greatest counter seen.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ballot, Participant, Refusal};

/// An unfinished write originated here.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Pending<V> {
    pub(super) ballot: Ballot,
    pub(super) base: Option<Ballot>,
    pub(super) value: V,
    pub(super) refused: BTreeSet<Participant>,
    /// No quorum answered in time: the outcome is unknown until a `Fate` settles it.
    pub(super) in_doubt: bool,
    /// Participants that answered a `Query` with "not committed here" (and fenced it).
    pub(super) not_here: BTreeSet<Participant>,
}

impl<V> Pending<V> {
    /// Why a new request on the item is refused while this write is unfinished.
    pub(super) fn refusal(&self) -> Refusal {
        if self.in_doubt {
            Refusal::InDoubt
        } else {
            Refusal::Busy
        }
    }
}

/// One item at one participant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Item<V> {
    pub(super) committed: Option<(Ballot, V)>,
    /// Proposals at or below this ballot *from its origin* are refused here.
    pub(super) fences: BTreeMap<Participant, u64>,
    pub(super) pending: Option<Pending<V>>,
    /// The greatest counter used or seen for the item.
    pub(super) counter: u64,
}

impl<V> Default for Item<V> {
    fn default() -> Self {
        Self {
            committed: None,
            fences: BTreeMap::new(),
            pending: None,
            counter: 0,
        }
    }
}

impl<V: Clone> Item<V> {
    pub(super) fn committed_ballot(&self) -> Option<Ballot> {
        self.committed.as_ref().map(|(b, _)| *b)
    }

    /// Take `(b, v)` if it is newer than what is committed.
    pub(super) fn learn(&mut self, b: Ballot, v: V) {
        self.counter = self.counter.max(b.counter);
        if self.committed_ballot().is_none_or(|c| b > c) {
            self.committed = Some((b, v));
        }
    }

    pub(super) fn fenced(&self, b: Ballot) -> bool {
        self.fences.get(&b.origin).is_some_and(|f| b.counter <= *f)
    }

    pub(super) fn fence(&mut self, b: Ballot) {
        let f = self.fences.entry(b.origin).or_insert(0);
        *f = (*f).max(b.counter);
    }
}
