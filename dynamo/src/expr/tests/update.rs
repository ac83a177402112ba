//! Update expressions: every action form, functions, arithmetic, sets, nesting, overlapping
//! paths and DynamoDB's errors.

use super::{VALUES, item, resolver};
use crate::expr::parse_update;

fn base() -> &'static str {
    r#"{
        "a": {"N": "2"}, "s": {"S": "hi"}, "l": {"L": [{"S": "one"}, {"S": "two"}, {"S": "three"}]},
        "ss": {"SS": ["dog", "cat", "mouse"]}, "ns": {"NS": ["1", "2"]},
        "m": {"M": {"x": {"N": "3"}, "c": {"L": [{"S": "hi"}, {"M": {"y": {"L": [{"N": "3"}, {"N": "5"}, {"N": "7"}]}}}]}}},
        "n6": {"L": [{"N": "2"}, {"N": "3"}, {"N": "4"}, {"N": "5"}, {"N": "6"}, {"N": "7"}]}
    }"#
}

/// (expression, the attributes expected to change: name → DynamoDB JSON, or null if removed).
const APPLIED: &[(&str, &str)] = &[
    ("SET b = :one", r#"{"b": {"N": "1"}}"#),
    (
        "set b = :one, c = :two",
        r#"{"b": {"N": "1"}, "c": {"N": "2"}}"#,
    ),
    ("  sEt   b=:one  ", r#"{"b": {"N": "1"}}"#),
    ("SET b = a", r#"{"b": {"N": "2"}}"#),
    ("SET a = a", r#"{}"#),
    ("SET a = a + :one", r#"{"a": {"N": "3"}}"#),
    ("SET a = :one - a", r#"{"a": {"N": "-1"}}"#),
    ("SET b = :one + :two", r#"{"b": {"N": "3"}}"#),
    ("SET b = if_not_exists(b, :one)", r#"{"b": {"N": "1"}}"#),
    ("SET a = if_not_exists(a, :one)", r#"{}"#),
    ("SET b = if_not_exists(a, :one)", r#"{"b": {"N": "2"}}"#),
    (
        "SET b = if_not_exists(b, :one) + :two",
        r#"{"b": {"N": "3"}}"#,
    ),
    (
        "SET b = list_append(:list, :list)",
        r#"{"b": {"L": [{"N": "1"}, {"N": "2"}, {"N": "1"}, {"N": "2"}]}}"#,
    ),
    (
        "SET l = list_append(l, :list)",
        r#"{"l": {"L": [{"S": "one"}, {"S": "two"}, {"S": "three"}, {"N": "1"}, {"N": "2"}]}}"#,
    ),
    (
        "SET l = list_append(:list, l)",
        r#"{"l": {"L": [{"N": "1"}, {"N": "2"}, {"S": "one"}, {"S": "two"}, {"S": "three"}]}}"#,
    ),
    (
        "SET b = list_append(if_not_exists(b, :list), :list)",
        r#"{"b": {"L": [{"N": "1"}, {"N": "2"}, {"N": "1"}, {"N": "2"}]}}"#,
    ),
    (
        "SET l[1] = :one",
        r#"{"l": {"L": [{"S": "one"}, {"N": "1"}, {"S": "three"}]}}"#,
    ),
    (
        "SET l[7] = :one",
        r#"{"l": {"L": [{"S": "one"}, {"S": "two"}, {"S": "three"}, {"N": "1"}]}}"#,
    ),
    (
        "SET l[84] = :one, l[37] = :two, l[17] = :three",
        r#"{"l": {"L": [{"S": "one"}, {"S": "two"}, {"S": "three"}, {"N": "3"}, {"N": "2"}, {"N": "1"}]}}"#,
    ),
    (
        "SET m.x = :one, m.z = :two",
        r#"{"m": {"M": {"x": {"N": "1"}, "z": {"N": "2"}, "c": {"L": [{"S": "hi"}, {"M": {"y": {"L": [{"N": "3"}, {"N": "5"}, {"N": "7"}]}}}]}}}}"#,
    ),
    (
        "SET m.c[1].#y[1] = :one",
        r#"{"m": {"M": {"x": {"N": "3"}, "c": {"L": [{"S": "hi"}, {"M": {"y": {"L": [{"N": "3"}, {"N": "1"}, {"N": "7"}]}}}]}}}}"#,
    ),
    ("SET z = m.c[1].y[2]", r#"{"z": {"N": "7"}}"#),
    ("SET #dot = :one", r#"{"a.b": {"N": "1"}}"#),
    ("REMOVE a", r#"{"a": null}"#),
    ("REMOVE a, s", r#"{"a": null, "s": null}"#),
    ("REMOVE nothing_here", r#"{}"#),
    (
        "REMOVE l[1]",
        r#"{"l": {"L": [{"S": "one"}, {"S": "three"}]}}"#,
    ),
    ("REMOVE l[17]", r#"{}"#),
    ("REMOVE m.nope", r#"{}"#),
    ("REMOVE m.c, m.x", r#"{"m": {"M": {}}}"#),
    (
        "REMOVE n6[1] SET n6[3] = :one",
        r#"{"n6": {"L": [{"N": "2"}, {"N": "4"}, {"N": "1"}, {"N": "6"}, {"N": "7"}]}}"#,
    ),
    (
        "SET n6[3] = :one REMOVE n6[1]",
        r#"{"n6": {"L": [{"N": "2"}, {"N": "4"}, {"N": "1"}, {"N": "6"}, {"N": "7"}]}}"#,
    ),
    ("REMOVE a SET b = a", r#"{"a": null, "b": {"N": "2"}}"#),
    ("ADD a :one", r#"{"a": {"N": "3"}}"#),
    ("ADD b :two", r#"{"b": {"N": "2"}}"#),
    (
        "ADD ss :ss2",
        r#"{"ss": {"SS": ["dog", "cat", "mouse", "pig"]}}"#,
    ),
    ("ADD ns :ns", r#"{}"#),
    ("ADD fresh :ss2", r#"{"fresh": {"SS": ["pig", "cat"]}}"#),
    ("DELETE ss :ss2", r#"{"ss": {"SS": ["dog", "mouse"]}}"#),
    ("DELETE ns :ns", r#"{"ns": null}"#),
    ("DELETE nothing_here :ns", r#"{}"#),
    (
        "ADD a :one, b :one DELETE ss :ss2 REMOVE s SET c = :two",
        r#"{"a": {"N": "3"}, "b": {"N": "1"}, "ss": {"SS": ["dog", "mouse"]}, "s": null, "c": {"N": "2"}}"#,
    ),
];

fn values() -> Vec<(&'static str, &'static str)> {
    VALUES
        .iter()
        .copied()
        .chain([(":ss2", r#"{"SS":["pig","cat"]}"#)])
        .collect()
}

#[test]
fn updates_apply_as_dynamodb_does() {
    for (src, changes) in APPLIED {
        let r = resolver(&[("#y", "y"), ("#dot", "a.b")], &values());
        let u = parse_update(src, &r).unwrap_or_else(|e| panic!("{src}: {}", e.message));
        let mut got = item(base());
        u.apply(&mut got)
            .unwrap_or_else(|e| panic!("{src}: {}", e.message));
        let mut want = item(base());
        let changes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(changes).unwrap();
        for (k, v) in changes {
            if v.is_null() {
                want.remove(&k);
            } else {
                want.insert(k, crate::value::AttributeValue::from_json(&v).unwrap());
            }
        }
        // Sets compare regardless of order.
        assert_eq!(got.len(), want.len(), "{src}: {got:?}");
        for (k, v) in &want {
            assert!(
                crate::expr::compare::equal(&got[k], v),
                "{src}: {k} is {:?}, want {v:?}",
                got[k]
            );
        }
    }
}

#[test]
fn updates_create_missing_items() {
    let r = resolver(&[], &values());
    let mut empty = crate::value::Item::new();
    parse_update("SET a = :one ADD b :two, c :ss2", &r)
        .unwrap()
        .apply(&mut empty)
        .unwrap();
    assert_eq!(empty.len(), 3);
}

/// (expression, substring of the error: at parse time or, failing that, when applied).
const REFUSED: &[(&str, &str)] = &[
    (
        "",
        "Invalid UpdateExpression: The expression can not be empty;",
    ),
    (
        "HELLO b = :one",
        r#"Invalid UpdateExpression: Syntax error; token: "HELLO""#,
    ),
    (
        "SET _123 = :one",
        r#"Syntax error; token: "_", near: "SET _123""#,
    ),
    ("SET 123a = :one", r#"Syntax error; token: "123""#),
    ("SET hi-there = :one", r#"Syntax error; token: "-""#),
    ("SET :one = :two", "Syntax error"),
    ("SET a = :one + :two + :three", r#"token: "+""#),
    ("SET a = if_not_exists(a, :one + :two)", r#"token: "+""#),
    ("SET a[:one] = :two", "Syntax error"),
    ("SET a = _f(b)", "Syntax error"),
    ("SET a = :one,", r#"token: "<EOF>""#),
    ("REMOVE", r#"token: "<EOF>""#),
    ("ADD a", r#"token: "<EOF>""#),
    ("ADD a b", "Syntax error"),
    (
        "SET a = :one SET b = :two",
        r#"Invalid UpdateExpression: The "SET" section can only be used once in an update expression;"#,
    ),
    (
        "SET a = :one REMOVE b SET c = :two",
        r#"The "SET" section can only be used once"#,
    ),
    (
        "SET status = :one",
        "Attribute name is a reserved keyword; reserved keyword: status",
    ),
    ("SET a = f(b)", "Invalid function name; function: f"),
    (
        "SET a = f123_hi(b, c)",
        "Invalid function name; function: f123_hi",
    ),
    (
        "SET a = LIST_APPEND(:list, :list)",
        "Invalid function name; function: LIST_APPEND",
    ),
    ("SET a = size(b)", "Invalid function name; function: size"),
    (
        "SET a = list_append(:list)",
        "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1",
    ),
    (
        "SET a = list_append(:list, :s)",
        "Incorrect operand type for operator or function; operator or function: list_append, operand type: S",
    ),
    (
        "SET a = list_append(list_append(:list, :list), :list)",
        "The function is not allowed to be used this way in an expression; function: list_append",
    ),
    (
        "SET a = if_not_exists(:one, :two)",
        "Operator or function requires a document path; operator or function: if_not_exists",
    ),
    (
        "SET a = if_not_exists(:nope, :two)",
        "An expression attribute value used in expression is not defined; attribute value: :nope",
    ),
    (
        "SET a = :s + :one",
        "Incorrect operand type for operator or function; operator or function: +, operand type: S",
    ),
    (
        "SET a = :one - :list",
        "operator or function: -, operand type: L",
    ),
    (
        "ADD a :s",
        "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
    ),
    ("ADD a :list", "operator: ADD, operand type: LIST"),
    ("DELETE ss :one", "operator: DELETE, operand type: NUMBER"),
    (
        "SET #nope = :one",
        "An expression attribute name used in the document path is not defined; attribute name: #nope",
    ),
    (
        "SET a = :one REMOVE a",
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
    ),
    ("SET a = :one, a = :two", "overlap"),
    ("SET #a1 = :one, #a2 = :two", "path one: [a], path two: [a]"),
    (
        "SET a = :one, a.b = :two",
        "path one: [a], path two: [a, b]",
    ),
    (
        "SET a.b.c.d.e = :one, a.b = :two",
        "path one: [a, b, c, d, e], path two: [a, b]",
    ),
    (
        "SET a[1][1] = :one, a[1] = :two",
        "path one: [a, [1], [1]], path two: [a, [1]]",
    ),
    (
        "SET a.b = :one, a[1] = :two",
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]",
    ),
    ("SET a.b.c = :one, a.b[2] = :two", "conflict"),
    // Errors found when applying.
    (
        "SET c = gone",
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    (
        "SET x = :one, y = x",
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    (
        "SET a = gone + :one",
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    (
        "SET a = s + :one",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "SET a = list_append(s, :list)",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "SET a = list_append(gone, :list)",
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    (
        "ADD s :one",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "ADD ss :ns",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "ADD l :ss2",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "DELETE s :ss2",
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "SET s.c = :one",
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET l.c = :one",
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET gone.c = :one",
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET s[0] = :one",
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "REMOVE s.c",
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "REMOVE gone[0]",
        "The document path provided in the update expression is invalid for update",
    ),
    ("SET a = :big + :big", "Number overflow"),
];

#[test]
fn bad_updates_are_refused_with_dynamodbs_words() {
    let mut vals = values();
    vals.push((
        ":big",
        r#"{"N":"9.9999999999999999999999999999999999999E+125"}"#,
    ));
    for (src, want) in REFUSED {
        let r = resolver(&[("#a1", "a"), ("#a2", "a")], &vals);
        let err = match parse_update(src, &r) {
            Err(e) => e,
            Ok(u) => match u.apply(&mut item(base())) {
                Err(e) => e,
                Ok(()) => panic!("{src}: accepted"),
            },
        };
        assert_eq!(err.kind, crate::ErrorKind::Validation, "{src}");
        assert!(
            err.message.contains(want),
            "{src}: {:?} lacks {want:?}",
            err.message
        );
    }
}

#[test]
fn non_overlapping_nested_updates_are_fine_and_paths_are_reported() {
    let r = resolver(&[], VALUES);
    for src in [
        "SET a.b = :one, a.c = :two",
        "SET a[1] = :one, a[2] = :two",
        "SET a.b = :one, a.c[2] = :two REMOVE b.x, b.y",
    ] {
        parse_update(src, &r).unwrap_or_else(|e| panic!("{src}: {}", e.message));
    }
    let u = parse_update("SET a.b = :one REMOVE c ADD d :one", &r).unwrap();
    let roots: Vec<&str> = u.paths().map(|p| p.root.as_str()).collect();
    assert_eq!(roots, ["a", "c", "d"]);
    assert!(u.touches("a") && u.touches("d") && !u.touches("b"));
}

#[test]
fn unused_names_and_values_across_expressions() {
    let r = resolver(
        &[("#one", "c"), ("#two", "a"), ("#three", "z")],
        &[(":v", r#"{"N":"1"}"#)],
    );
    parse_update("SET #one = #two", &r).unwrap();
    assert_eq!(r.unused_names(), ["#three"]);
    assert_eq!(r.unused_values(), [":v"]);
}
