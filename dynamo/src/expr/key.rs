//! Key condition expressions (Query): `pk = :v`, optionally `AND` one condition on the sort
//! key (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`, `begins_with`). DynamoDB parses them with the
//! condition grammar, then refuses what a key condition cannot be, with its own messages:
//! OR, NOT, IN, `<>` and the other functions, nested paths, `size`, two conditions on one key,
//! conditions on non-key attributes, a partition key without `=`.
//!
//! Whether the values' types match the key schema is the caller's check (`One or more
//! parameter values were invalid: Condition parameter type does not match schema type`).

use std::cmp::Ordering;

use super::{
    compare,
    condition::{CmpOp, Cond, Operand},
    resolve::{ExprKind, Resolver},
};
use crate::{
    error::{DynamoError, Result},
    value::AttributeValue,
};

/// The condition on the sort key.
#[derive(Clone, Debug, PartialEq)]
pub enum SortOp {
    /// `= v`
    Eq(AttributeValue),
    /// `< v`
    Lt(AttributeValue),
    /// `<= v`
    Le(AttributeValue),
    /// `> v`
    Gt(AttributeValue),
    /// `>= v`
    Ge(AttributeValue),
    /// `BETWEEN lo AND hi`
    Between(AttributeValue, AttributeValue),
    /// `begins_with(key, v)`
    BeginsWith(AttributeValue),
}

/// A condition on the sort key attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct SortCondition {
    name: String,
    op: SortOp,
}

impl SortCondition {
    /// The sort key attribute's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator and its values.
    pub fn op(&self) -> &SortOp {
        &self.op
    }

    /// Does a sort key value satisfy the condition? (Values of another type never do.)
    pub fn matches(&self, v: &AttributeValue) -> bool {
        let ord = |x: &AttributeValue| compare::order(v, x);
        match &self.op {
            SortOp::Eq(x) => ord(x) == Some(Ordering::Equal),
            SortOp::Lt(x) => ord(x).is_some_and(Ordering::is_lt),
            SortOp::Le(x) => ord(x).is_some_and(Ordering::is_le),
            SortOp::Gt(x) => ord(x).is_some_and(Ordering::is_gt),
            SortOp::Ge(x) => ord(x).is_some_and(Ordering::is_ge),
            SortOp::Between(lo, hi) => {
                ord(lo).is_some_and(Ordering::is_ge) && ord(hi).is_some_and(Ordering::is_le)
            }
            SortOp::BeginsWith(x) => compare::begins_with(v, x),
        }
    }
}

/// A parsed, checked `KeyConditionExpression`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyCondition {
    partition_name: String,
    partition_value: AttributeValue,
    sort: Option<SortCondition>,
}

impl KeyCondition {
    /// The partition key's name and the value it must equal.
    pub fn partition(&self) -> (&str, &AttributeValue) {
        (&self.partition_name, &self.partition_value)
    }

    /// The condition on the sort key, if any.
    pub fn sort(&self) -> Option<&SortCondition> {
        self.sort.as_ref()
    }
}

fn err(message: impl Into<String>) -> DynamoError {
    DynamoError::validation(message)
}

fn invalid_operator(op: &str) -> DynamoError {
    err(format!(
        "Invalid operator used in KeyConditionExpression: {op}"
    ))
}

/// The conditions ANDed together at the top.
fn terms<'c>(c: &'c Cond, out: &mut Vec<&'c Cond>) -> Result<()> {
    match c {
        Cond::And(all) => all.iter().try_for_each(|x| terms(x, out)),
        Cond::Or(_) => Err(invalid_operator("OR")),
        Cond::Not(_) => Err(invalid_operator("NOT")),
        Cond::In(..) => Err(invalid_operator("IN")),
        Cond::Cmp(CmpOp::Ne, ..) => Err(invalid_operator("<>")),
        Cond::Exists(_) => Err(invalid_operator("attribute_exists")),
        Cond::NotExists(_) => Err(invalid_operator("attribute_not_exists")),
        Cond::Type(..) => Err(invalid_operator("attribute_type")),
        Cond::Contains(..) => Err(invalid_operator("contains")),
        _ => {
            out.push(c);
            Ok(())
        }
    }
}

