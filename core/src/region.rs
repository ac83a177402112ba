//! Region names and their dense indices.
//!
//! The pure core works with [`RegionId`]s, indices into the cluster's regions *sorted by name*,
//! so comparing ids is comparing names: the LWW tie-break "equal timestamps are broken by region
//! name" is `RegionId`'s `Ord`. [`Regions`] maps between names and ids at the edges.

use std::sync::Arc;

/// A region's index in the cluster's name-sorted region list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId(u16);

impl RegionId {
    /// The id with index `i`.
    pub fn from_index(i: usize) -> Self {
        Self(u16::try_from(i).expect("at most 65535 regions"))
    }

    /// The index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The cluster's region names, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regions(Arc<[String]>);

impl Regions {
    /// Regions from names (sorted and deduplicated here).
    pub fn new<I: IntoIterator<Item = String>>(names: I) -> Self {
        let mut v: Vec<String> = names.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v.into())
    }

    /// The id of `name`, if it is a region of the cluster.
    pub fn id(&self, name: &str) -> Option<RegionId> {
        self.0
            .binary_search_by(|n| n.as_str().cmp(name))
            .ok()
            .map(RegionId::from_index)
    }

    /// The name of `id`.
    pub fn name(&self, id: RegionId) -> &str {
        self.0.get(id.index()).map(String::as_str).unwrap_or("?")
    }

    /// All names, sorted.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// All ids.
    pub fn ids(&self) -> impl Iterator<Item = RegionId> + '_ {
        (0..self.0.len()).map(RegionId::from_index)
    }

    /// How many regions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No regions at all?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_name_order() {
        let r = Regions::new(["us-east-1".into(), "ap-south-1".into(), "eu-west-1".into()]);
        let ap = r.id("ap-south-1").unwrap();
        let eu = r.id("eu-west-1").unwrap();
        let us = r.id("us-east-1").unwrap();
        assert!(ap < eu && eu < us);
        assert_eq!(r.name(eu), "eu-west-1");
        assert_eq!(r.id("mars-1"), None);
    }
}
