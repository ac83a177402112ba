//! Condition and filter expressions: operators, functions, types, precedence, paths,
//! placeholders, reserved words and syntax errors.

use super::{VALUES, item, resolver};
use crate::{
    expr::{ExprKind, parse_condition},
    value::Item,
};

fn sample() -> Item {
    item(
        r#"{
        "a": {"N": "1"}, "b": {"N": "2"}, "c": {"N": "3"},
        "s": {"S": "hello"}, "bin": {"B": "aGkgdGhlcmU="},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["2", "4", "7"]},
        "l": {"L": [{"N": "2"}, {"S": "dog"}, {"L": [{"N": "3"}]}]},
        "m": {"M": {"x": {"N": "1"}, "y": {"L": [{"N": "-1"}, {"N": "2"}, {"N": "0"}]}}},
        "t": {"BOOL": true}, "z": {"NULL": true}, "one": {"N": "1"},
        "and": {"M": {"or": {"N": "2"}}}
    }"#,
    )
}

/// (expression, expected result on `sample()`).
const HOLDS: &[(&str, bool)] = &[
    // comparisons
    ("a = :one", true),
    ("a = one", true),
    ("a = b", false),
    ("a <> :two", true),
    ("a <> a_missing", true),
    ("q = z_missing", false),
    ("q <> z_missing", true),
    ("a < :two", true),
    ("a <= :one", true),
    ("a > :one", false),
    ("a >= :one", true),
    ("b > a", true),
    ("s < :dog", false),
    ("s > :dog", true),
    ("s = :s", true),
    ("a = :s", false),
    ("s < :one", false),
    ("l > :one", false),
    ("gone < :one", false),
    (":one < gone", false),
    ("ss = :ss", true),
    ("ns = :ns", false),
    ("m.x = :one", true),
    ("m.y[1] = :two", true),
    ("m.x < m.y[1]", true),
    ("m.x < m.y[0]", false),
    ("m.q < m.y[100]", false),
    ("l[2][0] = :three", true),
    ("#a1.#a2 = :two", true),
    ("(a) = (:one)", true),
    // BETWEEN
    ("a BETWEEN :one AND :two", true),
    ("b between a and c", true),
    ("c BETWEEN a AND b", false),
    ("s BETWEEN :hell AND :s", true),
    ("a BETWEEN :hell AND :s", false),
    ("gone BETWEEN :one AND :two", false),
    ("a BETWEEN b AND :two", false),
    // IN
    ("a IN (:one)", true),
    ("a IN (:two, :three)", false),
    ("a IN (:s, :three, :one)", true),
    ("gone IN (:one)", false),
    ("ss IN (:ss)", true),
    // functions
    ("attribute_exists(a)", true),
    ("attribute_exists (m.x)", true),
    ("attribute_exists(m.nope)", false),
    ("attribute_not_exists(nope)", true),
    ("attribute_not_exists(a)", false),
    ("attribute_type(a, :t)", true),
    ("attribute_type(s, :t)", false),
    ("attribute_type(:one, :t)", true),
    ("begins_with(s, :hell)", true),
    ("begins_with(s, :dog)", false),
    ("begins_with(bin, :b)", true),
    ("begins_with(a, :hell)", false),
    ("begins_with(gone, :hell)", false),
    ("contains(s, :hell)", true),
    ("contains(ss, :dog)", false),
    ("contains(ns, :two)", true),
    ("contains(l, :dog)", true),
    ("contains(l, :two)", true),
    ("contains(l, :list)", false),
    ("contains(bin, :b)", true),
    ("contains(a, :one)", false),
    ("size(s) = :five", true),
    ("size(bin) = :eight", true),
    ("size(ss) = :two", true),
    ("size(ns) = :three", true),
    ("size(l) = :three", true),
    ("size(m) = :two", true),
    ("size(a) = :one", false),
    ("size(t) = :one", false),
    ("size(z) = :one", false),
    ("size(gone) = :one", false),
    ("size(s) = :s", false),
    ("size(s) > b", true),
    ("size(s) <> :one", true),
    // boolean logic and precedence
    ("a < b AND b < c", true),
    ("a < b aNd c < b", false),
    ("b < a OR b < c", true),
    ("b < a oR c < b", false),
    ("NOT b < a", true),
    ("nOt a < b", false),
    ("NOT NOT NOT NOT a < b", true),
    ("a < b OR c < b AND b < c", true),
    ("NOT a < b AND c < b", false),
    ("(NOT a < b) AND c < b", false),
    ("NOT (a < b AND c < b)", true),
    ("b BETWEEN a AND c AND a < b", true),
    ("(a < b OR b < a) AND (b < c AND (a < b OR b < c))", true),
    ("a = :two OR a = :one AND b = :two", true),
    ("(a = :two OR a = :one) AND b = :one", false),
];

