//! Cluster-file tests: the built-in cluster, TOML round trips, and errors that name the line.

use super::*;

#[test]
fn builtin_cluster_has_three_regions_and_realistic_latencies() {
    let c = ClusterConfig::builtin();
    assert_eq!(c.names(), "us-east-1, eu-west-1, ap-south-1");
    let r = c.region_set();
    let t = c.link_table();
    let lat = |a: &str, b: &str| t.get(r.id(a).unwrap(), r.id(b).unwrap()).latency_ms;
    assert_eq!(lat("us-east-1", "eu-west-1"), 38.0);
    assert_eq!(lat("ap-south-1", "us-east-1"), 95.0);
    assert_eq!(lat("eu-west-1", "ap-south-1"), 60.0);
    assert!(c.regions.iter().all(|r| r.listen.ip().is_loopback()));
}

#[test]
fn round_trips_through_toml() {
    let c = ClusterConfig::builtin();
    assert_eq!(ClusterConfig::parse(&c.to_toml(), "x").unwrap(), c);
}

#[test]
fn bad_files_name_the_line_and_the_problem() {
    let three = "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[region]]\nname = \"c\"\nlisten = \"127.0.0.1:3\"\n";
    let strong_two = "multi_region_consistency = \"strong\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n".to_owned();
    let strong_aurora =
        format!("mode = \"aurora-global\"\nmulti_region_consistency = \"strong\"\n{three}");
    let two_witnesses = format!(
        "multi_region_consistency = \"strong\"\n{}",
        three
            .replace(
                "listen = \"127.0.0.1:2\"\n",
                "listen = \"127.0.0.1:2\"\nwitness = true\n"
            )
            .replace(
                "listen = \"127.0.0.1:3\"\n",
                "listen = \"127.0.0.1:3\"\nwitness = true\n"
            )
    );
    let eventual_witness = three.replace(
        "listen = \"127.0.0.1:2\"\n",
        "listen = \"127.0.0.1:2\"\nwitness = true\n",
    );
    let strong_cases: [(&str, &str, &str); 5] = [
        (&strong_two, ":1", "needs exactly three regions"),
        (&strong_aurora, ":2", "is a Global Tables setting"),
        (&two_witnesses, ":12", "both witnesses"),
        (
            &eventual_witness,
            ":7",
            "only multi_region_consistency = \"strong\" has",
        ),
        (
            "multi_region_consistency = \"linearizable\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":1",
            "unknown variant",
        ),
    ];
    for (text, line, needle) in strong_cases {
        let e = ClusterConfig::parse(text, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("f.toml{line}")) && e.contains(needle),
            "{e}\n---\n{text}"
        );
    }
    let ok = ClusterConfig::parse(
        &format!(
            "multi_region_consistency = \"strong\"\n{}",
            three.replace(
                "listen = \"127.0.0.1:3\"\n",
                "listen = \"127.0.0.1:3\"\nwitness = true\n"
            )
        ),
        "f.toml",
    )
    .unwrap();
    assert_eq!(ok.multi_region_consistency, Consistency::Strong);
    assert!(ok.regions[2].witness);
    let again = ClusterConfig::parse(&ok.to_toml(), "again").unwrap();
    assert_eq!(
        (again.multi_region_consistency, again.regions[2].witness),
        (Consistency::Strong, true),
        "round trip"
    );
    let cases = [
        (
            "log_retention_ms = 90000000\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":1",
            "more than a day",
        ),
        (
            "collect_tombstones = true\ntombstone_grace_ms = 90000000\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":2",
            "tombstone_grace_ms = 90000000 is more than a day",
        ),
        (
            "clock = \"hybrid\"\nlog_max_entries = 0\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":2",
            "log_max_entries must be at least 1",
        ),
        (
            "mode = \"multi-master\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":1",
            "unknown variant",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"not-an-address\"\n",
            ":3",
            "invalid socket address",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:2\"\n",
            ":5",
            "listed twice",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[link]]\nbetween = [\"a\", \"zz\"]\nlatency_ms = 1\n",
            ":5",
            "\"zz\" is not a region",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nbetween = [\"a\", \"b\"]\nlatency_ms = -5\n",
            ":9",
            "latency_ms must be",
        ),
        (
            "# a comment\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n\nskew_ms = nan\n",
            ":6",
            "skew_ms must be within",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"\"\nlisten = \"127.0.0.1:2\"\n",
            ":5",
            "must be 1-64 letters",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nlatency_ms = 3\nfrom = \"b\"\nto = \"b\"\n",
            ":9",
            "two different regions",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:1\"\n",
            ":6",
            "every region needs its own address",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nbetween = [\"a\", \"b\", \"a\", \"b\"]\nlatency_ms = 1\n",
            ":7",
            "two regions",
        ),
        (
            "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\nprimary_region = \"a\"\n",
            ":4",
            "unknown field",
        ),
        (
            "primary = \"nope\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            ":1",
            "not a region",
        ),
    ];
    for (text, line, what) in cases {
        let e = ClusterConfig::parse(text, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("f.toml{line}:")), "{e}");
        assert!(e.contains(what), "{e}");
    }
}
