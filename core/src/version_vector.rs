//! Per-key version vectors: the causal context of a write (SPEC §4).
//!
//! Entry `r -> n` means "the history includes the first `n` writes region `r` made to this
//! key". Regions are dense indices ([`RegionId`]), so a vector is a plain `Vec<u64>` with
//! implicit zeros past its end.

use std::cmp::Ordering;

use crate::region::RegionId;

/// A version vector over regions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(Vec<u64>);

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

impl VersionVector {
    /// The empty vector (all zeros).
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// The entry of region `r`.
    pub fn get(&self, r: RegionId) -> u64 {
        self.0.get(r.index()).copied().unwrap_or(0)
    }

    /// Set the entry of region `r`.
    pub fn set(&mut self, r: RegionId, n: u64) {
        let i = r.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = n;
    }

    /// Increment region `r`'s entry, returning the new value.
    pub fn increment(&mut self, r: RegionId) -> u64 {
        let n = self.get(r) + 1;
        self.set(r, n);
        n
    }

    /// Pointwise maximum with `other`.
    pub fn merge(&mut self, other: &VersionVector) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Non-zero entries, in region order.
    pub fn entries(&self) -> impl Iterator<Item = (RegionId, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (RegionId::from_index(i), *n))
    }

    /// Compare two vectors pointwise.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let len = self.0.len().max(other.0.len());
        let (mut less, mut greater) = (false, false);
        for i in 0..len {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = other.0.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
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

    /// Approximate heap size in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<u64>()
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
mod tests {
    use super::*;

    fn vv(entries: &[u64]) -> VersionVector {
        entries
            .iter()
            .enumerate()
            .map(|(i, n)| (RegionId::from_index(i), *n))
            .collect()
    }

    #[test]
    fn comparison_table() {
        let cases = [
            (vv(&[1, 0]), vv(&[1, 0]), Causality::Equal),
            (vv(&[1]), vv(&[1, 0, 0]), Causality::Equal),
            (vv(&[1, 0]), vv(&[1, 1]), Causality::Before),
            (vv(&[2, 1]), vv(&[1, 1]), Causality::After),
            (vv(&[1, 0]), vv(&[0, 1]), Causality::Concurrent),
            (vv(&[]), vv(&[0, 3]), Causality::Before),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.compare(&b), want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn merge_is_pointwise_max() {
        let mut a = vv(&[3, 0, 1]);
        a.merge(&vv(&[1, 2]));
        assert_eq!(a, vv(&[3, 2, 1]));
    }

    #[test]
    fn increment_counts_from_zero() {
        let mut a = VersionVector::new();
        assert_eq!(a.increment(RegionId::from_index(2)), 1);
        assert_eq!(a.increment(RegionId::from_index(2)), 2);
        assert_eq!(a, vv(&[0, 0, 2]));
    }
}