/// The key attribute an operand names, or its value; refusing what no key condition holds.
enum Side<'c> {
    Key(&'c str),
    Value(&'c AttributeValue),
}

fn side(o: &Operand) -> Result<Side<'_>> {
    match o {
        Operand::Size(_) => Err(err(
            "KeyConditionExpressions cannot contain nested operations",
        )),
        Operand::Path(p) if !p.is_top_level() => Err(err(
            "KeyConditionExpressions cannot have conditions on nested attributes",
        )),
        Operand::Path(p) => Ok(Side::Key(&p.root)),
        Operand::Value(v) => Ok(Side::Value(v)),
    }
}

fn multiple() -> DynamoError {
    err(
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
    )
}

/// One term as (key attribute, condition).
fn term(c: &Cond) -> Result<(&str, SortOp)> {
    let first_operand = |name: &str| {
        err(format!(
            "Invalid condition in KeyConditionExpression: {name} operator must have the key attribute as its first operand"
        ))
    };
    match c {
        Cond::Cmp(op, a, b) => {
            let (key, v, op) = match (side(a)?, side(b)?) {
                (Side::Key(k), Side::Value(v)) => (k, v, *op),
                (Side::Value(v), Side::Key(k)) => {
                    let flipped = match op {
                        CmpOp::Lt => CmpOp::Gt,
                        CmpOp::Le => CmpOp::Ge,
                        CmpOp::Gt => CmpOp::Lt,
                        CmpOp::Ge => CmpOp::Le,
                        other => *other,
                    };
                    (k, v, flipped)
                }
                (Side::Key(_), Side::Key(_)) => return Err(multiple()),
                (Side::Value(_), Side::Value(_)) => {
                    return Err(err(
                        "Invalid condition in KeyConditionExpression: No key attribute specified",
                    ));
                }
            };
            let v = v.clone();
            let op = match op {
                CmpOp::Eq => SortOp::Eq(v),
                CmpOp::Lt => SortOp::Lt(v),
                CmpOp::Le => SortOp::Le(v),
                CmpOp::Gt => SortOp::Gt(v),
                CmpOp::Ge => SortOp::Ge(v),
                CmpOp::Ne => return Err(invalid_operator("<>")),
            };
            Ok((key, op))
        }
        Cond::Between(x, lo, hi) => {
            let (x, lo, hi) = (side(x)?, side(lo)?, side(hi)?);
            match (x, lo, hi) {
                (Side::Key(k), Side::Value(lo), Side::Value(hi)) => {
                    Ok((k, SortOp::Between(lo.clone(), hi.clone())))
                }
                (Side::Key(_), ..) => Err(multiple()),
                _ => Err(first_operand("BETWEEN")),
            }
        }
        Cond::BeginsWith(a, b) => match (side(a)?, side(b)?) {
            (Side::Key(k), Side::Value(v)) => Ok((k, SortOp::BeginsWith(v.clone()))),
            (Side::Key(_), Side::Key(_)) => Err(multiple()),
            _ => Err(first_operand("begins_with")),
        },
        _ => Err(err("Query key condition not supported")),
    }
}

/// Parse and check a key condition for a table (or index) keyed by `partition_key` and
/// `sort_key`.
pub fn parse(
    src: &str,
    r: &Resolver,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition> {
    let root = super::condition_tree(src, ExprKind::KeyCondition, r)?;
    let mut parts = Vec::new();
    terms(&root, &mut parts)?;
    let parts: Vec<(&str, SortOp)> = parts.into_iter().map(term).collect::<Result<_>>()?;
    for (i, (k, _)) in parts.iter().enumerate() {
        if parts[..i].iter().any(|(j, _)| j == k) {
            return Err(err(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
    }
    if parts.len() > 2 {
        return Err(err("Conditions can be of length 1 or 2 only"));
    }
    let mut partition = None;
    let mut sort = None;
    for (k, op) in parts {
        if k == partition_key {
            let SortOp::Eq(v) = op else {
                return Err(err("Query key condition not supported"));
            };
            partition = Some(v);
        } else if Some(k) == sort_key {
            sort = Some(SortCondition {
                name: k.to_owned(),
                op,
            });
        } else {
            return Err(err("Query key condition not supported"));
        }
    }
    let partition_value = partition.ok_or_else(|| {
        err(format!(
            "Query condition missed key schema element: {partition_key}"
        ))
    })?;
    Ok(KeyCondition {
        partition_name: partition_key.to_owned(),
        partition_value,
        sort,
    })
}
