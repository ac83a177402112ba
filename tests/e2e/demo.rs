//! `meridian demo` with a short duration: it runs to the end on its own cluster, prints the
//! side-by-side table with both modes, writes its reports, and leaves nothing running.

use crate::support::{meridian, scratch_dir};

#[test]
fn a_short_demo_completes_with_both_modes_in_its_table() {
    let dir = scratch_dir("demo");
    let out_dir = dir.join("out");
    let (ok, stdout, stderr) = meridian(
        &[
            "demo",
            "--duration",
            "1.5",
            "--rate",
            "90",
            "--dir",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "demo failed:\n{stdout}\n{stderr}");
    for column in [
        "Global Tables",
        "Aurora (to primary)",
        "Aurora (forwarding)",
    ] {
        assert!(stdout.contains(column), "table lacks {column}:\n{stdout}");
    }
    for row in [
        "conflict rate measured / model",
        "RPO on failover",
        "split-brain writes lost / ms",
        "RTO switchover / failover",
        "checker",
    ] {
        assert!(stdout.contains(row), "table lacks {row}:\n{stdout}");
    }
    let table_line = stdout.lines().find(|l| l.starts_with("checker")).unwrap();
    assert_eq!(table_line.matches("OK").count(), 3, "{table_line}");
    for file in [
        "demo.html",
        "demo.json",
        "global-tables.json",
        "aurora-primary.html",
    ] {
        assert!(out_dir.join(file).exists(), "{file} written");
    }
    assert!(stderr.contains("==> [6/6]"), "progress was shown");
    assert!(
        stderr.contains("acknowledged in split brain")
            && stderr.contains("bounded by rpo_bound_ms"),
        "the demo reports both kinds of loss: {stderr}"
    );
    let state = std::fs::read_to_string(out_dir.join("cluster").join("state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    for n in v["nodes"].as_array().unwrap() {
        let pid = n["pid"].as_u64().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .trim_start()
                    .starts_with('Z'),
            "node {pid} left running"
        );
    }
}
