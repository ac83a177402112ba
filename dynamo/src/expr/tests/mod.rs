//! Table-driven tests of the expression languages, one file per language, with shared helpers
//! to build values, items and resolvers.

use std::collections::HashMap;

use crate::{
    number::Number,
    value::{AttributeValue, Item},
};

use super::Resolver;

mod condition;
mod fuzz;
mod key;
mod projection;
mod update;

/// Decode DynamoDB JSON (a test's shorthand for values).
pub fn av(json: &str) -> AttributeValue {
    AttributeValue::from_json(&serde_json::from_str(json).expect("test JSON")).expect("test value")
}

/// An item from a DynamoDB JSON map.
pub fn item(json: &str) -> Item {
    crate::value::map_from_json(&serde_json::from_str(json).expect("test JSON")).expect("test item")
}

/// A number.
pub fn n(s: &str) -> AttributeValue {
    AttributeValue::N(s.parse::<Number>().expect("test number"))
}

/// A resolver from `#name=attr` pairs and `:value` → DynamoDB JSON pairs.
pub fn resolver(names: &[(&str, &str)], values: &[(&str, &str)]) -> Resolver {
    let names: HashMap<String, String> = names
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let values: HashMap<String, AttributeValue> = values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), av(v)))
        .collect();
    Resolver::new(&names, &values)
}

/// The values most tests use.
pub const VALUES: &[(&str, &str)] = &[
    (":one", r#"{"N":"1"}"#),
    (":two", r#"{"N":"2"}"#),
    (":three", r#"{"N":"3"}"#),
    (":s", r#"{"S":"hello"}"#),
    (":hell", r#"{"S":"hell"}"#),
    (":dog", r#"{"S":"dog"}"#),
    (":b", r#"{"B":"aGk="}"#),
    (":list", r#"{"L":[{"N":"1"},{"N":"2"}]}"#),
    (":ss", r#"{"SS":["b","a"]}"#),
    (":ns", r#"{"NS":["1","2"]}"#),
    (":t", r#"{"S":"N"}"#),
    (":tdog", r#"{"S":"DOG"}"#),
    (":map", r#"{"M":{"x":{"N":"1"}}}"#),
    (":null", r#"{"NULL":true}"#),
    (":true", r#"{"BOOL":true}"#),
];
