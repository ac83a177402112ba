//! Attribute-value tests: every type round-trips through DynamoDB JSON; malformed values get
//! DynamoDB's errors.

use serde_json::json;

use super::*;
use crate::error::ErrorKind;

fn av(v: Value) -> AttributeValue {
    AttributeValue::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn err(v: Value) -> DynamoError {
    AttributeValue::from_json(&v).unwrap_err()
}

#[test]
fn every_type_round_trips() {
    for v in [
        json!({"S": "hello"}),
        json!({"S": ""}),
        json!({"N": "-12.5"}),
        json!({"B": "AAEC"}),
        json!({"B": ""}),
        json!({"BOOL": true}),
        json!({"BOOL": false}),
        json!({"NULL": true}),
        json!({"L": [{"S": "a"}, {"N": "1"}, {"L": []}]}),
        json!({"M": {"a": {"S": "x"}, "b": {"M": {"c": {"NULL": true}}}}}),
        json!({"SS": ["a", "b"]}),
        json!({"NS": ["1", "2.5"]}),
        json!({"BS": ["AA==", "AQ=="]}),
    ] {
        assert_eq!(av(v.clone()).to_json(), v);
    }
}

#[test]
fn numbers_come_back_canonical() {
    assert_eq!(av(json!({"N": "1.50"})).to_json(), json!({"N": "1.5"}));
    assert_eq!(
        av(json!({"NS": ["1e2", "0.10"]})).to_json(),
        json!({"NS": ["100", "0.1"]})
    );
}

#[test]
fn malformed_values_get_dynamodbs_errors() {
    for (v, kind, needle) in [
        (
            json!({}),
            ErrorKind::Validation,
            "Supplied AttributeValue is empty",
        ),
        (
            json!({"X": 1}),
            ErrorKind::Validation,
            "Supplied AttributeValue is empty",
        ),
        (
            json!({"S": "a", "N": "1"}),
            ErrorKind::Validation,
            "more than one datatypes",
        ),
        (json!({"N": 123}), ErrorKind::Serialization, "NUMBER_VALUE"),
        (json!({"S": 5}), ErrorKind::Serialization, "NUMBER_VALUE"),
        (json!({"N": "dog"}), ErrorKind::Validation, "numeric value"),
        (
            json!({"SS": []}),
            ErrorKind::Validation,
            "An string set  may not be empty",
        ),
        (
            json!({"NS": []}),
            ErrorKind::Validation,
            "An number set  may not be empty",
        ),
        (
            json!({"BS": []}),
            ErrorKind::Validation,
            "An binary set  may not be empty",
        ),
        (
            json!({"SS": ["a", "a"]}),
            ErrorKind::Validation,
            "contains duplicates",
        ),
        (
            json!({"NS": ["1", "1.0"]}),
            ErrorKind::Validation,
            "contains duplicates",
        ),
        (
            json!({"B": "not base64!"}),
            ErrorKind::Serialization,
            "Base64",
        ),
        (
            json!({"NULL": false}),
            ErrorKind::Validation,
            "Null attribute value types must have the value of true",
        ),
        (json!("S"), ErrorKind::Serialization, "must be an object"),
        (
            json!({"L": {"S": "a"}}),
            ErrorKind::Serialization,
            "expected a list",
        ),
    ] {
        let e = err(v.clone());
        assert_eq!(e.kind, kind, "{v}: {e}");
        assert!(e.message.contains(needle), "{v}: {e}");
    }
}

#[test]
fn item_size_counts_names_and_values() {
    let item =
        map_from_json(&json!({"pk": {"S": "abc"}, "n": {"N": "12345"}, "b": {"BOOL": true}}))
            .unwrap();
    // 2+3, 1+(5 digits → 3+1), 1+1
    assert_eq!(item_size(&item), 5 + 5 + 2);
    let big = map_from_json(&json!({"pk": {"S": "x".repeat(MAX_ITEM_BYTES)}})).unwrap();
    assert!(
        check_item_size(&big)
            .unwrap_err()
            .message
            .contains("maximum allowed size")
    );
}

#[test]
fn nesting_deeper_than_dynamodbs_limit_is_refused() {
    let nest = |depth: usize| {
        let mut v = json!({"S": "leaf"});
        for _ in 0..depth {
            v = json!({"L": [v]});
        }
        v
    };
    av(nest(MAX_NESTING));
    let e = err(nest(MAX_NESTING + 1));
    assert_eq!(e.message, "Nesting Levels have exceeded supported limits");
}
