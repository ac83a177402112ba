//! `meridian cluster` against real processes: up, a second up refused, status, kill, restart
//! (the restarted region takes part again), down — and nothing left running.

use std::{path::Path, process::Command};

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

/// `cluster down` and `cluster kill` against hostile state files, run inside fresh PID and
/// network namespaces (`unshare -p -f --mount-proc -n`): whatever the code under test signals,
/// nothing outside this test can be reached. The sacrificial child is a `sleep` started in the
/// namespace; it must survive every command.
#[test]
fn cluster_down_and_kill_signal_only_verified_node_processes() {
    if !Command::new("unshare")
        .args(["-p", "-f", "--mount-proc", "-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        // Needs root (CI runs as root); without a namespace this test could reach real processes.
        eprintln!("skipped: unshare -p -f --mount-proc -n is not available here");
        return;
    }
    let dir = scratch_dir("hostile-state");
    // One case per line: a pid (or the word VICTIM for the sleeping child) and the command.
    let script = r#"
set -u
sleep 60 & victim=$!
case_() { # pid command
  printf '{"cluster_file":"%s/cluster.toml","node_args":[],"nodes":[{"region":"a","pid":%s,"addr":"127.0.0.1:1","metrics_addr":null,"log":"x"}]}' "$DIR" "$1" > "$DIR/state.json"
  "$BIN" cluster --dir "$DIR" --json $2 > "$DIR/out" 2> "$DIR/err"; rc=$?
  if kill -0 "$victim" 2>/dev/null; then alive=yes; else alive=no; fi
  echo "case pid=$1 cmd=$2 rc=$rc victim_alive=$alive err=$(tr '\n' ' ' < "$DIR/err")"
}
case_ 4294967295 down
case_ 4294967295 "kill a"
case_ 0 down
case_ 2147483648 down
case_ "$victim" down
case_ "$victim" "kill a"
case_ 1 down
kill "$victim"
"#;
    let out = Command::new("unshare")
        .args(["-p", "-f", "--mount-proc", "-n", "sh", "-c", script])
        .env("BIN", crate::support::BIN)
        .env("DIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let cases: Vec<&str> = text.lines().filter(|l| l.starts_with("case ")).collect();
    assert_eq!(
        cases.len(),
        7,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for c in &cases {
        assert!(
            c.contains("victim_alive=yes"),
            "a command signalled the victim: {c}"
        );
    }
    // Pids kill(2) reads as groups or "every process": the state file is refused, exit 1.
    for c in &cases[..4] {
        assert!(
            c.contains("rc=1") && c.contains("is not a process id"),
            "{c}"
        );
    }
    // A live process that is not the node: `down` leaves it alone and says so; `kill` refuses.
    assert!(
        cases[4].contains("rc=0") && cases[4].contains("not signalling pid"),
        "{}",
        cases[4]
    );
    assert!(
        cases[5].contains("rc=1") && cases[5].contains("refusing to signal"),
        "{}",
        cases[5]
    );
    assert!(
        cases[6].contains("rc=0") && cases[6].contains("not signalling pid 1"),
        "{}",
        cases[6]
    );
}
