//! The legacy (pre-expression) parameters, still sent by older application code and tools:
//! `AttributesToGet`, `Expected` (with `ConditionalOperator`), `AttributeUpdates`,
//! `KeyConditions`, `QueryFilter` and `ScanFilter`. Each is rewritten into the expression it
//! means, with generated placeholders, so one evaluator serves both; mixing the two styles in
//! one request is refused, as DynamoDB refuses it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::error::{DynamoError, Result};

const LEGACY: [&str; 7] = [
    "AttributesToGet",
    "Expected",
    "AttributeUpdates",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
    "ConditionalOperator",
];

const EXPRESSIONS: [&str; 7] = [
    "ProjectionExpression",
    "ConditionExpression",
    "UpdateExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
];

fn present<'a>(body: &Value, names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|n| body.get(*n).is_some_and(|v| !v.is_null()))
        .collect()
}

/// Placeholders generated for one request.
#[derive(Default)]
struct Placeholders {
    names: Map<String, Value>,
    values: Map<String, Value>,
}

impl Placeholders {
    fn name(&mut self, attr: &str) -> String {
        let p = format!("#legacy{}", self.names.len());
        self.names.insert(p.clone(), Value::String(attr.to_owned()));
        p
    }

    fn value(&mut self, v: &Value) -> String {
        let p = format!(":legacy{}", self.values.len());
        self.values.insert(p.clone(), v.clone());
        p
    }
}

fn invalid(msg: impl Into<String>) -> DynamoError {
    DynamoError::validation(format!(
        "One or more parameter values were invalid: {}",
        msg.into()
    ))
}

/// One `{ComparisonOperator, AttributeValueList}` condition on `attr`.
fn comparison(p: &mut Placeholders, attr: &str, cond: &Value) -> Result<String> {
    let op = cond
        .get("ComparisonOperator")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("ComparisonOperator is required for {attr}")))?;
    let list: Vec<Value> = cond
        .get("AttributeValueList")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let want = |n: usize| -> Result<()> {
        if list.len() == n {
            Ok(())
        } else {
            Err(invalid(format!(
                "Invalid number of argument(s) for the {op} ComparisonOperator"
            )))
        }
    };
    let n = p.name(attr);
    Ok(match op {
        "EQ" | "NE" | "LE" | "LT" | "GE" | "GT" => {
            want(1)?;
            let sym = match op {
                "EQ" => "=",
                "NE" => "<>",
                "LE" => "<=",
                "LT" => "<",
                "GE" => ">=",
                _ => ">",
            };
            format!("{n} {sym} {}", p.value(&list[0]))
        }
        "NOT_NULL" => {
            want(0)?;
            format!("attribute_exists({n})")
        }
        "NULL" => {
            want(0)?;
            format!("attribute_not_exists({n})")
        }
        "CONTAINS" | "NOT_CONTAINS" | "BEGINS_WITH" => {
            want(1)?;
            let v = p.value(&list[0]);
            match op {
                "CONTAINS" => format!("contains({n}, {v})"),
                "NOT_CONTAINS" => format!("NOT contains({n}, {v})"),
                _ => format!("begins_with({n}, {v})"),
            }
        }
        "IN" => {
            if list.is_empty() {
                want(1)?;
            }
            let vs: Vec<String> = list.iter().map(|v| p.value(v)).collect();
            format!("{n} IN ({})", vs.join(", "))
        }
        "BETWEEN" => {
            want(2)?;
            format!(
                "{n} BETWEEN {} AND {}",
                p.value(&list[0]),
                p.value(&list[1])
            )
        }
        other => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
                crate::value::excerpt(other)
            )));
        }
    })
}

/// A map of conditions joined by `join`; `expected`: `Expected`'s `{Value, Exists}` form is
/// allowed; `wrap`: each condition in parentheses (not in key conditions, whose grammar has none).
fn conditions(
    p: &mut Placeholders,
    map: &Value,
    join: &str,
    expected: bool,
    wrap: bool,
) -> Result<String> {
    let map = map
        .as_object()
        .ok_or_else(|| DynamoError::serialization("expected a map of conditions"))?;
    let mut parts = Vec::new();
    for (attr, cond) in map {
        let part = if expected && cond.get("ComparisonOperator").is_none() {
            // {Value, Exists}
            let exists = cond.get("Exists").and_then(Value::as_bool).unwrap_or(true);
            match (exists, cond.get("Value")) {
                (true, Some(v)) => {
                    let n = p.name(attr);
                    format!("{n} = {}", p.value(v))
                }
                (false, None) => format!("attribute_not_exists({})", p.name(attr)),
                (true, None) => {
                    return Err(invalid(format!(
                        "Value must be provided when Exists is true for Attribute: {attr}"
                    )));
                }
                (false, Some(_)) => {
                    return Err(invalid(format!(
                        "Value cannot be used when Exists is false for Attribute: {attr}"
                    )));
                }
            }
        } else {
            comparison(p, attr, cond)?
        };
        parts.push(if wrap { format!("({part})") } else { part });
    }
    Ok(parts.join(&format!(" {join} ")))
}

