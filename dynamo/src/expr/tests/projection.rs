//! Projection expressions: top-level and nested paths, list indexes, placeholders, overlaps,
//! conflicts and syntax errors.

use super::{item, resolver};
use crate::expr::parse_projection;

const ITEM: &str = r#"{
    "p": {"S": "k"},
    "a": {"M": {"b": {"L": [{"N": "2"}, {"N": "4"}, {"M": {"x": {"S": "hi"}, "y": {"S": "yo"}}}]}, "c": {"N": "5"}}},
    "b": {"S": "hello"},
    "a.b": {"S": "dotted"}
}"#;

/// (expression, expected item as DynamoDB JSON).
const PROJECTED: &[(&str, &str)] = &[
    ("b", r#"{"b": {"S": "hello"}}"#),
    (" p  ,   b  ", r#"{"p": {"S": "k"}, "b": {"S": "hello"}}"#),
    ("#n", r#"{"a.b": {"S": "dotted"}}"#),
    ("nonexistent", r#"{}"#),
    (
        "a.b",
        r#"{"a": {"M": {"b": {"L": [{"N": "2"}, {"N": "4"}, {"M": {"x": {"S": "hi"}, "y": {"S": "yo"}}}]}}}}"#,
    ),
    ("a.b[0]", r#"{"a": {"M": {"b": {"L": [{"N": "2"}]}}}}"#),
    (
        "a.b[2].y",
        r#"{"a": {"M": {"b": {"L": [{"M": {"y": {"S": "yo"}}}]}}}}"#,
    ),
    (
        "a.b[0], a.b[1]",
        r#"{"a": {"M": {"b": {"L": [{"N": "2"}, {"N": "4"}]}}}}"#,
    ),
    (
        "a.b[1], a.b[0]",
        r#"{"a": {"M": {"b": {"L": [{"N": "2"}, {"N": "4"}]}}}}"#,
    ),
    (
        "a.b[0], a.c",
        r#"{"a": {"M": {"b": {"L": [{"N": "2"}]}, "c": {"N": "5"}}}}"#,
    ),
    (
        "a.c, b",
        r#"{"a": {"M": {"c": {"N": "5"}}}, "b": {"S": "hello"}}"#,
    ),
    (
        "a.x, a.b[0], x, a.b[3].x",
        r#"{"a": {"M": {"b": {"L": [{"N": "2"}]}}}}"#,
    ),
    ("a.b[3]", r#"{}"#),
    ("a.x.y", r#"{}"#),
    ("a.b.x", r#"{}"#),
    ("a[0]", r#"{}"#),
    ("a.b[0][0]", r#"{}"#),
    ("#m.#k", r#"{"a": {"M": {"c": {"N": "5"}}}}"#),
];

#[test]
fn projections_keep_what_their_paths_reach() {
    for (src, want) in PROJECTED {
        let r = resolver(&[("#n", "a.b"), ("#m", "a"), ("#k", "c")], &[]);
        let p = parse_projection(src, &r).unwrap_or_else(|e| panic!("{src}: {}", e.message));
        assert_eq!(p.apply(&item(ITEM)), item(want), "{src}");
    }
}

/// (expression, substring of the error).
const REFUSED: &[(&str, &str)] = &[
    (
        "",
        "Invalid ProjectionExpression: The expression can not be empty;",
    ),
    (
        "a,",
        r#"Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ",""#,
    ),
    (",a", r#"Syntax error; token: ",""#),
    ("a,,b", r#"Syntax error; token: ",", near: ",,b""#),
    ("a = b", r#"Syntax error; token: "=""#),
    (
        "a.abORt",
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: abORt",
    ),
    ("#a, ABSoLUTE", "reserved keyword: ABSoLUTE"),
    (
        "#wrong",
        "An expression attribute name used in the document path is not defined; attribute name: #wrong",
    ),
    (
        "a, a",
        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
    ),
    (
        "a.b[0],a.b[0]",
        "path one: [a, b, [0]], path two: [a, b, [0]]",
    ),
    ("a, a.b[2].c", "overlap"),
    ("a.b.d.e, a.b", "overlap"),
    (
        "a.b, a[1]",
        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]",
    ),
];

#[test]
fn bad_projections_are_refused() {
    for (src, want) in REFUSED {
        let r = resolver(&[("#a", "x")], &[]);
        let e = parse_projection(src, &r).expect_err(src);
        assert!(
            e.message.contains(want),
            "{src}: {:?} lacks {want:?}",
            e.message
        );
    }
    let r = resolver(&[], &[]);
    for ok in [
        "a, b",
        "a.b, a.c",
        "a.b.d, a.b.e",
        "a[1], a[2]",
        "a.b, a.c[2]",
    ] {
        parse_projection(ok, &r).unwrap_or_else(|e| panic!("{ok}: {}", e.message));
    }
}
