//! Multi-Region strong consistency with real processes: concurrent writes of one key from two
//! regions (one fails with ReplicatedWriteConflict, or both succeed in some order; nothing
//! acknowledged is lost), a strong read in the third region right after an acknowledged write,
//! a killed replica, a partitioned witness, a region cut off from both others (UNAVAILABLE
//! for writes and strong reads, eventual reads still served) that catches up on heal before
//! it serves again, a durable region killed and restarted that catches up before it serves,
//! and cluster files the mode cannot run with.

use meridian_proto::v1::{self as pb, kv_client::KvClient};
use tonic::{Code, transport::Channel};

use crate::support::{Cluster, Spec, meridian, poll, runtime, scratch_dir};

/// Strong consistency on three regions, `latency_ms` on every link.
fn strong(regions: &[&'static str], latency_ms: f64) -> Spec {
    Spec::new(regions, latency_ms).extra("multi_region_consistency = \"strong\"")
}

/// Start a strong cluster and wait until every region takes part (a new region does once a
/// peer has said the cluster is new to it).
fn start(name: &str, spec: Spec) -> Cluster {
    let c = Cluster::start(name, spec);
    ready(&c);
    c
}

fn ready(c: &Cluster) {
    for r in &c.regions {
        poll(&format!("{r} takes part"), || {
            (c.stats(r)["quorum"] == "ok").then_some(())
        });
    }
}

async fn kv(c: &Cluster, region: &str) -> KvClient<Channel> {
    KvClient::new(
        Channel::from_shared(c.url(region))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

fn put(key: &str, value: &str) -> pb::PutRequest {
    pb::PutRequest {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn strong_get(key: &str) -> pb::GetRequest {
    pb::GetRequest {
        key: key.into(),
        consistent_read: true,
    }
}

/// The value of a get reply, if found.
fn value(r: &pb::GetReply) -> Option<String> {
    r.found
        .then(|| String::from_utf8_lossy(&r.value).into_owned())
}

#[test]
fn concurrent_writes_of_one_key_never_both_win_and_nothing_acknowledged_is_lost() {
    let c = start("strong-race", strong(&["a", "b", "c"], 20.0));
    let (acked, conflicts) = runtime().block_on(async {
        let (mut a, mut b) = (kv(&c, "a").await, kv(&c, "b").await);
        let mut acked: Vec<(String, String)> = Vec::new();
        let mut conflicts = 0;
        for round in 0..12 {
            let key = format!("race-{round}");
            let (va, vb) = (format!("a{round}"), format!("b{round}"));
            let (ra, rb) = tokio::join!(a.put(put(&key, &va)), b.put(put(&key, &vb)));
            for (r, v) in [(ra, va), (rb, vb)] {
                match r {
                    Ok(_) => acked.push((key.clone(), v)),
                    Err(s) => {
                        assert_eq!(s.code(), Code::Aborted, "{s:?}");
                        assert!(s.message().starts_with("ReplicatedWriteConflict"), "{s:?}");
                        conflicts += 1;
                    }
                }
            }
            let won: Vec<_> = acked.iter().filter(|(k, _)| *k == key).collect();
            assert!(
                !won.is_empty(),
                "round {round}: at least one write succeeds"
            );
            // The key ends at an acknowledged write — the later one when both succeeded —
            // in every region, read strongly anywhere.
            let mut cc = kv(&c, "c").await;
            let got = value(&cc.get(strong_get(&key)).await.unwrap().into_inner());
            assert!(
                won.iter().any(|(_, v)| Some(v.clone()) == got),
                "round {round}: strong read at c gave {got:?}, acknowledged {won:?}"
            );
        }
        (acked, conflicts)
    });
    assert!(
        conflicts > 0,
        "twelve simultaneous pairs 40 ms apart met at least once"
    );
    for r in ["a", "b", "c"] {
        let s = c.stats(r);
        assert_eq!(s["conflicts"], 0, "no LWW conflict in strong mode: {s}");
        assert_eq!(s["lost_writes"], 0, "{s}");
    }
    let total_conflicts: u64 = ["a", "b"]
        .iter()
        .map(|r| c.stats(r)["write_conflicts"].as_u64().unwrap())
        .sum();
    assert_eq!(
        total_conflicts, conflicts,
        "counted where they were refused"
    );
    // Every region converges to the strong state: for each key, an acknowledged write (the
    // later one when both succeeded).
    c.converged();
    for round in 0..12 {
        let key = format!("race-{round}");
        let won: Vec<_> = acked
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .collect();
        for r in ["a", "b", "c"] {
            let held = c.value(r, &key);
            assert!(
                held.as_ref().is_some_and(|h| won.contains(h)),
                "{key} at {r}: held {held:?}, acknowledged {won:?}"
            );
        }
    }
}

#[test]
fn a_strong_read_in_the_third_region_sees_the_write_just_acknowledged() {
    // 200 ms links: replication to c takes 200 ms, so only a quorum read can see the write.
    let c = start("strong-read", strong(&["a", "b", "c"], 200.0));
    runtime().block_on(async {
        let (mut a, mut cc) = (kv(&c, "a").await, kv(&c, "c").await);
        for i in 0..3 {
            let v = format!("v{i}");
            a.put(put("k", &v)).await.unwrap();
            let got = cc.get(strong_get("k")).await.unwrap().into_inner();
            assert_eq!(value(&got), Some(v), "write {i}");
        }
    });
    let text = c.ctl("c", &["get", "k", "--consistent"]);
    assert_eq!(text["value"], "v2", "{text}");
}

#[test]
fn with_one_replica_killed_the_other_two_keep_writing_and_reading_strongly() {
    let mut c = start("strong-kill", strong(&["a", "b", "c"], 10.0));
    c.ctl("a", &["put", "before", "1"]);
    c.kill("c");
    runtime().block_on(async {
        let (mut a, mut b) = (kv(&c, "a").await, kv(&c, "b").await);
        for i in 0..5 {
            a.put(put("k", &format!("a{i}"))).await.unwrap();
            let got = b.get(strong_get("k")).await.unwrap().into_inner();
            assert_eq!(value(&got), Some(format!("a{i}")));
            b.put(put("k2", &format!("b{i}"))).await.unwrap();
        }
    });
    // c comes back with its data: it catches up and serves strongly again.
    c.start_node("c");
    poll("c serves a strong write", || {
        c.ctl_json("c", &["put", "k3", "from-c"]).ok()
    });
    let got = c.ctl("a", &["get", "k3", "--consistent"]);
    assert_eq!(got["value"], "from-c", "{got}");
    assert_eq!(c.ctl("c", &["get", "k", "--consistent"])["value"], "a4");
}

#[test]
fn with_the_witness_partitioned_the_replicas_write_through_each_other() {
    let spec = strong(&["a", "b", "w"], 10.0).region_extra("w", "witness = true");
    let c = start("strong-witness", spec);
    let w = c.stats("w");
    assert_eq!(w["witness"], true, "{w}");
    runtime().block_on(async {
        let mut ww = kv(&c, "w").await;
        let refused = ww.put(put("k", "v")).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert!(refused.message().contains("witness"), "{refused:?}");
        let refused = ww.get(strong_get("k")).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    });
    c.ctl("a", &["put", "k", "1"]);
    poll("the witness stores the write", || {
        c.stats("w")["items"].as_u64().filter(|n| *n >= 1)
    });
    c.ctl("a", &["partition", "w"]);
    runtime().block_on(async {
        let (mut a, mut b) = (kv(&c, "a").await, kv(&c, "b").await);
        for i in 0..5 {
            a.put(put("k", &format!("a{i}"))).await.unwrap();
            assert_eq!(
                value(&b.get(strong_get("k")).await.unwrap().into_inner()),
                Some(format!("a{i}"))
            );
        }
    });
    c.ctl("a", &["heal"]);
}

#[test]
fn a_region_cut_off_from_both_refuses_strong_operations_serves_eventual_reads_and_recovers() {
    let c = start("strong-cut", strong(&["a", "b", "c"], 10.0));
    c.ctl("a", &["put", "k", "before"]);
    poll("c has the write", || c.value("c", "k"));
    c.ctl("a", &["partition", "c"]);
    let s = c.stats("c");
    assert!(
        s["quorum"].as_str().unwrap().starts_with("lost"),
        "c says why: {s}"
    );
    runtime().block_on(async {
        let mut cc = kv(&c, "c").await;
        let w = cc.put(put("k", "cut-off")).await.unwrap_err();
        assert_eq!(w.code(), Code::Unavailable, "{w:?}");
        assert!(w.message().contains("no quorum"), "{w:?}");
        let r = cc.get(strong_get("k")).await.unwrap_err();
        assert_eq!(r.code(), Code::Unavailable, "{r:?}");
        let eventual = cc
            .get(pb::GetRequest {
                key: "k".into(),
                consistent_read: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            value(&eventual),
            Some("before".into()),
            "eventual reads stay local"
        );
        // The other two keep full service.
        let mut a = kv(&c, "a").await;
        a.put(put("k", "during")).await.unwrap();
    });
    let conflicts = c.stats("c")["write_conflicts"].as_u64().unwrap();
    c.ctl("a", &["heal"]);
    // On heal c catches up first (refusing strong operations as no quorum meanwhile), then
    // serves; its strong read is never older than what was acknowledged.
    let got = poll("c serves strong reads again", || {
        match c.ctl_json("c", &["get", "k", "--consistent"]) {
            Ok(got) => Some(got),
            Err(e) => {
                let m = e["message"].as_str().unwrap_or_default();
                assert!(
                    m.contains("no quorum: region c is catching up after being cut off"),
                    "{e}"
                );
                None
            }
        }
    });
    assert_eq!(got["value"], "during", "{got}");
    assert_eq!(c.stats("c")["quorum"], "ok");
    // It caught up before serving: its first write builds on the write it missed.
    c.ctl("c", &["put", "k", "after"]);
    assert_eq!(
        c.stats("c")["write_conflicts"].as_u64().unwrap(),
        conflicts,
        "no ReplicatedWriteConflict at c"
    );
    assert_eq!(c.ctl("a", &["get", "k", "--consistent"])["value"], "after");
    let refusals = c.stats("c")["quorum_refusals"].as_u64().unwrap();
    assert!(refusals >= 2, "counted: {refusals}");
}

#[test]
fn a_durable_region_killed_and_restarted_catches_up_before_it_serves() {
    let mut c = start("strong-restart", strong(&["a", "b", "c"], 10.0));
    c.ctl("a", &["put", "k", "before"]);
    poll("c has the write", || {
        (c.value("c", "k").as_deref() == Some("before")).then_some(())
    });
    c.kill("c");
    // The others keep writing while c is down: k changes, and a key c never saw appears.
    runtime().block_on(async {
        let (mut a, mut b) = (kv(&c, "a").await, kv(&c, "b").await);
        for i in 0..5 {
            a.put(put("k", &format!("a{i}"))).await.unwrap();
            b.put(put("new", &format!("b{i}"))).await.unwrap();
        }
    });
    c.start_node("c");
    // It comes back with its state, catches up, and only then serves: until then writes and
    // strong reads are refused as no quorum, and its quorum state says so.
    poll("c has caught up", || {
        let q = c.stats("c")["quorum"].as_str().unwrap().to_owned();
        if q != "ok" {
            assert!(q.starts_with("catching up after a restart"), "{q}");
        }
        (q == "ok").then_some(())
    });
    // Its first strong write of the key the others changed goes through, without a conflict.
    let wrote = c.ctl("c", &["put", "k", "from-c"]);
    assert_eq!(wrote["committed_by"], "c", "{wrote}");
    let s = c.stats("c");
    assert_eq!(s["write_conflicts"], 0, "{s}");
    // Its strong reads return the latest.
    assert_eq!(c.ctl("c", &["get", "k", "--consistent"])["value"], "from-c");
    assert_eq!(c.ctl("c", &["get", "new", "--consistent"])["value"], "b4");
    assert_eq!(c.ctl("c", &["put", "new", "c"])["committed_by"], "c");
    assert_eq!(c.stats("c")["write_conflicts"], 0);
    assert_eq!(c.ctl("b", &["get", "k", "--consistent"])["value"], "from-c");
}

/// A region that lost its state (killed, then its data directory wiped, or restarted in
/// memory mode) copies the committed writes from both others before it takes part again: a
/// write acknowledged by the origin and this region only — the third, 20 s away from the
/// origin, has not seen it — survives the origin's death, and the two left write through each
/// other.
#[test]
fn a_region_that_lost_its_state_rejoins_with_the_committed_writes_of_both_others() {
    for storage in ["durable", "memory"] {
        lost_state_rejoin(storage);
    }
}

fn lost_state_rejoin(storage: &str) {
    let spec = strong(&["a", "b", "c"], 5.0)
        .extra("[[link]]\nbetween = [\"a\", \"b\"]\nlatency_ms = 20000")
        .node_arg("--storage")
        .node_arg(storage);
    let mut c = start(&format!("strong-rejoin-{storage}"), spec);
    let wrote = c.ctl("a", &["put", "k", "a-and-c"]);
    assert_eq!(wrote["committed_by"], "a", "{wrote}");
    c.kill("c");
    if storage == "durable" {
        std::fs::remove_dir_all(c.path("data-c")).unwrap();
    }
    c.start_node("c");
    let mut seen = Vec::new();
    poll("c rejoins and catches up", || {
        let q = c.stats("c")["quorum"].as_str().unwrap().to_owned();
        assert!(
            q == "ok"
                || q.starts_with("starting without its state: ")
                || q.starts_with("catching up after copying the others' state"),
            "{q}"
        );
        seen.push(q.clone());
        (q == "ok").then_some(())
    });
    let log = std::fs::read_to_string(c.path("c.log")).unwrap();
    assert!(
        log.contains("copied the others' state"),
        "c says it copied: {seen:?}"
    );
    c.kill("a");
    assert_eq!(
        c.ctl("b", &["get", "k", "--consistent"])["value"],
        "a-and-c"
    );
    assert_eq!(c.ctl("c", &["put", "k", "from-c"])["committed_by"], "c");
    assert_eq!(c.ctl("b", &["get", "k", "--consistent"])["value"], "from-c");
    assert_eq!(c.stats("c")["write_conflicts"], 0);
}

/// The copy needs both others: with one of them down, a region that lost its state stays out
/// (its writes and strong reads are refused, saying so; eventual reads are served), and it
/// takes part once the other is back.
#[test]
fn a_region_that_lost_its_state_stays_out_until_both_others_answer() {
    let mut c = start("strong-rejoin-wait", strong(&["a", "b", "c"], 5.0));
    c.ctl("a", &["put", "k", "v"]);
    poll("c has the write", || c.value("c", "k"));
    c.kill("b");
    c.kill("c");
    std::fs::remove_dir_all(c.path("data-c")).unwrap();
    c.start_node("c");
    poll("c waits for b", || {
        let q = c.stats("c")["quorum"].as_str().unwrap().to_owned();
        q.contains("copying the committed writes of b (done: a)")
            .then_some(())
    });
    let refused = c.ctl_json("c", &["put", "k", "from-c"]).unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("started without its state"), "{text}");
    poll("c serves eventual reads", || c.value("c", "k"));
    c.start_node("b");
    poll("c takes part", || {
        (c.stats("c")["quorum"] == "ok").then_some(())
    });
    assert_eq!(c.ctl("c", &["put", "k", "from-c"])["committed_by"], "c");
    assert_eq!(c.ctl("a", &["get", "k", "--consistent"])["value"], "from-c");
}

#[test]
fn cluster_files_strong_consistency_cannot_run_with_are_refused_with_the_line() {
    let dir = scratch_dir("strong-bad");
    let file = dir.path().join("two.toml");
    std::fs::write(
        &file,
        "multi_region_consistency = \"strong\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (ok, _, err) = meridian(&["node", "--region", "a", "--cluster", f], None);
    assert!(!ok);
    assert!(
        err.contains("two.toml:1") && err.contains("exactly three regions"),
        "{err}"
    );
    let three = dir.path().join("three.toml");
    std::fs::write(
        &three,
        "mode = \"aurora-global\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[region]]\nname = \"c\"\nlisten = \"127.0.0.1:3\"\n",
    )
    .unwrap();
    let (ok2, _, err2) = meridian(
        &[
            "ctl",
            "--cluster",
            three.to_str().unwrap(),
            "--multi-region-consistency",
            "strong",
            "stats",
        ],
        None,
    );
    assert!(!ok2 && err2.contains("Global Tables setting"), "{err2}");
}

/// `meridian check` on a history written by hand (`ctl put --json` lines): in a strong
/// cluster it runs the strong checks too, and a planted overwrite-unseen fails them.
#[test]
fn meridian_check_runs_the_strong_checks_on_a_recorded_history() {
    let c = start("strong-check", strong(&["a", "b", "c"], 5.0));
    let w1 = c.ctl("a", &["put", "k", "from-a"]);
    let w2 = c.ctl("b", &["put", "k", "from-b"]);
    let w3 = c.ctl("c", &["put", "other", "from-c"]);
    let (ok, report) = c.check_history(&[&w1, &w2, &w3], "history.jsonl");
    assert!(ok, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["writes_acked"], 3);
    let strong = &report["strong"];
    assert_eq!(strong["lww_losses"], 0, "{report}");
    assert_eq!(strong["unseen_overwrites"], 0, "{report}");
    assert_eq!(
        strong["histories_complete"], 6,
        "two keys in three regions: {report}"
    );
    // Planted: the second write claims it never saw the first.
    let mut forged = w2.clone();
    forged["context"]
        .as_object_mut()
        .unwrap()
        .remove("a")
        .expect("w2 saw w1");
    let (ok, report) = c.check_history(&[&w1, &forged, &w3], "forged.jsonl");
    assert!(!ok, "exit status 1: {report}");
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["violation_counts"]["unseen-overwrite"].as_u64() >= Some(1),
        "{report}"
    );
}
