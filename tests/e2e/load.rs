//! `meridian load` against real nodes: conflicts, the model, the checker and the reports; and
//! the coordinated-omission correction made visible by a stalled node.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{BIN, Cluster, Spec, poll};

fn load_cmd(c: &Cluster, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["load", "--quiet", "--cluster"])
        .arg(&c.file)
        .args(args);
    cmd
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
        .expect("report is JSON")
}

#[test]
fn a_short_run_with_a_hot_key_reports_conflicts_the_model_and_a_passing_checker() {
    let c = Cluster::start("load-hot", Spec::new(&["a", "b", "c"], 40.0));
    let (json, html, hgrm) = (c.path("report.json"), c.path("report.html"), c.path("hgrm"));
    let out = load_cmd(
        &c,
        &[
            "--duration",
            "3",
            "--rate",
            "150",
            "--keys",
            "5",
            "--dist",
            "hot:1:0.8",
            "--mix",
            "put=80,get=20",
        ],
    )
    .args([
        "--report-json",
        json.to_str().unwrap(),
        "--report-html",
        html.to_str().unwrap(),
        "--hgrm-dir",
        hgrm.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "load failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("checker: OK"), "{stdout}");
    let r = read_json(&json);
    for field in [
        "throughput_ops",
        "latency_us",
        "conflicts",
        "lost_writes",
        "conflict_rate",
        "predicted_conflict_rate",
        "replication_lag_ms",
        "checker",
    ] {
        assert!(r.get(field).is_some(), "report lacks {field}");
    }
    assert!(
        r["conflicts"].as_u64().unwrap() > 0,
        "a hot key at 40 ms lag conflicts"
    );
    assert!(r["lost_writes"].as_u64().unwrap() > 0);
    assert!(r["conflict_rate"].as_f64().unwrap() > 0.0);
    assert!(r["predicted_conflict_rate"].as_f64().unwrap() > 0.0);
    assert_eq!(r["checker"]["ok"], true);
    assert_eq!(r["checker"]["violations"], serde_json::json!([]));
    for region in ["a", "b", "c"] {
        let put = &r["latency_us"][region]["put"];
        for p in ["p50", "p99", "p999", "max"] {
            assert!(
                put[p].as_u64().is_some(),
                "latency_us.{region}.put.{p} in {put}"
            );
        }
    }
    assert!(
        r["replication_lag_ms"]["a>b"]["p50"].as_f64().unwrap() >= 40.0,
        "lag is at least the link latency"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg")
            && page.contains("Latency by percentile")
            && !page.contains("<script"),
        "self-contained HTML with charts"
    );
    // It links to the run's replay in the dashboard's views, which the run recorded.
    assert!(
        page.contains(r#"href="report-replay.html""#),
        "the report links to its replay"
    );
    let replay = std::fs::read_to_string(c.path("report-replay.html")).unwrap();
    let data = replay
        .split(r#"<script type="application/json" id="replay-data">"#)
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the replay embeds its recording");
    let rec: serde_json::Value = serde_json::from_str(data).unwrap();
    let snapshots = rec["snapshots"].as_array().unwrap();
    assert!(
        snapshots.len() >= 4,
        "about two updates a second for 3 s: {}",
        snapshots.len()
    );
    assert!(
        snapshots.iter().any(
            |s| s["latency_source"] == "load" && s["regions"][0]["latency"]["source"] == "load"
        ),
        "client latency comes from the run itself"
    );
    assert!(
        !rec["conflicts"].as_array().unwrap().is_empty(),
        "the hot key's conflicts are in the replay"
    );
    let hgrm_file = std::fs::read_to_string(hgrm.join("latency_a_put.hgrm")).unwrap();
    assert!(
        hgrm_file.starts_with("       Value     Percentile TotalCount"),
        "{hgrm_file}"
    );
    // Eventual consistency: no strong section, no conflict errors.
    assert_eq!(r["strong"], Value::Null);
    assert_eq!(r["writes"]["conflict_errors"], 0);
    // Strong reads need a strong cluster: refused before anything is sent.
    let out = load_cmd(&c, &["--duration", "1", "--consistent-reads"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--consistent-reads needs a cluster"),
        "{stderr}"
    );
}

/// SIGSTOP / SIGCONT a process.
fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Run load against one node, stall the node for `stall` while it runs, return the p99 of puts (µs).
fn p99_with_stall(c: &Cluster, node_pid: u32, args: &[&str], name: &str) -> u64 {
    let json = c.path(name);
    let mut load: Child = load_cmd(
        c,
        &[
            "--duration",
            "4",
            "--keys",
            "100",
            "--mix",
            "put=1",
            "--probe-interval-ms",
            "0",
        ],
    )
    .args(args)
    .args(["--report-json", json.to_str().unwrap()])
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    // Once the load is flowing, freeze the node for 1.5 s.
    poll("the load has started writing", || {
        (c.ctl("a", &["stats"])["log_head"].as_u64().unwrap() > 50).then_some(())
    });
    signal(node_pid, "-STOP");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(node_pid, "-CONT");
    assert!(load.wait().unwrap().success());
    read_json(&json)["latency_us"]["a"]["put"]["p99"]
        .as_u64()
        .unwrap()
}

#[test]
fn an_open_loop_run_shows_a_server_stall_in_p99_where_a_closed_loop_run_hides_it() {
    let mut c = Cluster::start("load-stall", Spec::new(&["a"], 0.0));
    let pid = c.pid("a");
    let open = p99_with_stall(
        &c,
        pid,
        &["--rate", "200", "--concurrency", "8"],
        "open.json",
    );
    let closed = p99_with_stall(&c, pid, &["--closed", "--concurrency", "1"], "closed.json");
    // Open loop: every request intended during the 1.5 s stall is charged from its intended
    // start, so ~1/3 of a 4 s run waits for up to 1.5 s and p99 sits inside the stall.
    assert!(
        open >= 750_000,
        "open-loop p99 {open} µs should show the 1.5 s stall"
    );
    // Closed loop: the one request in flight waited; the thousands after it did not.
    assert!(
        closed < open / 2,
        "closed-loop p99 {closed} µs hides the stall that open loop shows ({open} µs)"
    );
    c.kill("a");
}

/// A node's feed dropped events long before this run (capacity 2, three conflicts): the run
/// reads the feed from where it stood at its start, so it is complete and passes.
#[test]
fn a_feed_that_dropped_events_before_the_run_does_not_fail_the_run() {
    let c = Cluster::start(
        "load-old-drops",
        Spec::new(&["a", "b"], 5.0)
            .node_arg("--conflict-feed")
            .node_arg("2"),
    );
    c.ctl("a", &["partition", "a"]);
    for i in 0..3 {
        let key = format!("old-{i}");
        c.ctl("a", &["put", &key, "a"]);
        c.ctl("b", &["put", &key, "b"]);
    }
    c.ctl("a", &["heal"]);
    poll("the old conflicts are recorded and some dropped", || {
        let r = c.ctl("a", &["conflicts"]);
        (r["lost_writes"].as_u64() == Some(3)).then_some(())
    });
    let out = load_cmd(
        &c,
        &[
            "--duration",
            "1",
            "--rate",
            "50",
            "--keys",
            "1000",
            "--mix",
            "put=1",
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("checker: OK"),
        "{stdout}"
    );
}

/// Two runs on one cluster with the default key prefix never share keys: each has its own
/// prefix, and each run's counters add up (no run sees the other's increments).
#[test]
fn two_runs_on_one_cluster_get_distinct_key_prefixes_and_exact_counters() {
    let c = Cluster::start("load-two-runs", Spec::new(&["a"], 1.0));
    let mut prefixes = Vec::new();
    for run in ["one", "two"] {
        let json = c.path(&format!("{run}.json"));
        let out = load_cmd(
            &c,
            &[
                "--duration",
                "1",
                "--rate",
                "100",
                "--keys",
                "5",
                "--mix",
                "incr=1",
            ],
        )
        .args(["--report-json", json.to_str().unwrap()])
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let r = read_json(&json);
        assert_eq!(r["lost_increments"], 0, "{run}: {r}");
        prefixes.push(r["config"]["key_prefix"].as_str().unwrap().to_owned());
    }
    assert_ne!(prefixes[0], prefixes[1]);
    assert!(
        prefixes.iter().all(|p| p.len() == "run-".len() + 32 + 1),
        "{prefixes:?}"
    );
}