fn updates(p: &mut Placeholders, map: &Value) -> Result<String> {
    let map = map
        .as_object()
        .ok_or_else(|| DynamoError::serialization("AttributeUpdates must be a map"))?;
    let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
    for (attr, u) in map {
        let action = u.get("Action").and_then(Value::as_str).unwrap_or("PUT");
        let value = u.get("Value").filter(|v| !v.is_null());
        let n = p.name(attr);
        match (action, value) {
            ("PUT", Some(v)) => set.push(format!("{n} = {}", p.value(v))),
            ("DELETE", None) => remove.push(n),
            ("DELETE", Some(v)) => delete.push(format!("{n} {}", p.value(v))),
            ("ADD", Some(v)) => add.push(format!("{n} {}", p.value(v))),
            ("PUT" | "ADD", None) => {
                return Err(invalid(format!(
                    "Only DELETE action is allowed when no attribute value is specified: {attr}"
                )));
            }
            (other, _) => {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{}' at 'attributeUpdates.{attr}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]",
                    crate::value::excerpt(other)
                )));
            }
        }
    }
    let mut clauses = Vec::new();
    for (kw, items) in [
        ("SET", set),
        ("REMOVE", remove),
        ("ADD", add),
        ("DELETE", delete),
    ] {
        if !items.is_empty() {
            clauses.push(format!("{kw} {}", items.join(", ")));
        }
    }
    Ok(clauses.join(" "))
}

/// `body` with its legacy parameters rewritten as expressions (unchanged when it has none).
pub fn translate(body: &Value) -> Result<Cow<'_, Value>> {
    let legacy = present(body, &LEGACY);
    if legacy.is_empty() {
        return Ok(Cow::Borrowed(body));
    }
    let exprs = present(body, &EXPRESSIONS);
    if !exprs.is_empty() {
        return Err(DynamoError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            legacy.join(", "),
            exprs.join(", ")
        )));
    }
    let join = match body.get("ConditionalOperator").and_then(Value::as_str) {
        None | Some("AND") => "AND",
        Some("OR") => "OR",
        Some(other) => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
                crate::value::excerpt(other)
            )));
        }
    };
    let mut p = Placeholders::default();
    let mut out = body.clone();
    let o = out.as_object_mut().expect("a request body is an object");
    for name in LEGACY {
        o.remove(name);
    }
    if let Some(attrs) = body.get("AttributesToGet").and_then(Value::as_array) {
        let names: Vec<String> = attrs
            .iter()
            .filter_map(Value::as_str)
            .map(|a| p.name(a))
            .collect();
        o.insert(
            "ProjectionExpression".into(),
            Value::String(names.join(", ")),
        );
    }
    if let Some(e) = body.get("Expected") {
        let c = conditions(&mut p, e, join, true, true)?;
        o.insert("ConditionExpression".into(), Value::String(c));
    }
    if let Some(u) = body.get("AttributeUpdates") {
        let u = updates(&mut p, u)?;
        if !u.is_empty() {
            o.insert("UpdateExpression".into(), Value::String(u));
        }
    }
    if let Some(k) = body.get("KeyConditions") {
        let c = conditions(&mut p, k, "AND", false, false)?;
        o.insert("KeyConditionExpression".into(), Value::String(c));
    }
    for filter in ["QueryFilter", "ScanFilter"] {
        if let Some(f) = body.get(filter) {
            let c = conditions(&mut p, f, join, false, true)?;
            o.insert("FilterExpression".into(), Value::String(c));
        }
    }
    if !p.names.is_empty() {
        o.insert("ExpressionAttributeNames".into(), Value::Object(p.names));
    }
    if !p.values.is_empty() {
        o.insert("ExpressionAttributeValues".into(), Value::Object(p.values));
    }
    Ok(Cow::Owned(out))
}
