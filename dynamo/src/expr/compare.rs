//! How DynamoDB compares and measures values in expressions: equality of any two values (sets
//! regardless of order), order of strings (UTF-8 bytes), numbers and binaries only, `size`,
//! `contains`, `begins_with`.

use std::cmp::Ordering;

use crate::{number::Number, value::AttributeValue};

fn same_elements<T: Ord + Clone>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.to_vec(), b.to_vec());
    x.sort();
    y.sort();
    x == y
}

/// `a = b`: same type and same value; sets are equal whatever their order.
pub fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue::*;
    match (a, b) {
        (Ss(x), Ss(y)) => same_elements(x, y),
        (Ns(x), Ns(y)) => same_elements(x, y),
        (Bs(x), Bs(y)) => same_elements(x, y),
        (L(x), L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (M(x), M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && equal(v1, v2))
        }
        _ => a == b,
    }
}

/// Is this a type `<`, `>`, BETWEEN compare (S, N, B)?
pub fn orderable(v: &AttributeValue) -> bool {
    matches!(
        v,
        AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)
    )
}

/// The order of `a` and `b` when both are S, both N or both B; otherwise none.
pub fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue::*;
    match (a, b) {
        (S(x), S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (N(x), N(y)) => Some(x.cmp(y)),
        (B(x), B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `size(v)`: bytes of a string or binary, elements of a set or list, entries of a map; none
/// for numbers, booleans and nulls.
pub fn size(v: &AttributeValue) -> Option<AttributeValue> {
    use AttributeValue::*;
    let n = match v {
        S(s) => s.len(),
        B(b) => b.len(),
        Ss(x) => x.len(),
        Ns(x) => x.len(),
        Bs(x) => x.len(),
        L(x) => x.len(),
        M(x) => x.len(),
        N(_) | Bool(_) | Null => return None,
    };
    n.to_string().parse::<Number>().ok().map(N)
}

/// `contains(a, b)`: substring of a string or binary, element of a set or list.
pub fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue::*;
    match (a, b) {
        (S(x), S(y)) => x.contains(y.as_str()),
        (B(x), B(y)) => y.is_empty() || x.windows(y.len()).any(|w| w == y.as_slice()),
        (Ss(x), S(y)) => x.contains(y),
        (Ns(x), N(y)) => x.contains(y),
        (Bs(x), B(y)) => x.contains(y),
        (L(x), y) => x.iter().any(|e| equal(e, y)),
        _ => false,
    }
}

/// `begins_with(a, b)`: a string or binary prefix.
pub fn begins_with(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => x.starts_with(y.as_str()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.starts_with(y),
        _ => false,
    }
}

/// The type's name in ADD and DELETE messages (`STRING`, `NUMBER`, ...).
pub fn long_type_name(v: &AttributeValue) -> &'static str {
    use AttributeValue::*;
    match v {
        S(_) => "STRING",
        N(_) => "NUMBER",
        B(_) => "BINARY",
        Bool(_) => "BOOLEAN",
        Null => "NULL",
        L(_) => "LIST",
        M(_) => "MAP",
        Ss(_) => "STRING SET",
        Ns(_) => "NUMBER SET",
        Bs(_) => "BINARY SET",
    }
}

/// A value as DynamoDB echoes it in BETWEEN messages: `AttributeValue: {N:1}`.
pub fn show(v: &AttributeValue) -> String {
    let inner = match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        other => {
            let json = other.to_json();
            json.get(other.type_name())
                .map_or_else(String::new, |x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    x => x.to_string(),
                })
        }
    };
    format!(
        "AttributeValue: {{{}:{}}}",
        v.type_name(),
        crate::value::excerpt(&inner)
    )
}
