//! `meridian demo` with a short duration: it runs to the end on its own cluster, prints the
//! side-by-side table with the three designs (Global Tables eventual and strong, Aurora
//! Global), writes its reports, and leaves nothing running.

use crate::support::{meridian, scratch_dir};

/// Column `col` (0: the first design) of the table row starting with `label`: the table is a
/// 42-character label then 26-character right-aligned cells.
fn cell(stdout: &str, label: &str, col: usize) -> String {
    let line: Vec<char> = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label}:\n{stdout}"))
        .chars()
        .collect();
    let from = (42 + 26 * col).min(line.len());
    let to = (from + 26).min(line.len());
    line[from..to].iter().collect::<String>().trim().to_owned()
}

#[test]
fn a_short_demo_completes_with_the_three_designs_in_its_table() {
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
        "Global Tables (eventual)",
        "Global Tables (strong)",
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
        "ReplicatedWriteConflict errors / model",
        "stale strong reads (checker)",
        "write p50 − nearest RTT",
        "partition: ap-south-1 writes acked",
        "checker",
    ] {
        assert!(stdout.contains(row), "table lacks {row}:\n{stdout}");
    }
    let table_line = stdout.lines().find(|l| l.starts_with("checker")).unwrap();
    assert_eq!(table_line.matches("OK").count(), 4, "{table_line}");
    // The strong column: nothing lost, no stale strong read; cut off, ap-south-1 refuses
    // every write with UNAVAILABLE while the others keep going.
    let strong = |label: &str| cell(&stdout, label, 1);
    assert_eq!(strong("lost writes (rate)"), "0 (0.00%)");
    assert!(strong("stale strong reads (checker)").starts_with("0 of "));
    let cut = strong("partition: ap-south-1 writes acked");
    assert!(
        cut.starts_with("0/") && cut.ends_with("(Unavailable)"),
        "{cut}"
    );
    let others = strong("partition: other regions' writes acked");
    let (ok, sent) = others.split_once('/').unwrap();
    assert!(ok == sent && ok != "0", "{others}");
    // The eventual column: the cut-off region keeps writing.
    let eventual = cell(&stdout, "partition: ap-south-1 writes acked", 0);
    let (ok, sent) = eventual.split_once('/').unwrap();
    assert!(ok == sent && ok != "0", "{eventual}");
    assert!(stderr.contains("==> [7/7]"), "progress was shown");
    for file in [
        "demo.html",
        "demo.json",
        "global-tables.json",
        "aurora-primary.html",
        "replay.html",
    ] {
        assert!(out_dir.join(file).exists(), "{file} written");
    }
    // The reports link to the replay, which holds the run's updates across every phase.
    let demo_html = std::fs::read_to_string(out_dir.join("demo.html")).unwrap();
    assert!(demo_html.contains(r#"href="replay.html""#));
    let replay = std::fs::read_to_string(out_dir.join("replay.html")).unwrap();
    let data = replay
        .split(r#"<script type="application/json" id="replay-data">"#)
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the replay embeds its recording");
    let rec: serde_json::Value = serde_json::from_str(data).unwrap();
    let snapshots = rec["snapshots"].as_array().unwrap();
    let phases: std::collections::BTreeSet<&str> = snapshots
        .iter()
        .filter_map(|s| s["phase"].as_str())
        .collect();
    assert!(
        phases.iter().any(|p| p.starts_with("[1/7]"))
            && phases.iter().any(|p| p.starts_with("[6/7]")),
        "the recording covers the phases: {phases:?}"
    );
    let kinds: Vec<&str> = snapshots.last().unwrap()["role_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"switchover") && kinds.contains(&"failover"),
        "the replay lists the role changes: {kinds:?}"
    );
    assert!(
        !rec["conflicts"].as_array().unwrap().is_empty(),
        "the Global Tables phase's conflicts are in the replay"
    );
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
