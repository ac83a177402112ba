//! Number tests: DynamoDB's syntax, normalisation, range, precision, ordering and exact `+`/`-`.

use proptest::prelude::*;

use super::*;

fn n(s: &str) -> Number {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn message(s: &str) -> String {
    s.parse::<Number>().unwrap_err().message
}

#[test]
fn accepted_syntax_normalises_to_plain_notation() {
    for (input, canonical) in [
        ("3", "3"),
        ("-7.1234", "-7.1234"),
        ("-17e5", "-1700000"),
        ("-17.4E37", "-174000000000000000000000000000000000000"),
        ("+3", "3"),
        (".123", "0.123"),
        ("0001.23", "1.23"),
        ("1e+5", "100000"),
        ("0e1000", "0"),
        ("-0", "0"),
        ("1.50", "1.5"),
        ("100", "100"),
        ("1e2", "100"),
        ("0.001", "0.001"),
        ("1e-3", "0.001"),
        ("5.", "5"),
        ("1e-130", &format!("0.{}1", "0".repeat(129))),
        ("9.99999999e125", &format!("999999999{}", "0".repeat(117))),
    ] {
        assert_eq!(n(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn what_is_not_a_number_is_refused_with_dynamodbs_message() {
    for s in [
        "NaN",
        "Infinity",
        "-Infinity",
        "-NaN",
        "dog",
        "-dog",
        " 1",
        "1 ",
        "",
        "-",
        ".",
        "1e",
        "1e+",
        "1..2",
        "1.2.3",
        "0x10",
        "1e5.5",
    ] {
        let m = message(s);
        assert!(
            m.starts_with("The parameter cannot be converted to a numeric value"),
            "{s:?}: {m}"
        );
    }
}

#[test]
fn range_and_precision_are_dynamodbs() {
    for s in ["1e126", "11e125", "-1e126", "1.0e100000000"] {
        assert!(message(s).starts_with("Number overflow"), "{s}");
    }
    for s in ["1e-131", "0.9e-130", "-1e-131"] {
        assert!(message(s).starts_with("Number underflow"), "{s}");
    }
    for s in [
        "3.14159265358979323846264338327950288419",
        "314159265358979323846.264338327950288419",
        "314159265358979323846264338327950288419e30",
    ] {
        assert!(message(s).contains("38 significant digits"), "{s}");
    }
    for s in [
        "3.1415926535897932384626433832795028841",
        "314159265358979323846.26433832795028841",
        "31415926535897932384626433832795028841e30",
        "1e125",
        "-9.9999999999999999999999999999999999999E+125",
    ] {
        n(s);
    }
}

#[test]
fn arithmetic_is_exact_and_overflows_as_dynamodb_reports_it() {
    for (a, b, sum, diff) in [
        (
            "1",
            "10000000000000000000000",
            "10000000000000000000001",
            "-9999999999999999999999",
        ),
        ("0.1", "0.2", "0.3", "-0.1"),
        ("-5", "5", "0", "-10"),
        ("1.5", "-0.5", "1", "2"),
        ("0", "-3", "-3", "3"),
        ("123.456", "0.544", "124", "122.912"),
    ] {
        assert_eq!(
            n(a).checked_add(&n(b)).unwrap().to_string(),
            sum,
            "{a} + {b}"
        );
        assert_eq!(
            n(a).checked_sub(&n(b)).unwrap().to_string(),
            diff,
            "{a} - {b}"
        );
    }
    for (a, b) in [("9e125", "9e125"), ("1e50", "1"), ("-9e125", "-9e125")] {
        let e = n(a).checked_add(&n(b)).unwrap_err();
        assert!(e.message.starts_with("Number overflow"), "{a} + {b}: {e}");
    }
}

#[test]
fn ordering_is_numeric() {
    let sorted = [
        "-1e125", "-100", "-10.5", "-1", "-0.001", "0", "1e-130", "0.5", "1", "1.5", "10", "99",
        "100", "1e125",
    ];
    for w in sorted.windows(2) {
        assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
    }
    assert_eq!(n("1.0"), n("1"));
    assert_eq!(n("-0"), n("0"));
}

proptest! {
    #[test]
    fn integers_behave_like_integers(a in -1_000_000_000_000i64..1_000_000_000_000, b in -1_000_000_000_000i64..1_000_000_000_000) {
        let (x, y) = (n(&a.to_string()), n(&b.to_string()));
        prop_assert_eq!(x.to_string(), a.to_string());
        prop_assert_eq!(x.checked_add(&y).unwrap().to_string(), (a + b).to_string());
        prop_assert_eq!(x.checked_sub(&y).unwrap().to_string(), (a - b).to_string());
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_number(m in -99_999_999i64..99_999_999, e in -120i64..110) {
        let x = n(&format!("{m}e{e}"));
        prop_assert_eq!(n(&x.to_string()), x);
    }
}
