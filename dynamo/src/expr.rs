//! DynamoDB's expression languages — condition, filter, key condition, update and
//! projection expressions — as pure synchronous code: a `winnow` grammar that mirrors the
//! documentation ([`parse`]), placeholder resolution shared by all expressions of one request
//! ([`Resolver`]), DynamoDB's checks and error messages, and evaluation against items.
//!
//! # Use
//! ```
//! use std::collections::HashMap;
//! use meridian_dynamo::{AttributeValue, Item, expr::{self, ExprKind, Resolver}};
//!
//! let names = HashMap::from([("#s".to_owned(), "status".to_owned())]);
//! let values = HashMap::from([(":v".to_owned(), AttributeValue::S("new".into()))]);
//! let r = Resolver::new(&names, &values);
//! let cond = expr::parse_condition("attribute_not_exists(#s)", ExprKind::Condition, &r)?;
//! let update = expr::parse_update("SET #s = :v", &r)?;
//! r.check_all_used()?; // after every expression of the request is parsed
//! let mut item = Item::new();
//! assert!(cond.eval(Some(&item))?);
//! update.apply(&mut item)?;
//! assert_eq!(item["status"], AttributeValue::S("new".into()));
//! # Ok::<(), meridian_dynamo::DynamoError>(())
//! ```
//!
//! # Interface
//! - [`Resolver::new`]`(names, values)`; after parsing: [`Resolver::check_all_used`] (or
//!   [`Resolver::unused_names`] / [`Resolver::unused_values`]).
//! - [`parse_condition`]`(src, ExprKind::Condition | ExprKind::Filter, &r) -> Condition`;
//!   [`Condition::eval`]`(Option<&Item>) -> Result<bool>` (`None`: no item).
//! - [`parse_update`]`(src, &r) -> Update`; [`Update::apply`]`(&mut Item)` (start from an
//!   empty item when there is none); [`Update::paths`] and [`Update::touches`] so the caller can
//!   refuse updates of key attributes.
//! - [`parse_projection`]`(src, &r) -> Projection`; [`Projection::apply`]`(&Item) -> Item`.
//! - [`parse_key_condition`]`(src, &r, partition_key, sort_key) -> KeyCondition`;
//!   [`KeyCondition::partition`], [`KeyCondition::sort`], [`SortCondition::matches`]. Checking
//!   the values' types against the key schema is the caller's.
//!
//! Every error is a [`DynamoError::validation`](crate::DynamoError::validation) worded as
//! DynamoDB words it (`Invalid UpdateExpression: Syntax error; token: "=", near: "a =="`).
//! Nothing panics on any input: expressions over 4 KB are refused before parsing, and so is
//! nesting deeper than [`resolve::MAX_NESTING`] parentheses.
//!
//! # Layout
//! - [`lexer`]: tokens, and the text of syntax errors;
//! - [`ast`]: the trees the grammar produces; [`parse`]: the grammar;
//! - [`reserved`]: the reserved words; [`resolve`]: placeholders and shared checks;
//! - [`path`]: document paths, overlap and conflict; [`compare`]: equality, order, size;
//! - [`condition`], [`update`], [`projection`], [`key`]: the five languages.

pub mod ast;
pub mod compare;
pub mod condition;
pub mod key;
pub mod lexer;
pub mod parse;
pub mod path;
pub mod projection;
pub mod reserved;
pub mod resolve;
pub mod update;

#[cfg(test)]
mod tests;

pub use condition::{CmpOp, Cond, Condition, Operand};
pub use key::{KeyCondition, SortCondition, SortOp};
pub use path::{Path, PathElem};
pub use projection::Projection;
pub use resolve::{ExprKind, Resolver};
pub use update::Update;

use crate::error::Result;

/// Parse and check a `ConditionExpression` or `FilterExpression` (`kind` names it in errors).
pub fn parse_condition(src: &str, kind: ExprKind, r: &Resolver) -> Result<Condition> {
    Ok(Condition {
        root: condition_tree(src, kind, r)?,
    })
}

/// Parse and check a condition-language expression of any kind into its tree.
pub(crate) fn condition_tree(src: &str, kind: ExprKind, r: &Resolver) -> Result<Cond> {
    let toks = resolve::tokenize(src, kind)?;
    let tree = parse::condition(&toks).map_err(|at| resolve::syntax(kind, src, &toks, at))?;
    let mut b = condition::Builder {
        r,
        problems: resolve::Problems::default(),
        kind,
        src,
        toks: &toks,
    };
    let root = b.cond(&tree)?;
    b.problems.into_error(kind)?;
    Ok(root)
}

/// Parse and check an `UpdateExpression`.
pub fn parse_update(src: &str, r: &Resolver) -> Result<Update> {
    update::parse(src, r)
}

/// Parse and check a `ProjectionExpression`.
pub fn parse_projection(src: &str, r: &Resolver) -> Result<Projection> {
    projection::parse(src, r)
}

/// Parse and check a `KeyConditionExpression` for a table (or index) keyed by
/// `partition_key` and, if it has one, `sort_key`.
pub fn parse_key_condition(
    src: &str,
    r: &Resolver,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition> {
    key::parse(src, r, partition_key, sort_key)
}