#[test]
fn conditions_evaluate_as_dynamodb_does() {
    let values: Vec<(&str, &str)> = VALUES
        .iter()
        .copied()
        .chain([(":five", r#"{"N":"5"}"#), (":eight", r#"{"N":"8"}"#)])
        .collect();
    let item = sample();
    for (src, want) in HOLDS {
        let r = resolver(&[("#a1", "and"), ("#a2", "or")], &values);
        let c = parse_condition(src, ExprKind::Condition, &r)
            .unwrap_or_else(|e| panic!("{src}: {}", e.message));
        assert_eq!(c.eval(Some(&item)).unwrap(), *want, "{src}");
    }
}

#[test]
fn a_missing_item_has_no_attributes() {
    for (src, want) in [
        ("attribute_not_exists(a)", true),
        ("attribute_exists(a)", false),
        ("a = :one", false),
        ("a <> :one", true),
        ("NOT a = :one", true),
    ] {
        let r = resolver(&[], VALUES);
        let c = parse_condition(src, ExprKind::Condition, &r).unwrap();
        assert_eq!(c.eval(None).unwrap(), want, "{src}");
    }
}

/// (expression, kind, substring of the expected message).
const REFUSED: &[(&str, ExprKind, &str)] = &[
    (
        "",
        ExprKind::Condition,
        "Invalid ConditionExpression: The expression can not be empty;",
    ),
    (
        "   ",
        ExprKind::Filter,
        "Invalid FilterExpression: The expression can not be empty;",
    ),
    (
        "a =",
        ExprKind::Condition,
        r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "=""#,
    ),
    (
        "a == :one",
        ExprKind::Condition,
        r#"Syntax error; token: "=", near: "=="#,
    ),
    (
        "a != :one",
        ExprKind::Filter,
        r#"Invalid FilterExpression: Syntax error; token: "!", near: "a !=""#,
    ),
    (
        "a IN ()",
        ExprKind::Condition,
        r#"Syntax error; token: ")", near: "()""#,
    ),
    (
        "a = :one AND",
        ExprKind::Condition,
        r#"Syntax error; token: "<EOF>", near: "AND""#,
    ),
    (
        "a",
        ExprKind::Condition,
        r#"Syntax error; token: "<EOF>", near: "a""#,
    ),
    (":one", ExprKind::Condition, "Syntax error"),
    (
        "a = :one b",
        ExprKind::Condition,
        r#"Syntax error; token: "b""#,
    ),
    (
        "_a = :one",
        ExprKind::Condition,
        r#"Syntax error; token: "_""#,
    ),
    ("a[:one] = :one", ExprKind::Condition, "Syntax error"),
    ("a[#n] = :one", ExprKind::Condition, "Syntax error"),
    ("(size(a))[0] > a", ExprKind::Condition, "Syntax error"),
    ("a BETWEEN :one", ExprKind::Condition, "Syntax error"),
    ("(a = :one) = :two", ExprKind::Condition, "Syntax error"),
    ("# = :one", ExprKind::Condition, "Syntax error"),
    ("a = :", ExprKind::Condition, "Syntax error"),
    ("a = :one)", ExprKind::Condition, r#"token: ")""#),
    (
        "status = :one",
        ExprKind::Condition,
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
    ),
    (
        "a.Name = :one",
        ExprKind::Filter,
        "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: Name",
    ),
    (
        "attribute_exists(DATA)",
        ExprKind::Condition,
        "reserved keyword: DATA",
    ),
    (
        "#nope = :one",
        ExprKind::Condition,
        "An expression attribute name used in the document path is not defined; attribute name: #nope",
    ),
    (
        "a = :nope",
        ExprKind::Condition,
        "An expression attribute value used in expression is not defined; attribute value: :nope",
    ),
    (
        "dog(a) = :one",
        ExprKind::Condition,
        "Invalid function name; function: dog",
    ),
    (
        "dog(a)",
        ExprKind::Condition,
        "Invalid function name; function: dog",
    ),
    (
        "BEGINS_WITH(a, :s)",
        ExprKind::Condition,
        "Invalid function name; function: BEGINS_WITH",
    ),
    (
        "size(a)",
        ExprKind::Condition,
        "The function is not allowed to be used this way in an expression; function: size",
    ),
    (
        "attribute_exists(a) < :one",
        ExprKind::Condition,
        "not allowed to be used this way in an expression; function: attribute_exists",
    ),
    (
        "if_not_exists(a, a) = :one",
        ExprKind::Condition,
        "not allowed to be used this way in an expression; function: if_not_exists",
    ),
    (
        "list_append(a, a) = :one",
        ExprKind::Condition,
        "function: list_append",
    ),
    (
        "size(a, b) = :one",
        ExprKind::Condition,
        "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
    ),
    (
        "begins_with(a)",
        ExprKind::Condition,
        "operator or function: begins_with, number of operands: 1",
    ),
    (
        "attribute_exists(:one)",
        ExprKind::Condition,
        "Operator or function requires a document path; operator or function: attribute_exists",
    ),
    (
        "begins_with(a, :one)",
        ExprKind::Condition,
        "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
    ),
    (
        "attribute_type(a, b)",
        ExprKind::Condition,
        "operator or function: attribute_type, operand type:",
    ),
    (
        "attribute_type(a, :one)",
        ExprKind::Condition,
        "operator or function: attribute_type, operand type: N",
    ),
    (
        "attribute_type(a, :tdog)",
        ExprKind::Condition,
        "Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
    ),
    (
        "size(:one) = :one",
        ExprKind::Condition,
        "operator or function: size, operand type: N",
    ),
    (
        "a >= :list",
        ExprKind::Condition,
        "Incorrect operand type for operator or function; operator or function: >=, operand type: L",
    ),
    (
        ":list < a",
        ExprKind::Condition,
        "operator or function: <, operand type: L",
    ),
    (
        "a BETWEEN :list AND :list",
        ExprKind::Condition,
        "operator or function: BETWEEN, operand type: L",
    ),
    (
        "a BETWEEN :two AND :one",
        ExprKind::Condition,
        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}",
    ),
    (
        "a BETWEEN :one AND :s",
        ExprKind::Condition,
        "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:hello}",
    ),
    (
        "contains(a, a)",
        ExprKind::Condition,
        "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]",
    ),
    (
        "((a = :one))",
        ExprKind::Condition,
        "The expression has redundant parentheses;",
    ),
];

#[test]
fn bad_conditions_are_refused_with_dynamodbs_words() {
    for (src, kind, want) in REFUSED {
        let r = resolver(&[], VALUES);
        match parse_condition(src, *kind, &r) {
            Ok(c) => panic!("{src}: accepted as {c:?}"),
            Err(e) => {
                assert_eq!(e.kind, crate::ErrorKind::Validation, "{src}");
                assert!(
                    e.message.contains(want),
                    "{src}: {:?} lacks {want:?}",
                    e.message
                );
            }
        }
    }
}

#[test]
fn in_takes_up_to_100_values() {
    let values: Vec<(String, String)> = (0..101)
        .map(|i| (format!(":v{i}"), format!(r#"{{"N":"{i}"}}"#)))
        .collect();
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let list = |n: usize| {
        (0..n)
            .map(|i| format!(":v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let r = resolver(&[], &pairs);
    let c = parse_condition(&format!("a IN ({})", list(100)), ExprKind::Condition, &r).unwrap();
    assert!(c.eval(Some(&item(r#"{"a":{"N":"74"}}"#))).unwrap());
    assert!(!c.eval(Some(&item(r#"{"a":{"N":"174"}}"#))).unwrap());
    let e = parse_condition(&format!("a IN ({})", list(101)), ExprKind::Condition, &r).unwrap_err();
    assert!(
        e.message
            .contains("too many operands; number of operands: 101"),
        "{}",
        e.message
    );
}

#[test]
fn placeholders_used_by_any_expression_count_as_used() {
    let r = resolver(
        &[("#n1", "a"), ("#n2", "b"), ("#n3", "c")],
        &[
            (":v1", r#"{"N":"1"}"#),
            (":v2", r#"{"N":"2"}"#),
            (":v3", r#"{"N":"3"}"#),
        ],
    );
    // Short-circuit evaluation must not matter: parsing marks use.
    parse_condition("#n1 = :v1 OR #n2 = :v2", ExprKind::Condition, &r).unwrap();
    assert_eq!(r.unused_names(), vec!["#n3"]);
    assert_eq!(r.unused_values(), vec![":v3"]);
    let e = r.check_all_used().unwrap_err();
    assert_eq!(
        e.message,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n3}"
    );
    parse_condition("#n3 = :v3", ExprKind::Filter, &r).unwrap();
    r.check_all_used().unwrap();

    let r = resolver(&[], &[(":a", r#"{"N":"1"}"#), (":b", r#"{"N":"1"}"#)]);
    let e = r.check_all_used().unwrap_err();
    assert_eq!(
        e.message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}"
    );
}

#[test]
fn names_dynamodb_allows_unquoted_and_placeholders() {
    let item = item(r#"{"Alpha_Numeric_123": {"N":"1"}, "3 odd.#=": {"N":"1"}}"#);
    for (src, names) in [
        ("Alpha_Numeric_123 = :one", vec![]),
        ("#123a = :one", vec![("#123a", "3 odd.#=")]),
        ("#_ = :one", vec![("#_", "3 odd.#=")]),
    ] {
        let r = resolver(&names, VALUES);
        let c = parse_condition(src, ExprKind::Condition, &r).unwrap();
        assert!(c.eval(Some(&item)).unwrap(), "{src}");
    }
}

#[test]
fn too_long_and_too_deep_are_refused_without_parsing() {
    let r = resolver(&[], VALUES);
    let long = format!("a = :one{}", " ".repeat(4100));
    let e = parse_condition(&long, ExprKind::Condition, &r).unwrap_err();
    assert!(e.message.starts_with(
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4108"
    ));
    let deep = format!("{}a = :one{}", "(".repeat(1000), ")".repeat(1000));
    let e = parse_condition(&deep, ExprKind::Condition, &r).unwrap_err();
    assert!(e.message.contains("nested"), "{}", e.message);
    let nots = format!("{}a = :one", "NOT ".repeat(1000));
    assert!(parse_condition(&nots, ExprKind::Condition, &r).is_ok());
    // At the limit: parsed (and refused for other reasons), no overflow.
    let at_limit = format!("{}a = :one{}", "(".repeat(64), ")".repeat(64));
    let e = parse_condition(&at_limit, ExprKind::Condition, &r).unwrap_err();
    assert!(e.message.contains("redundant parentheses"), "{}", e.message);
    let sizes = format!("{}a{} = :one", "size(".repeat(64), ")".repeat(64));
    assert!(parse_condition(&sizes, ExprKind::Condition, &r).is_ok());
    let ands = vec!["a = :one"; 300].join(" AND ");
    assert!(parse_condition(&ands, ExprKind::Condition, &r).is_ok());
}
