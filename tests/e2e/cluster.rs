//! `meridian cluster` against real processes: up, a second up refused, status, kill, restart
//! (the restarted region takes part again), down — and nothing left running.

use std::path::Path;

use serde_json::Value;

use crate::support::{meridian, poll, scratch_dir};

fn cluster(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["cluster", "--dir", dir.to_str().unwrap(), "--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = meridian(&all, None);
    assert!(ok, "cluster {args:?} failed: {out}\n{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

fn pid_alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
}

/// Stops the cluster even when the test fails halfway.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = meridian(
            &["cluster", "--dir", self.0.to_str().unwrap(), "down"],
            None,
        );
    }
}

#[test]
fn cluster_up_status_kill_restart_down_leaves_nothing_running() {
    let dir = scratch_dir("cluster");
    let file = dir.join("in.toml");
    std::fs::write(
        &file,
        "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:0\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:0\"\n[[region]]\nname = \"c\"\nlisten = \"127.0.0.1:0\"\n[default_link]\nlatency_ms = 5\n",
    )
    .unwrap();
    let state_dir = dir.join("state");
    let _down = Down(&state_dir);
    let up = cluster(&state_dir, &["up", "--cluster", file.to_str().unwrap()]);
    let pids: Vec<u64> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|p| pid_alive(*p)));
    let effective = state_dir.join("cluster.toml");
    assert!(
        !std::fs::read_to_string(&effective)
            .unwrap()
            .contains(":0\""),
        "ports were chosen at run time"
    );

    let (ok, _, err) = meridian(
        &[
            "cluster",
            "--dir",
            state_dir.to_str().unwrap(),
            "up",
            "--cluster",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        !ok && err.contains("already running"),
        "a second up is refused: {err}"
    );

    let status = cluster(&state_dir, &["status"]);
    for n in status["nodes"].as_array().unwrap() {
        assert_eq!(n["state"], "up", "{n}");
        assert_eq!(n["status"]["mode"], "global-tables");
    }

    let ctl = |region: &str, args: &[&str]| -> Value {
        let mut all = vec![
            "ctl",
            "--cluster",
            effective.to_str().unwrap(),
            "--region",
            region,
            "--json",
        ];
        all.extend_from_slice(args);
        let (ok, out, err) = meridian(&all, None);
        assert!(ok, "ctl {args:?}: {out} {err}");
        serde_json::from_str(out.trim()).unwrap()
    };

    let killed = cluster(&state_dir, &["kill", "b"]);
    let b_pid = killed["pid"].as_u64().unwrap();
    assert!(!pid_alive(b_pid));
    let status = cluster(&state_dir, &["status"]);
    let b = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["region"] == "b")
        .unwrap()
        .clone();
    assert_eq!(b["state"], "down");

    ctl("a", &["put", "while-b-was-down", "1"]);
    let restarted = cluster(&state_dir, &["restart", "b"]);
    let new_b = restarted["pid"].as_u64().unwrap();
    assert!(pid_alive(new_b) && new_b != b_pid);
    // The restarted region catches up, and its new writes reach the others.
    poll("b has a's write", || {
        ctl("b", &["get", "while-b-was-down"])["found"]
            .as_bool()
            .unwrap()
            .then_some(())
    });
    ctl("b", &["put", "after-restart", "2"]);
    poll("a has b's write after the restart", || {
        ctl("a", &["get", "after-restart"])["found"]
            .as_bool()
            .unwrap()
            .then_some(())
    });

    let down = cluster(&state_dir, &["down"]);
    assert_eq!(down["stopped"].as_array().unwrap().len(), 3);
    for p in [pids[0], pids[2], new_b] {
        assert!(!pid_alive(p), "pid {p} still running after down");
    }
}
