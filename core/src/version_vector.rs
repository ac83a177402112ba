//! Per-key version vectors: the causal context of a write (SPEC §4).
//!
//! Entry `r -> n` means "the history includes the first `n` writes region `r` made to this
//! key". Regions are dense indices ([`RegionId`]), so a vector is a list of counters indexed by
//! region, with implicit zeros past its end.
//!
//! Every write carries one and every key keeps one, so the representation is compact: the
//! counters of the first [`INLINE`] regions live inline (no allocation: the built-in cluster
//! has three regions), and only a vector with a non-zero counter at a higher index moves to
//! the heap. Counters stay `u64` (a region's dots start at its start time in µs, see
//! [`crate::replica::Replica::set_dot_floor`]). Two vectors are equal when their counters
//! are, whatever their representation: trailing zeros never matter.

use std::{
    cmp::Ordering,
    hash::{Hash, Hasher},
};

use crate::region::RegionId;

/// Regions whose counters a vector keeps without allocating.
pub const INLINE: usize = 3;

/// A version vector over regions.
#[derive(Clone)]
pub struct VersionVector(Repr);

/// The counters, by region index; entries past the end are zero.
#[derive(Clone)]
enum Repr {
    /// Regions `0..INLINE`.
    Inline([u64; INLINE]),
    /// Some region at index ≥ `INLINE` has a non-zero counter.
    Heap(Box<[u64]>),
}

impl Default for VersionVector {
    fn default() -> Self {
        Self(Repr::Inline([0; INLINE]))
    }
}

/// How two causal contexts relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    /// Pointwise equal.
    Equal,
    /// `self` happened before `other` (≤ pointwise, not equal).
    Before,
    /// `self` happened after `other`.
    After,
    /// Neither: the writes are concurrent.
    Concurrent,
}

/// `s` without its trailing zeros.
fn trimmed(s: &[u64]) -> &[u64] {
    let len = s.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1);
    &s[..len]
}

impl VersionVector {
    /// The empty vector (all zeros).
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters by region index (trailing zeros possible).
    fn counters(&self) -> &[u64] {
        match &self.0 {
            Repr::Inline(a) => a,
            Repr::Heap(b) => b,
        }
    }

    fn counters_mut(&mut self) -> &mut [u64] {
        match &mut self.0 {
            Repr::Inline(a) => a,
            Repr::Heap(b) => b,
        }
    }

    /// Make room for `len` counters (moving to the heap past [`INLINE`]).
    fn reserve(&mut self, len: usize) {
        if len <= self.counters().len() {
            return;
        }
        let mut wider = vec![0; len];
        wider[..self.counters().len()].copy_from_slice(self.counters());
        self.0 = Repr::Heap(wider.into_boxed_slice());
    }

    /// The entry of region `r`.
    pub fn get(&self, r: RegionId) -> u64 {
        self.counters().get(r.index()).copied().unwrap_or(0)
    }

    /// Set the entry of region `r`.
    pub fn set(&mut self, r: RegionId, n: u64) {
        let i = r.index();
        if i >= self.counters().len() {
            if n == 0 {
                return;
            }
            self.reserve(i + 1);
        }
        self.counters_mut()[i] = n;
    }

    /// Increment region `r`'s entry, returning the new value.
    pub fn increment(&mut self, r: RegionId) -> u64 {
        let n = self.get(r) + 1;
        self.set(r, n);
        n
    }

    /// Pointwise maximum with `other`.
    pub fn merge(&mut self, other: &VersionVector) {
        let theirs = trimmed(other.counters());
        self.reserve(theirs.len());
        for (mine, theirs) in self.counters_mut().iter_mut().zip(theirs) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Non-zero entries, in region order.
    pub fn entries(&self) -> impl Iterator<Item = (RegionId, u64)> + '_ {
        self.counters()
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (RegionId::from_index(i), *n))
    }

    /// Compare two vectors pointwise.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (a, b) = (self.counters(), other.counters());
        let (mut less, mut greater) = (false, false);
        for i in 0..a.len().max(b.len()) {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            match x.cmp(&y) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// `self` ≤ `other` pointwise.
    pub fn dominated_by(&self, other: &VersionVector) -> bool {
        matches!(self.compare(other), Causality::Equal | Causality::Before)
    }

    /// Bytes allocated on the heap (0 for an inline vector).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline(_) => 0,
            Repr::Heap(b) => std::mem::size_of_val::<[u64]>(b),
        }
    }
}

impl PartialEq for VersionVector {
    fn eq(&self, other: &Self) -> bool {
        trimmed(self.counters()) == trimmed(other.counters())
    }
}

impl Eq for VersionVector {}

impl Hash for VersionVector {
    fn hash<H: Hasher>(&self, state: &mut H) {
        trimmed(self.counters()).hash(state);
    }
}

impl std::fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VersionVector")
            .field(&trimmed(self.counters()))
            .finish()
    }
}

impl FromIterator<(RegionId, u64)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (RegionId, u64)>>(iter: I) -> Self {
        let mut v = VersionVector::new();
        for (r, n) in iter {
            v.set(r, n);
        }
        v
    }
}

#[cfg(test)]
pub(crate) mod tests;
