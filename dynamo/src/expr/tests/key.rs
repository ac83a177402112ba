//! Key condition expressions: what is allowed, how sort-key conditions match, and what
//! DynamoDB refuses.

use super::{VALUES, n, resolver};
use crate::{
    expr::{SortOp, parse_key_condition},
    value::AttributeValue,
};

fn s(x: &str) -> AttributeValue {
    AttributeValue::S(x.to_owned())
}

/// (expression, sort values 0..=4 that match; None: no sort condition).
const ALLOWED: &[(&str, Option<&[i32]>)] = &[
    ("p = :one", None),
    (" p  =   :one ", None),
    (":one = p", None),
    ("#p = :one AND #c = :two", Some(&[2])),
    ("p = :one AND c < :two", Some(&[0, 1])),
    ("p = :one AND c <= :two", Some(&[0, 1, 2])),
    ("p = :one AND c > :two", Some(&[3, 4])),
    ("p = :one AND c >= :two", Some(&[2, 3, 4])),
    ("p = :one AND :two < c", Some(&[3, 4])),
    ("p = :one AND :two >= c", Some(&[0, 1, 2])),
    ("c = :two AND p = :one", Some(&[2])),
    ("p=:one AnD c BeTwEeN :one aNd :three", Some(&[1, 2, 3])),
    ("((c = :two) AND (p = :one))", Some(&[2])),
];

#[test]
fn allowed_key_conditions() {
    for (src, want) in ALLOWED {
        let r = resolver(&[("#p", "p"), ("#c", "c")], VALUES);
        let k = parse_key_condition(src, &r, "p", Some("c"))
            .unwrap_or_else(|e| panic!("{src}: {}", e.message));
        assert_eq!(k.partition(), ("p", &n("1")), "{src}");
        match (k.sort(), want) {
            (None, None) => {}
            (Some(sc), Some(want)) => {
                assert_eq!(sc.name(), "c");
                let got: Vec<i32> = (0..5).filter(|i| sc.matches(&n(&i.to_string()))).collect();
                assert_eq!(&got, want, "{src}");
                assert!(!sc.matches(&s("2")), "{src}: other types never match");
            }
            (got, want) => panic!("{src}: {got:?} vs {want:?}"),
        }
    }
}

#[test]
fn begins_with_on_strings_and_binaries() {
    let r = resolver(&[], &[(":p", r#"{"S":"k"}"#), (":pre", r#"{"S":"00"}"#)]);
    let k = parse_key_condition("p = :p AND begins_with(c, :pre)", &r, "p", Some("c")).unwrap();
    let sc = k.sort().unwrap();
    assert_eq!(sc.op(), &SortOp::BeginsWith(s("00")));
    assert!(sc.matches(&s("003")) && !sc.matches(&s("013")) && !sc.matches(&n("0")));
    let r = resolver(
        &[],
        &[
            (":p", r#"{"S":"k"}"#),
            (":b", r#"{"B":"fw=="}"#),
            (":b2", r#"{"B":"gA=="}"#),
        ],
    );
    let k = parse_key_condition("p = :p AND c BETWEEN :b AND :b2", &r, "p", Some("c")).unwrap();
    let sc = k.sort().unwrap();
    // Binaries order as unsigned bytes: 0x7f < 0x80.
    assert!(
        sc.matches(&AttributeValue::B(vec![0x80])) && !sc.matches(&AttributeValue::B(vec![0x7e]))
    );
}

/// (expression, substring of the error).
const REFUSED: &[(&str, &str)] = &[
    (
        "",
        "Invalid KeyConditionExpression: The expression can not be empty;",
    ),
    (
        "p = :one AND c != :two",
        "Invalid KeyConditionExpression: Syntax error;",
    ),
    ("p", "Syntax error"),
    (":one", "Syntax error"),
    (
        "p = :one AND p = :one",
        "KeyConditionExpressions must only contain one condition per key",
    ),
    (
        "p = :one AND c >= :one AND c <= :two",
        "KeyConditionExpressions must only contain one condition per key",
    ),
    (
        "p = :one AND c < :one AND a < :one",
        "Conditions can be of length 1 or 2 only",
    ),
    (
        "p = :nope",
        "An expression attribute value used in expression is not defined; attribute value: :nope",
    ),
    ("p < :one", "Query key condition not supported"),
    ("c = :one", "Query condition missed key schema element: p"),
    ("p = :one AND a < :one", "Query key condition not supported"),
    (
        "p = :one AND a.b < :one",
        "KeyConditionExpressions cannot have conditions on nested attributes",
    ),
    (
        "p = :one AND size(c) < :one",
        "KeyConditionExpressions cannot contain nested operations",
    ),
    (
        "p = c",
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
    ),
    (
        ":one = :two",
        "Invalid condition in KeyConditionExpression: No key attribute specified",
    ),
    (
        "p = :one AND c <> :one",
        "Invalid operator used in KeyConditionExpression: <>",
    ),
    (
        "p = :one AND c IN (:one)",
        "Invalid operator used in KeyConditionExpression: IN",
    ),
    (
        "c = :one OR p = :one",
        "Invalid operator used in KeyConditionExpression: OR",
    ),
    (
        "NOT c = :one AND p = :one",
        "Invalid operator used in KeyConditionExpression: NOT",
    ),
    (
        "p = :one AND attribute_exists(c)",
        "Invalid operator used in KeyConditionExpression: attribute_exists",
    ),
    (
        "p = :one AND dog(c, :one)",
        "Invalid KeyConditionExpression: Invalid function name; function: dog",
    ),
    (
        "p = :one AND BEGINS_WITH(c, :s)",
        "Invalid function name; function: BEGINS_WITH",
    ),
    (
        "p = :one AND begins_with(c, :one)",
        "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
    ),
    (
        "p = :one AND begins_with(:s, c)",
        "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
    ),
    (
        "p = :one AND :one BETWEEN c AND :two",
        "BETWEEN operator must have the key attribute as its first operand",
    ),
    (
        "p = :one AND c BETWEEN :two AND :one",
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
    ),
    (
        "((c = :one) AND ((p = :one)))",
        "The expression has redundant parentheses;",
    ),
];

#[test]
fn refused_key_conditions() {
    for (src, want) in REFUSED {
        let r = resolver(&[], VALUES);
        let e = parse_key_condition(src, &r, "p", Some("c")).expect_err(src);
        assert!(
            e.message.contains(want),
            "{src}: {:?} lacks {want:?}",
            e.message
        );
    }
    // A table without a sort key refuses any second condition.
    let r = resolver(&[], VALUES);
    let e = parse_key_condition("p = :one AND c = :two", &r, "p", None).unwrap_err();
    assert_eq!(e.message, "Query key condition not supported");
}
