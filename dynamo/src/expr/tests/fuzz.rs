//! Property tests: no input makes a parser panic, whatever the language.

use proptest::prelude::*;

use super::{VALUES, item, resolver};
use crate::expr::{ExprKind, parse_condition, parse_key_condition, parse_projection, parse_update};

/// Strings built from the languages' own pieces, so that many get deep into the grammar.
fn expression() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "b",
        "m.x",
        "l[1]",
        "#n",
        ":one",
        ":s",
        ":list",
        ":ss",
        "=",
        "<>",
        "<",
        ">=",
        "(",
        ")",
        ",",
        ".",
        "[",
        "]",
        "0",
        "+",
        "-",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "size(",
        "contains(",
        "begins_with(",
        "attribute_exists(",
        "attribute_type(",
        "if_not_exists(",
        "list_append(",
        "status",
        "#",
        ":",
        "$",
        "é",
        " ",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.join(" "))
}

fn try_all(src: &str) {
    let r = resolver(&[("#n", "a")], VALUES);
    let it = item(
        r#"{"a": {"N": "1"}, "m": {"M": {"x": {"S": "y"}}}, "l": {"L": [{"N": "1"}, {"N": "2"}]}}"#,
    );
    if let Ok(c) = parse_condition(src, ExprKind::Filter, &r) {
        let _ = c.eval(Some(&it));
        let _ = c.eval(None);
    }
    if let Ok(u) = parse_update(src, &r) {
        let _ = u.apply(&mut it.clone());
        let _ = u.apply(&mut crate::value::Item::new());
    }
    if let Ok(p) = parse_projection(src, &r) {
        let _ = p.apply(&it);
    }
    if let Ok(k) = parse_key_condition(src, &r, "a", Some("b"))
        && let Some(s) = k.sort()
    {
        let _ = s.matches(&super::n("1"));
    }
}

proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_strings(src in any::<String>()) {
        try_all(&src);
    }

    #[test]
    fn parsers_never_panic_on_plausible_expressions(src in expression()) {
        try_all(&src);
    }
}

#[test]
fn the_reserved_word_list_is_complete() {
    assert_eq!(crate::expr::reserved::count(), 573);
    for w in [
        "status", "NAME", "Data", "count", "size", "key", "value", "year",
    ] {
        assert!(crate::expr::reserved::is_reserved(w), "{w}");
    }
    for w in ["a", "pk", "price", "fresh"] {
        assert!(!crate::expr::reserved::is_reserved(w), "{w}");
    }
}
