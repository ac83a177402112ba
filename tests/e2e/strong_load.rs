//! `meridian load` against a multi-Region strong consistency cluster of real nodes: a hot key
//! written from two regions (conflict errors counted per region, nothing lost, strong reads
//! linearizable), retries and the witness (no load sent there), and a checker run under load
//! through a kill -9 and a partition.

use serde_json::Value;

use crate::support::{Cluster, Spec, finish_load, poll, start_load};

const STRONG: &str = "multi_region_consistency = \"strong\"";

fn figure(c: &Cluster, region: &str, field: &str) -> u64 {
    c.ctl_json(region, &["stats"])
        .ok()
        .and_then(|s| s[field].as_u64())
        .unwrap_or(0)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every ReplicatedWriteConflict answer either led to a retry or ended its write.
fn assert_conflicts_accounted(strong: &Value) {
    assert_eq!(
        u(&strong["conflict_errors"]),
        u(&strong["conflict_retries"]) + u(&strong["conflict_failed"]),
        "{strong}"
    );
}

#[test]
fn a_hot_key_written_from_two_regions_gets_conflict_errors_and_loses_nothing() {
    let c = Cluster::start(
        "strong-hot",
        Spec::new(&["a", "b", "c"], 20.0).extra(STRONG),
    );
    let (load, json) = start_load(
        &c,
        "hot.json",
        &[
            "--regions",
            "a,b",
            "--duration",
            "3",
            "--rate",
            "120",
            "--concurrency",
            "4",
            "--keys",
            "3",
            "--dist",
            "hot:1:0.9",
            "--mix",
            "put=80,get=20",
        ],
    );
    let r = finish_load(load, &json);
    let s = &r["strong"];
    assert_eq!(s["consistent_reads"], true, "strong reads by default: {s}");
    // Conflicts are counted apart, per region, not as errors of the run.
    assert!(u(&r["writes"]["conflict_errors"]) > 0, "{}", r["writes"]);
    assert!(r["errors"].get("Aborted").is_none(), "{}", r["errors"]);
    for region in ["a", "b"] {
        let x = &s["regions"][region];
        assert!(u(&x["conflict_errors"]) > 0, "{region}: {x}");
        assert_eq!(
            r["writes"]["conflict_errors_by_region"][region], x["conflict_errors"],
            "{r}"
        );
        // No write is acknowledged before a second region has it.
        let rtt = x["nearest_rtt_ms"].as_f64().unwrap();
        assert_eq!(rtt, 40.0, "{x}");
        assert!(
            x["acked_write_latency_ms"]["p50"].as_f64().unwrap() >= rtt,
            "{region}: {x}"
        );
    }
    assert!(s["regions"].get("c").is_none(), "c sent nothing: {s}");
    assert!(
        u(&s["conflict_errors"]) > u(&s["conflict_errors_in_region"]),
        "some conflicts were with the other region's writes: {s}"
    );
    assert_eq!(u(&s["conflict_retries"]), 0);
    assert_conflicts_accounted(s);
    assert!(s["predicted_conflict_error_rate"].as_f64().unwrap() > 0.0);
    // Nothing lost, no LWW loser, no stale strong read.
    assert_eq!(u(&r["lost_writes"]), 0);
    assert_eq!(u(&r["conflicts"]), 0, "no LWW conflicts in strong mode");
    assert_eq!(u(&s["stale_strong_reads"]), 0);
    assert!(u(&s["strong_reads"]) > 0, "{s}");
    let k = &r["checker"]["strong"];
    assert_eq!(u(&k["lww_losses"]), 0, "{k}");
    assert_eq!(u(&k["histories_incomplete"]), 0, "{k}");
    assert!(u(&k["histories_complete"]) > 0, "{k}");
    // The nodes agree: every conflict the client counted, they refused.
    let refused: u64 = ["a", "b"]
        .iter()
        .map(|r| figure(&c, r, "write_conflicts"))
        .sum();
    assert_eq!(refused, u(&s["conflict_errors"]), "nodes' write_conflicts");
}

/// The cluster file of `c` with `witness = true` on `region`; every node restarted on it
/// (before anything was written).
fn make_witness(c: &mut Cluster, region: &str) {
    for r in c.regions.clone() {
        c.kill(r);
    }
    let text = std::fs::read_to_string(&c.file).unwrap();
    let marker = format!("name = \"{region}\"\n");
    assert!(text.contains(&marker), "{text}");
    std::fs::write(
        &c.file,
        text.replace(&marker, &format!("{marker}witness = true\n")),
    )
    .unwrap();
    for r in c.regions.clone() {
        c.start_node(r);
    }
    assert_eq!(c.stats(region)["witness"], true);
}

#[test]
fn with_a_witness_the_replicas_take_the_load_and_retried_conflicts_mostly_succeed() {
    let mut c = Cluster::start(
        "strong-witness",
        Spec::new(&["a", "b", "w"], 20.0).extra(STRONG),
    );
    make_witness(&mut c, "w");
    let (load, json) = start_load(
        &c,
        "witness.json",
        &[
            "--duration",
            "3",
            "--rate",
            "100",
            "--concurrency",
            "4",
            "--keys",
            "2",
            "--dist",
            "hot:1:0.9",
            "--mix",
            "put=70,get=20,incr=10",
            "--retry-conflicts",
            "5",
        ],
    );
    let r = finish_load(load, &json);
    let s = &r["strong"];
    assert_eq!(s["witness"], "w");
    assert_eq!(s["skipped_regions"], serde_json::json!(["w"]));
    assert_eq!(r["config"]["regions"], serde_json::json!(["a", "b"]));
    assert!(s["regions"].get("w").is_none(), "{s}");
    let senders: Vec<&String> = r["throughput_by_region"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(senders, ["a", "b"], "{}", r["throughput_by_region"]);
    assert!(
        r["errors"].get("FailedPrecondition").is_none(),
        "nothing sent to the witness: {}",
        r["errors"]
    );
    assert!(u(&s["conflict_retries"]) > 0, "{s}");
    assert_conflicts_accounted(s);
    assert!(
        u(&s["conflict_recovered"]) > 0,
        "retries turned some conflicts into acknowledged writes: {s}"
    );
    assert_eq!(u(&r["lost_writes"]), 0);
    assert_eq!(r["lost_increments"], 0, "strong increments lose no update");
    assert_eq!(u(&s["stale_strong_reads"]), 0);
}

#[test]
fn a_checker_run_through_a_kill_9_and_a_partition_passes() {
    let mut c = Cluster::start(
        "strong-faults",
        Spec::new(&["a", "b", "c"], 20.0).extra(STRONG),
    );
    let (load, json) = start_load(
        &c,
        "faults.json",
        &[
            "--duration",
            "14",
            "--rate",
            "90",
            "--keys",
            "20",
            "--mix",
            "put=60,get=30,delete=5,incr=5",
            "--retry-conflicts",
            "2",
        ],
    );
    // Kill -9 c and restart it with its data: it takes part again at once.
    let before = figure(&c, "c", "log_head");
    poll("c takes writes", || {
        (figure(&c, "c", "log_head") > before + 10).then_some(())
    });
    c.kill("c");
    let a_at_kill = figure(&c, "a", "log_head");
    poll("a and b keep writing with c down", || {
        (figure(&c, "a", "log_head") > a_at_kill + 10).then_some(())
    });
    c.start_node("c");
    let c_back = figure(&c, "c", "log_head");
    poll("c writes again after its restart", || {
        (figure(&c, "c", "log_head") > c_back + 5).then_some(())
    });
    // Cut c off from both others: it refuses for want of a quorum, a and b keep going.
    let refusals = figure(&c, "c", "quorum_refusals");
    c.ctl("a", &["partition", "c"]);
    poll("c refuses writes without a quorum", || {
        (figure(&c, "c", "quorum_refusals") > refusals + 5).then_some(())
    });
    let a_cut = figure(&c, "a", "log_head");
    poll("a keeps writing through b", || {
        (figure(&c, "a", "log_head") > a_cut + 10).then_some(())
    });
    c.ctl("b", &["heal"]);
    let r = finish_load(load, &json);
    let s = &r["strong"];
    assert!(u(&s["no_quorum_writes"]) > 0, "c's writes refused: {s}");
    assert!(
        u(&r["writes"]["unknown"])
            + u(&r["checker"]["writes_resolved_applied"])
            + u(&r["checker"]["writes_resolved_not_applied"])
            > 0,
        "no-quorum and killed writes have unknown outcomes, resolved after the run: {}",
        r["writes"]
    );
    assert_conflicts_accounted(s);
    assert_eq!(u(&r["lost_writes"]), 0);
    assert_eq!(u(&s["stale_strong_reads"]), 0);
    let k = &r["checker"]["strong"];
    assert_eq!(u(&k["lww_losses"]), 0, "{k}");
    assert_eq!(u(&k["histories_incomplete"]), 0, "{k}");
}

/// The fault the checker run above once hit: an origin killed while its write O is in flight
/// loses O's ballot (its pending write is not durable), while O is committed at the
/// participants that accepted it. Restarted with its data, the origin must not propose its next
/// write W of the key at O's ballot — else a participant holding O takes W for it, W is
/// acknowledged, and a later write built on the ballot loses W by last-writer-wins. Ballots
/// start at the incarnation's start time (as dots do), and a different write under a committed
/// ballot is refused. Deterministic: the answers to the origin are held back for a second, so
/// the kill always lands between the participants' commit and the origin hearing of it.
#[test]
fn an_acknowledged_write_of_a_restarted_origin_is_never_lost() {
    let mut c = Cluster::start(
        "strong-ballot-reuse",
        Spec::new(&["a", "b", "c"], 20.0).extra(STRONG),
    );
    // A new region takes part once a peer has pulled from it; then every region's strong
    // streams are up once each has had a write acknowledged.
    for r in ["a", "b", "c"] {
        poll(&format!("{r} takes part"), || {
            (c.stats(r)["quorum"] == "ok").then_some(())
        });
    }
    for r in ["a", "b", "c"] {
        c.ctl(r, &["put", &format!("warm-{r}"), "1"]);
    }
    for from in ["a", "b"] {
        c.ctl(
            "a",
            &["link", from, "c", "--latency-ms", "1000", "--one-way"],
        );
    }
    let mut orphan = std::process::Command::new(crate::support::BIN)
        .args(["ctl", "--region", "c", "--cluster"])
        .arg(&c.file)
        .args(["put", "k", "orphan", "--json"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    poll("b commits the orphan", || {
        (c.value("b", "k").as_deref() == Some("orphan")).then_some(())
    });
    c.kill("c");
    let _ = orphan.wait();
    c.start_node("c");
    for from in ["a", "b"] {
        c.ctl("a", &["link", from, "c", "--latency-ms", "20", "--one-way"]);
    }
    // Hold c's log back from a, so that only the protocol could tell a about W.
    c.ctl(
        "a",
        &["link", "c", "a", "--latency-ms", "5000", "--one-way"],
    );
    // W may meet the orphan at the participants (a retryable conflict that teaches c of it);
    // a retry then builds on it.
    let w = poll("c's write W is acknowledged", || {
        c.ctl_json("c", &["put", "k", "W"]).ok()
    });
    let w2 = c.ctl_json("a", &["put", "k", "W2"]);
    c.ctl("a", &["link", "c", "a", "--latency-ms", "20", "--one-way"]);
    c.converged();
    for r in ["a", "b", "c"] {
        assert_eq!(
            figure(&c, r, "lost_writes"),
            0,
            "{r} lost W {w} to W2 {w2:?}"
        );
    }
    if let Ok(w2) = w2 {
        let seen = w2["context"]["c"].as_u64().unwrap_or(0);
        assert!(
            seen >= w["context"]["c"].as_u64().unwrap(),
            "W2 {w2} did not see W {w}"
        );
    }
}
