//! Parameters the operations share: keys and items, `ReturnValues`, and the expressions of one
//! request with their `ExpressionAttributeNames` / `ExpressionAttributeValues` (every name and
//! value defined must be used by some expression of the request, as DynamoDB requires).

use std::collections::HashMap;

use serde_json::Value;

use crate::{
    error::{DynamoError, Result},
    expr::{self, Condition, ExprKind, KeyCondition, Projection, Resolver, SortCondition, Update},
    value::{AttributeValue, Item, map_from_json},
};

/// A map-of-attributes parameter (`Item`, `Key`, `ExclusiveStartKey`), if present.
pub fn map_param(body: &Value, name: &str) -> Result<Option<Item>> {
    body.get(name)
        .filter(|v| !v.is_null())
        .map(map_from_json)
        .transpose()
}

/// A required map-of-attributes parameter.
pub fn item_param(body: &Value, name: &str) -> Result<Item> {
    map_param(body, name)?.ok_or_else(|| {
        DynamoError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

/// The `Key` parameter.
pub fn key_param(body: &Value) -> Result<Item> {
    item_param(body, "Key")
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// What a write returns of the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnValues {
    /// Nothing.
    None,
    /// The whole item before.
    AllOld,
    /// The updated attributes, before.
    UpdatedOld,
    /// The whole item after.
    AllNew,
    /// The updated attributes, after.
    UpdatedNew,
}

/// The request's `ReturnValues`, one of `allowed`.
pub fn return_values(body: &Value, allowed: &[ReturnValues]) -> Result<ReturnValues> {
    let rv = match body.get("ReturnValues").and_then(Value::as_str) {
        None | Some("NONE") => ReturnValues::None,
        Some("ALL_OLD") => ReturnValues::AllOld,
        Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
        Some("ALL_NEW") => ReturnValues::AllNew,
        Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
        Some(other) => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
                crate::value::excerpt(other)
            )));
        }
    };
    if !allowed.contains(&rv) {
        return Err(DynamoError::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ));
    }
    Ok(rv)
}

/// The expressions of one request, resolved against its names and values.
pub struct Exprs {
    resolver: Resolver,
    used_any: bool,
    has_names: bool,
    has_values: bool,
}

fn string_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DynamoError::serialization(format!(
            "{name} must be a string"
        ))),
    }
}

impl Exprs {
    /// Read `ExpressionAttributeNames` and `ExpressionAttributeValues` of `body`.
    pub fn new(body: &Value) -> Result<Self> {
        let mut names = HashMap::new();
        let has_names = match body
            .get("ExpressionAttributeNames")
            .filter(|v| !v.is_null())
        {
            None => false,
            Some(Value::Object(m)) => {
                if m.is_empty() {
                    return Err(DynamoError::validation(
                        "ExpressionAttributeNames must not be empty",
                    ));
                }
                for (k, v) in m {
                    let v = v.as_str().ok_or_else(|| {
                        DynamoError::serialization(
                            "ExpressionAttributeNames values must be strings",
                        )
                    })?;
                    names.insert(k.clone(), v.to_owned());
                }
                true
            }
            Some(_) => {
                return Err(DynamoError::serialization(
                    "ExpressionAttributeNames must be a map",
                ));
            }
        };
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let has_values = match body
            .get("ExpressionAttributeValues")
            .filter(|v| !v.is_null())
        {
            None => false,
            Some(v) => {
                let m = map_from_json(v)?;
                if m.is_empty() {
                    return Err(DynamoError::validation(
                        "ExpressionAttributeValues must not be empty",
                    ));
                }
                values.extend(m);
                true
            }
        };
        Ok(Self {
            resolver: Resolver::new(&names, &values),
            used_any: false,
            has_names,
            has_values,
        })
    }

    /// The condition in `field` (`ConditionExpression` or `FilterExpression`), if any.
    pub fn condition(&mut self, body: &Value, field: &str) -> Result<Option<Condition>> {
        let kind = if field == "FilterExpression" {
            ExprKind::Filter
        } else {
            ExprKind::Condition
        };
        string_field(body, field)?
            .map(|src| {
                self.used_any = true;
                expr::parse_condition(src, kind, &self.resolver)
            })
            .transpose()
    }

    /// The `UpdateExpression`, if any.
    pub fn update(&mut self, body: &Value) -> Result<Option<Update>> {
        string_field(body, "UpdateExpression")?
            .map(|src| {
                self.used_any = true;
                expr::parse_update(src, &self.resolver)
            })
            .transpose()
    }

    /// The `ProjectionExpression`, if any.
    pub fn projection(&mut self, body: &Value) -> Result<Option<Projection>> {
        string_field(body, "ProjectionExpression")?
            .map(|src| {
                self.used_any = true;
                expr::parse_projection(src, &self.resolver)
            })
            .transpose()
    }

    /// The `KeyConditionExpression` (required), over a table keyed by `partition` (and `sort`).
    pub fn key_condition(
        &mut self,
        body: &Value,
        partition: &str,
        sort: Option<&str>,
    ) -> Result<KeyCondition> {
        let src = string_field(body, "KeyConditionExpression")?.ok_or_else(|| {
            DynamoError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            )
        })?;
        self.used_any = true;
        expr::parse_key_condition(src, &self.resolver, partition, sort)
    }

    /// Every name and value defined was used by an expression of the request.
    pub fn finish(&self) -> Result<()> {
        if !self.used_any {
            if self.has_names {
                return Err(DynamoError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            if self.has_values {
                return Err(DynamoError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression, UpdateExpression and FilterExpression",
                ));
            }
            return Ok(());
        }
        let names = self.resolver.unused_names();
        if !names.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = self.resolver.unused_values();
        if !values.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }

    /// Does `c` hold for `item`?
    pub fn eval(&self, c: &Condition, item: Option<&Item>) -> Result<bool> {
        c.eval(item)
    }

    /// Apply `u` to `item`.
    pub fn apply(&self, u: &Update, item: &mut Item) -> Result<()> {
        u.apply(item)
    }

    /// The top-level attributes `u` writes or removes.
    pub fn touched(&self, u: &Update) -> Vec<String> {
        let mut names: Vec<String> = u.paths().map(|p| p.root.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// `item` projected.
    pub fn project(&self, p: &Projection, item: &Item) -> Item {
        p.apply(item)
    }

    /// The partition-key condition of a key condition.
    pub fn partition<'k>(&self, kc: &'k KeyCondition) -> (&'k str, &'k AttributeValue) {
        kc.partition()
    }

    /// The sort-key condition, with its attribute's name.
    pub fn sort<'k>(&self, kc: &'k KeyCondition) -> Option<(String, &'k SortCondition)> {
        kc.sort().map(|s| (s.name().to_owned(), s))
    }

    /// Does a sort-key value satisfy the condition?
    pub fn sort_matches(&self, s: &SortCondition, v: &AttributeValue) -> bool {
        s.matches(v)
    }
}
