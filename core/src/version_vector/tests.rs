//! Version vector tests: tables, and a model-based property test against a plain `Vec<u64>`.

use std::hash::{BuildHasher, RandomState};

use proptest::prelude::*;

use super::*;

fn vv(entries: &[u64]) -> VersionVector {
    entries
        .iter()
        .enumerate()
        .map(|(i, n)| (RegionId::from_index(i), *n))
        .collect()
}

fn r(i: usize) -> RegionId {
    RegionId::from_index(i)
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
        (vv(&[1, 0, 0, 0, 2]), vv(&[1]), Causality::After),
        (vv(&[0, 0, 0, 0, 0, 1]), vv(&[1]), Causality::Concurrent),
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
    a.merge(&vv(&[0, 0, 0, 0, 7]));
    assert_eq!(a, vv(&[3, 2, 1, 0, 7]));
}

#[test]
fn increment_counts_from_zero() {
    let mut a = VersionVector::new();
    assert_eq!(a.increment(r(2)), 1);
    assert_eq!(a.increment(r(2)), 2);
    assert_eq!(a, vv(&[0, 0, 2]));
}

#[test]
fn small_vectors_stay_inline_and_equality_ignores_the_representation() {
    assert_eq!(std::mem::size_of::<VersionVector>(), 32);
    let mut a = vv(&[1u64 << 60, 2, 3]);
    assert_eq!(a.heap_bytes(), 0, "three regions, any counters: inline");
    a.set(r(9), 0);
    assert_eq!(a.heap_bytes(), 0, "a zero past the end is implicit");
    a.set(r(3), 4);
    assert!(a.heap_bytes() > 0);
    a.set(r(3), 0);
    assert_eq!(a, vv(&[1u64 << 60, 2, 3]), "trailing zeros never matter");
    let h = RandomState::new();
    assert_eq!(h.hash_one(&a), h.hash_one(vv(&[1u64 << 60, 2, 3])));
}

/// One operation on a vector, applied to the vector and to the model alike.
#[derive(Clone, Debug)]
enum Op {
    Set(usize, u64),
    Increment(usize),
    Merge(Vec<u64>),
}

fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..4, Just(u64::MAX - 1), (1u64 << 50)..(1u64 << 51)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..7, counter()).prop_map(|(i, n)| Op::Set(i, n)),
        (0usize..7).prop_map(Op::Increment),
        proptest::collection::vec(counter(), 0..7).prop_map(Op::Merge),
    ]
}

/// The reference: a plain `Vec<u64>`, implicit zeros past its end.
/// The model's entry `i` (implicit zeros past the end); shared with the store's model tests.
pub(crate) fn model_get(m: &[u64], i: usize) -> u64 {
    m.get(i).copied().unwrap_or(0)
}

fn model_apply(m: &mut Vec<u64>, op: &Op) {
    let set = |m: &mut Vec<u64>, i: usize, n: u64| {
        if m.len() <= i {
            m.resize(i + 1, 0);
        }
        m[i] = n;
    };
    match op {
        Op::Set(i, n) => set(m, *i, *n),
        Op::Increment(i) => {
            let n = model_get(m, *i) + 1;
            set(m, *i, n);
        }
        Op::Merge(o) => {
            for (i, n) in o.iter().enumerate() {
                let n = model_get(m, i).max(*n);
                set(m, i, n);
            }
        }
    }
}

/// The model's causal relation of two vectors; shared with the store's model tests.
pub(crate) fn model_compare(a: &[u64], b: &[u64]) -> Causality {
    let len = a.len().max(b.len());
    let less = (0..len).any(|i| model_get(a, i) < model_get(b, i));
    let greater = (0..len).any(|i| model_get(a, i) > model_get(b, i));
    match (less, greater) {
        (false, false) => Causality::Equal,
        (true, false) => Causality::Before,
        (false, true) => Causality::After,
        (true, true) => Causality::Concurrent,
    }
}

fn vector_apply(v: &mut VersionVector, op: &Op) {
    match op {
        Op::Set(i, n) => v.set(r(*i), *n),
        Op::Increment(i) => {
            v.increment(r(*i));
        }
        Op::Merge(o) => v.merge(&vv(o)),
    }
}

/// `u64::MAX - 1` is the largest counter a history reaches (an increment past it would
/// overflow in the model and the vector alike).
fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// After any sequence of set / increment / merge, two vectors agree with their models on
    /// every entry, the non-zero entries, comparison, equality and hashing.
    #[test]
    fn behaves_like_a_plain_vec(a_ops in ops(), b_ops in ops()) {
        let run = |ops: &[Op]| {
            let (mut v, mut m) = (VersionVector::new(), Vec::new());
            for op in ops {
                if matches!(op, Op::Increment(i) if model_get(&m, *i) == u64::MAX) { continue; }
                vector_apply(&mut v, op);
                model_apply(&mut m, op);
            }
            (v, m)
        };
        let (a, am) = run(&a_ops);
        let (b, bm) = run(&b_ops);
        for i in 0..8 {
            prop_assert_eq!(a.get(r(i)), model_get(&am, i));
        }
        let entries: Vec<_> = a.entries().collect();
        let want: Vec<_> = am.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (r(i), *n)).collect();
        prop_assert_eq!(entries, want);
        prop_assert_eq!(a.compare(&b), model_compare(&am, &bm));
        prop_assert_eq!(b.compare(&a), model_compare(&bm, &am));
        prop_assert_eq!(a.dominated_by(&b), matches!(model_compare(&am, &bm), Causality::Equal | Causality::Before));
        let equal = model_compare(&am, &bm) == Causality::Equal;
        prop_assert_eq!(a == b, equal);
        if equal {
            let h = RandomState::new();
            prop_assert_eq!(h.hash_one(&a), h.hash_one(&b));
        }
        if a.heap_bytes() == 0 {
            prop_assert!(am.iter().skip(INLINE).all(|n| *n == 0), "an inline vector holds no higher region");
        }
        let mut merged = a.clone();
        merged.merge(&b);
        let mut mm = am.clone();
        model_apply(&mut mm, &Op::Merge(bm.clone()));
        prop_assert_eq!(merged, vv(&mm));
    }
}
