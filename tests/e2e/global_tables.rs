//! Global Tables mode with three real nodes: LWW convergence, conflicts, link lag,
//! partitions, conditional writes, and bad input.

use std::time::Instant;

use serde_json::Value;

use crate::support::{Cluster, Spec, poll};

const REGIONS: &[&str] = &["a", "b", "c"];

/// (timestamp, logical, region) of a reply's version, for LWW comparisons.
fn version(v: &Value) -> (u64, u64, String) {
    let v = &v["version"];
    (
        v["timestamp"].as_u64().unwrap(),
        v["logical"].as_u64().unwrap(),
        v["region"].as_str().unwrap().to_owned(),
    )
}

/// Does a write reply's context hold only its own region's dot (it saw no other write)?
fn only_own_dot(reply: &Value, region: &str) -> bool {
    let ctx = reply["context"].as_object().unwrap();
    ctx.len() == 1
        && ctx
            .get(region)
            .and_then(Value::as_u64)
            .is_some_and(|d| d > 0)
}

/// Every conflict event of every region.
fn all_events(c: &Cluster) -> Vec<Value> {
    REGIONS
        .iter()
        .flat_map(|r| {
            c.ctl(r, &["conflicts"])["events"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect()
}

#[test]
fn concurrent_puts_in_two_regions_converge_to_the_lww_winner_and_are_reported_as_a_conflict() {
    let c = Cluster::start("conflict", Spec::new(REGIONS, 3000.0));
    let wa = c.ctl("a", &["put", "k", "from-a"]);
    let wb = c.ctl("b", &["put", "k", "from-b"]);
    // Premise: neither write saw the other (each context holds only its own region).
    assert!(only_own_dot(&wa, "a"), "{wa}");
    assert!(only_own_dot(&wb, "b"), "{wb}");
    let (winner, loser) = if version(&wa) > version(&wb) {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    let state = c.converged();
    let k = state.iter().find(|(key, _)| key == "k").expect("k present");
    assert_eq!(
        k.1,
        winner["write_id"].as_str().unwrap(),
        "every region holds the LWW winner"
    );
    for r in REGIONS {
        let expected = if winner == &wa { "from-a" } else { "from-b" };
        assert_eq!(c.value(r, "k").as_deref(), Some(expected));
    }
    let events = all_events(&c);
    assert!(!events.is_empty(), "the conflict is reported");
    for e in &events {
        assert_eq!(e["kind"], "conflict");
        assert_eq!(e["key"], "k");
        assert_eq!(e["winner"]["write_id"], winner["write_id"]);
        assert_eq!(
            e["loser"]["write_id"], loser["write_id"],
            "the smaller version is named loser"
        );
    }
    let conflicts: u64 = REGIONS
        .iter()
        .map(|r| c.ctl(r, &["stats"])["conflicts"].as_u64().unwrap())
        .sum();
    assert_eq!(
        conflicts as usize,
        events.len(),
        "stats count what the feed shows"
    );
}

#[test]
fn a_write_replicates_only_after_its_links_lag() {
    let c = Cluster::start("lag", Spec::new(REGIONS, 200.0));
    let table = c.ctl("b", &["link", "a", "c", "--latency-ms", "3000"]);
    assert_eq!(
        table["unreachable"],
        serde_json::json!([]),
        "the change reached every node"
    );
    let start = Instant::now();
    let w = c.ctl("a", &["put", "k", "v"]);
    let id = w["write_id"].as_str().unwrap().to_owned();
    poll("b applies the write", || {
        (c.write_id("b", "k").as_deref() == Some(&id)).then_some(())
    });
    assert_eq!(
        c.write_id("c", "k"),
        None,
        "c (3000 ms away) has not got it when b (200 ms) has"
    );
    poll("c applies the write", || {
        (c.write_id("c", "k").as_deref() == Some(&id)).then_some(())
    });
    assert!(
        start.elapsed().as_millis() >= 3000,
        "never before the configured lag"
    );
    let stats = c.ctl("c", &["stats"]);
    let link = stats["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["origin"] == "a")
        .unwrap();
    assert!(
        link["lag_ms"]["p50"].as_f64().unwrap() >= 3000.0,
        "observed lag {link}"
    );
    assert_eq!(link["setting"]["latency_ms"], 3000.0);
}

#[test]
fn a_partitioned_region_keeps_accepting_writes_and_everything_converges_after_heal() {
    let c = Cluster::start("partition", Spec::new(REGIONS, 20.0));
    c.ctl("a", &["partition", "c"]);
    let wc = c.ctl("c", &["put", "x", "written-in-c"]);
    let wa = c.ctl("a", &["put", "y", "written-in-a"]);
    poll("b gets a's write", || c.value("b", "y"));
    assert_eq!(
        c.value("a", "x"),
        None,
        "c's write is held back by the partition"
    );
    assert_eq!(
        c.value("c", "y"),
        None,
        "a's write is held back by the partition"
    );
    let stats = c.ctl("a", &["stats"]);
    let from_c = stats["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["origin"] == "c")
        .unwrap()
        .clone();
    assert_eq!(from_c["setting"]["partitioned"], true);
    c.ctl("b", &["heal"]);
    let state = c.converged();
    let ids: Vec<_> = state.iter().map(|(_, id)| id.as_str()).collect();
    assert!(
        ids.contains(&wc["write_id"].as_str().unwrap())
            && ids.contains(&wa["write_id"].as_str().unwrap()),
        "nothing lost: {state:?}"
    );
}

#[test]
fn a_conditional_put_passes_in_two_regions_and_one_write_then_loses() {
    let c = Cluster::start("condput", Spec::new(REGIONS, 3000.0));
    let wa = c.ctl("a", &["put", "lock", "held-by-a", "--if-absent"]);
    let wb = c.ctl("b", &["put", "lock", "held-by-b", "--if-absent"]);
    assert!(
        only_own_dot(&wb, "b"),
        "premise: b had not seen a's write: {wb}"
    );
    let (winner, loser) = if version(&wa) > version(&wb) {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    let state = c.converged();
    assert_eq!(
        state,
        vec![(
            "lock".to_owned(),
            winner["write_id"].as_str().unwrap().to_owned()
        )]
    );
    let events = all_events(&c);
    assert!(
        events
            .iter()
            .any(|e| e["loser"]["write_id"] == loser["write_id"]),
        "the losing conditional write is reported lost"
    );
    let err = c
        .ctl_json("a", &["put", "lock", "again", "--if-absent"])
        .unwrap_err();
    assert_eq!(err["code"], "FailedPrecondition", "{err}");
}

#[test]
fn bad_input_gets_clear_errors_changes_nothing_and_the_node_stays_up() {
    let c = Cluster::start("badinput", Spec::new(REGIONS, 5.0));
    let too_big = c.path("too-big");
    std::fs::write(&too_big, vec![b'x'; 400 * 1024 + 1]).unwrap();
    let just_fits = c.path("just-fits");
    std::fs::write(&just_fits, vec![b'x'; 400 * 1024]).unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["put", "", "v"],
            "InvalidArgument",
            "key must not be empty",
        ),
        (
            vec!["put", "big", "--value-file", too_big.to_str().unwrap()],
            "InvalidArgument",
            "limit is 409600",
        ),
        (
            vec!["--from", "mars", "put", "k", "v"],
            "InvalidArgument",
            "unknown client region \"mars\"",
        ),
        (
            vec!["--from", "mars", "get", "k"],
            "InvalidArgument",
            "unknown client region \"mars\"",
        ),
        (
            vec!["link", "a", "mars", "--latency-ms", "5"],
            "InvalidArgument",
            "unknown link region \"mars\"",
        ),
        (
            vec!["link", "a", "b", "--latency-ms=-5"],
            "InvalidArgument",
            "latency_ms must be between",
        ),
        (
            vec!["link", "a", "b", "--latency-ms", "5", "--loss", "1.5"],
            "InvalidArgument",
            "loss must be between",
        ),
        (
            vec!["partition", "mars"],
            "InvalidArgument",
            "unknown region to partition \"mars\"",
        ),
    ];
    for (args, code, message) in &cases {
        let err = c.ctl_json("a", args).unwrap_err();
        assert_eq!(err["code"], *code, "{args:?}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(message),
            "{args:?}: {err}"
        );
    }
    let status = c.ctl("a", &["stats"]);
    assert_eq!(status["log_head"], 0, "nothing was written");
    let links = c.ctl("a", &["links"]);
    assert!(
        links["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["latency_ms"] == 5.0),
        "links unchanged"
    );
    c.ctl(
        "a",
        &["put", "fits", "--value-file", just_fits.to_str().unwrap()],
    );
    poll("the largest value replicates", || {
        (c.value("c", "fits").map(|v| v.len()) == Some(400 * 1024)).then_some(())
    });
}

/// Issue 9's scenario with real processes: a writes W1 and b's concurrent Wb wins; a's data
/// directory is wiped; a (having learnt Wb again) writes W1'; c, cut off from a, writes Wc
/// later. W1' has a fresh dot, so every region sees W1' and Wc as concurrent and reports W1'
/// lost — and `meridian check` on the four acknowledged writes finds nothing unreported.
#[test]
fn a_region_with_a_wiped_data_dir_hands_out_fresh_dots_and_its_lost_write_is_reported() {
    let mut c = Cluster::start("wiped-dots", Spec::new(REGIONS, 5.0));
    let holds =
        |c: &Cluster, r: &str, w: &Value| c.write_id(r, "k").as_deref() == w["write_id"].as_str();
    c.ctl("a", &["partition", "a"]);
    let w1 = c.ctl("a", &["put", "k", "w1"]);
    let wb = c.ctl("b", &["put", "k", "wb"]);
    c.ctl("a", &["heal"]);
    poll("everyone holds Wb", || {
        REGIONS.iter().all(|r| holds(&c, r, &wb)).then_some(())
    });

    c.kill("a");
    std::fs::remove_dir_all(c.dir.join("data-a")).unwrap();
    c.start_node("a");
    poll("the wiped region has learnt Wb again", || {
        holds(&c, "a", &wb).then_some(())
    });

    c.ctl("a", &["partition", "c"]);
    let w1b = c.ctl("a", &["put", "k", "w1-again"]);
    assert_ne!(
        w1b["context"]["a"], w1["context"]["a"],
        "a fresh dot: {w1} / {w1b}"
    );
    assert_eq!(
        w1b["context"]["b"], wb["context"]["b"],
        "premise: W1' saw Wb"
    );
    let wc = c.ctl("c", &["put", "k", "wc"]);
    c.ctl("a", &["heal"]);
    poll("everyone holds Wc", || {
        REGIONS.iter().all(|r| holds(&c, r, &wc)).then_some(())
    });
    // Holding Wc does not mean W1' has arrived yet (a's stream to b may lag c's): wait for
    // each region to report it.
    for r in ["b", "c"] {
        poll(&format!("{r} reports W1' lost"), || {
            let events = c.ctl(r, &["conflicts"])["events"].clone();
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["loser"]["write_id"] == w1b["write_id"])
                .then_some(())
        });
    }

    let (ok, report) = c.check_history(&[&w1, &wb, &w1b, &wc], "history.jsonl");
    assert!(ok && report["ok"] == true, "{report}");
    assert_eq!(report["writes_acked"], 4);
    assert_eq!(
        report["lost_writes"], 2,
        "W1 and W1' were both lost and reported: {report}"
    );
}
