//! The expression languages — a stand-in with the interface the operations use, until the
//! parser lands (every expression is refused as not supported yet).

use std::collections::HashMap;

use crate::{
    error::{DynamoError, Result},
    value::{AttributeValue, Item},
};

/// Which expression a condition comes from.
#[derive(Clone, Copy, Debug)]
pub enum ExprKind {
    /// ConditionExpression.
    Condition,
    /// FilterExpression.
    Filter,
}

/// Names and values of one request.
pub struct Resolver;
impl Resolver {
    /// From the request's maps.
    pub fn new(_: &HashMap<String, String>, _: &HashMap<String, AttributeValue>) -> Self {
        Resolver
    }
    /// Names never used.
    pub fn unused_names(&self) -> Vec<String> {
        vec![]
    }
    /// Values never used.
    pub fn unused_values(&self) -> Vec<String> {
        vec![]
    }
}
/// A condition.
pub struct Condition;
impl Condition {
    /// Evaluate.
    pub fn eval(&self, _: Option<&Item>) -> Result<bool> {
        Ok(true)
    }
}
/// An update.
pub struct Update;
impl Update {
    /// Apply.
    pub fn apply(&self, _: &mut Item) -> Result<()> {
        Ok(())
    }
    /// Top-level names touched.
    pub fn top_level_names(&self) -> Vec<String> {
        vec![]
    }
}
/// A projection.
pub struct Projection;
impl Projection {
    /// Apply.
    pub fn apply(&self, i: &Item) -> Item {
        i.clone()
    }
}
/// A key condition.
pub struct KeyCondition(String, AttributeValue);
impl KeyCondition {
    /// The partition condition.
    pub fn partition(&self) -> (&str, &AttributeValue) {
        (&self.0, &self.1)
    }
    /// The sort condition.
    pub fn sort(&self) -> Option<&SortCondition> {
        None
    }
}
/// A sort-key condition.
pub struct SortCondition;
impl SortCondition {
    /// Its attribute.
    pub fn name(&self) -> &str {
        ""
    }
    /// Does `v` match?
    pub fn matches(&self, _: &AttributeValue) -> bool {
        true
    }
}
fn unsupported() -> DynamoError {
    DynamoError::validation("expressions are not supported yet")
}
/// Parse a condition.
pub fn parse_condition(_: &str, _: ExprKind, _: &Resolver) -> Result<Condition> {
    Err(unsupported())
}
/// Parse an update.
pub fn parse_update(_: &str, _: &Resolver) -> Result<Update> {
    Err(unsupported())
}
/// Parse a projection.
pub fn parse_projection(_: &str, _: &Resolver) -> Result<Projection> {
    Err(unsupported())
}
/// Parse a key condition.
pub fn parse_key_condition(_: &str, _: &Resolver) -> Result<KeyCondition> {
    Err(unsupported())
}
