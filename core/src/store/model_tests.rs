//! The store against a naive model: a `HashMap` from key to (current write, `seen` as a plain
//! `Vec<u64>`), merging as the module docs say. Random sequences of applies (with duplicates,
//! id reuse, equal timestamps, contexts over more regions than a vector keeps inline),
//! restores and clears must give the same outcomes and the same state: current writes,
//! histories, digest, next contexts.

use std::{collections::HashMap, sync::Arc};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{
    hash::bucket_of,
    version_vector::tests::{model_compare, model_get},
};

/// The reference store.
#[derive(Default)]
struct Model {
    items: HashMap<String, (Arc<Write>, Vec<u64>)>,
}

fn plain(v: &VersionVector) -> Vec<u64> {
    let mut out = Vec::new();
    for (r, n) in v.entries() {
        out.resize(out.len().max(r.index() + 1), 0);
        out[r.index()] = n;
    }
    out
}

impl Model {
    fn apply(&mut self, w: Arc<Write>) -> Outcome {
        let ctx = plain(&w.context);
        let Some((cur, seen)) = self.items.get_mut(w.key()) else {
            self.items.insert(w.key().to_owned(), (w, ctx));
            return Outcome::Inserted;
        };
        if cur.id == w.id && cur.version == w.version {
            return Outcome::Duplicate;
        }
        let o = w.origin().index();
        let known = model_get(seen, o) >= model_get(&ctx, o);
        let wins = (w.version, w.id) > (cur.version, cur.id);
        if known && !wins {
            return Outcome::Superseded;
        }
        if !known {
            seen.resize(seen.len().max(ctx.len()), 0);
            for (i, n) in ctx.iter().enumerate() {
                seen[i] = seen[i].max(*n);
            }
        }
        let (old, new) = (cur.clone(), w.clone());
        let outcome = match (model_compare(&ctx, &plain(&old.context)), wins) {
            (Causality::After, true) => Outcome::Overwrote,
            (Causality::After, false) => Outcome::CausalInversion {
                winner: old,
                loser: new,
            },
            (Causality::Before | Causality::Equal, true) => Outcome::CausalInversion {
                winner: new,
                loser: old,
            },
            (Causality::Before | Causality::Equal, false) => Outcome::Superseded,
            (Causality::Concurrent, true) => Outcome::Conflict {
                winner: new,
                loser: old,
            },
            (Causality::Concurrent, false) => Outcome::Conflict {
                winner: old,
                loser: new,
            },
        };
        if wins {
            *cur = w;
        }
        outcome
    }

    fn digest(&self) -> Vec<u64> {
        let mut d = vec![0; BUCKETS as usize];
        for (cur, _) in self.items.values() {
            d[bucket_of(cur.key(), BUCKETS) as usize] ^= item_hash(cur);
        }
        d
    }
}

const KEYS: [&str; 4] = [
    "a",
    "b",
    "c",
    "a-much-longer-key-of-more-than-sixty-four-bytes-0123456789abcdef",
];

/// A step: apply a new write, apply an earlier one again, restore a key, or clear.
#[derive(Clone, Debug)]
enum Step {
    Apply(Arc<Write>),
    Again(usize),
    Restore(Arc<Write>, Vec<u64>),
    Clear,
}

fn counters() -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(prop_oneof![4 => 0u64..4, 1 => Just(1u64 << 52)], 0..6)
}

fn write() -> impl Strategy<Value = Arc<Write>> {
    (
        0..KEYS.len(),
        proptest::option::of("[a-z]{0,3}"),
        (0u64..6, 0u32..2, 0usize..5),
        0u128..6,
        counters(),
    )
        .prop_map(|(k, value, (ts, logical, region), id, mut ctx)| {
            // A write's context holds its own dot.
            ctx.resize(ctx.len().max(region + 1), 0);
            ctx[region] = ctx[region].max(1);
            Arc::new(Write {
                payload: Payload::new(KEYS[k], value.as_deref().map(str::as_bytes)),
                version: Version {
                    timestamp: Timestamp {
                        physical_us: ts,
                        logical,
                    },
                    region: RegionId::from_index(region),
                },
                id: Uuid::from_u128(id),
                context: ctx
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (RegionId::from_index(i), *n))
                    .collect(),
                commit_us: ts,
                epoch: 0,
                seq: 1,
            })
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => write().prop_map(Step::Apply),
        4 => (0usize..64).prop_map(Step::Again),
        1 => (write(), counters()).prop_map(|(w, seen)| Step::Restore(w, seen)),
        1 => Just(Step::Clear),
    ]
}

fn vv(v: &[u64]) -> VersionVector {
    v.iter()
        .enumerate()
        .map(|(i, n)| (RegionId::from_index(i), *n))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_a_naive_hashmap_store(steps in proptest::collection::vec(step(), 1..80)) {
        let (mut store, mut model) = (Store::new(), Model::default());
        let mut applied: Vec<Arc<Write>> = Vec::new();
        for s in steps {
            match s {
                Step::Apply(w) => {
                    applied.push(w.clone());
                    prop_assert_eq!(store.apply(w.clone()), model.apply(w));
                }
                Step::Again(i) if !applied.is_empty() => {
                    let w = applied[i % applied.len()].clone();
                    prop_assert_eq!(store.apply(w.clone()), model.apply(w));
                }
                Step::Again(_) => {}
                Step::Restore(w, seen) => {
                    store.restore(w.clone(), vv(&seen));
                    model.items.insert(w.key().to_owned(), (w, seen));
                }
                Step::Clear => {
                    store.clear();
                    model.items.clear();
                }
            }
            prop_assert_eq!(store.len(), model.items.len());
            prop_assert_eq!(store.digest(), &model.digest()[..]);
            for key in KEYS {
                let want = model.items.get(key);
                let got = store.entry(key);
                prop_assert_eq!(got.is_some(), want.is_some(), "key {}", key);
                if let (Some((cur, seen)), Some((mcur, mseen))) = (got, want) {
                    prop_assert!(Arc::ptr_eq(cur, mcur), "current of {}", key);
                    prop_assert_eq!(seen, &vv(mseen), "seen of {}", key);
                    for r in 0..6 {
                        let region = RegionId::from_index(r);
                        let mut next = mseen.clone();
                        next.resize(next.len().max(r + 1), 0);
                        next[r] = next[r].checked_add(1).map_or(0, |n| n.max(7));
                        let want = (next[r] > 0).then(|| vv(&next));
                        prop_assert_eq!(store.next_context(key, region, 7), want);
                    }
                }
            }
            let mut ids: Vec<_> = store.iter().map(|w| (w.key().to_owned(), w.id)).collect();
            ids.sort();
            let mut want: Vec<_> = model.items.values().map(|(w, _)| (w.key().to_owned(), w.id)).collect();
            want.sort();
            prop_assert_eq!(ids, want);
        }
    }
}
