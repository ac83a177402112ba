//! The live dashboard against real node processes. Its JSON/SSE feed, served in this process
//! (the library's server on a port-0 listener), must show a lag change, a partition and a
//! conflict within two updates of the nodes having them; its controls answer with their
//! result and are guarded (Host, Origin, content type, admin token). And `cluster up
//! --dashboard` serves it as a process of its own, whose kill / restart controls work on the
//! recorded nodes and which `cluster down` stops.
//!
//! "Within two updates": once a node shows a change (read directly, after the change), the
//! update in progress may have read that node before it; every update after that one
//! started later and must show it. So the test takes the number `n` of the latest update
//! published when the node showed the change, and requires the change in every event from
//! update `n + 2` on — a count of updates, not a time.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

use meridian_client::dashboard::{self, Dashboard, Options, Snapshot, Target};
use meridian_core::ClusterConfig;
use serde_json::Value;

use crate::support::{Cluster, DEADLINE, Spec, meridian, poll, scratch_dir};

/// One HTTP/1.0 exchange on loopback: (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the dashboard");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req += &format!("Host: {addr}\r\n");
    }
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {out:?}"));
    (status, body.to_owned())
}

/// `GET path` as JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// `POST /api/action` with `extra` headers: (status, JSON answer).
fn action(addr: SocketAddr, body: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let (status, text) = http(addr, "POST", "/api/action", &headers, body);
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// The dashboard's event stream, read as a browser's EventSource would.
struct Events {
    lines: BufReader<TcpStream>,
}

impl Events {
    fn open(addr: SocketAddr) -> Self {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            s,
            "GET /api/events HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut lines = BufReader::new(s);
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("HTTP/1.") && line.contains(" 200 "),
            "{line}"
        );
        let mut content_type = String::new();
        loop {
            line.clear();
            lines.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if line.to_ascii_lowercase().starts_with("content-type:") {
                content_type = line.clone();
            }
        }
        assert!(content_type.contains("text/event-stream"), "{content_type}");
        Self { lines }
    }

    /// The next `snapshot` event.
    fn next(&mut self) -> Snapshot {
        let (mut kind, mut data) = (String::new(), String::new());
        loop {
            let mut line = String::new();
            let n = self
                .lines
                .read_line(&mut line)
                .expect("an event within the deadline");
            assert!(n > 0, "the event stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if kind == "snapshot" && !data.is_empty() {
                    return serde_json::from_str(&data).expect("a snapshot");
                }
                (kind, data) = (String::new(), String::new());
            } else if let Some(k) = line.strip_prefix("event:") {
                kind = k.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data += d.strip_prefix(' ').unwrap_or(d);
            }
        }
    }

    /// The stream ends (the server closed it).
    fn ends(&mut self) {
        let mut line = String::new();
        while self
            .lines
            .read_line(&mut line)
            .expect("the stream ends within the deadline")
            > 0
        {
            line.clear();
        }
    }

    /// Events until one satisfies `ok`; panics after the deadline, naming `what`.
    fn until(&mut self, what: &str, ok: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let start = Instant::now();
        loop {
            let s = self.next();
            if ok(&s) {
                return s;
            }
            assert!(start.elapsed() < DEADLINE, "no update showed {what}");
        }
    }

    /// Every event from update `from` on must satisfy `ok` (checked on the first of them).
    fn every_update_from(
        &mut self,
        from: u64,
        what: &str,
        ok: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        loop {
            let s = self.next();
            if s.seq >= from {
                assert!(
                    ok(&s),
                    "update {} (>= {from}) does not show {what}: {s:#?}",
                    s.seq
                );
                return s;
            }
        }
    }
}

fn link<'a>(s: &'a Snapshot, from: &str, to: &str) -> &'a dashboard::model::LinkView {
    s.links
        .iter()
        .find(|l| l.from == from && l.to == to)
        .unwrap_or_else(|| panic!("no link {from} -> {to}"))
}

fn region<'a>(s: &'a Snapshot, name: &str) -> &'a dashboard::model::RegionView {
    s.regions.iter().find(|r| r.name == name).unwrap()
}

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];

#[test]
fn the_feed_shows_a_lag_change_a_partition_and_a_conflict_within_two_updates() {
    let c = Cluster::start("dashboard-feed", Spec::new(&REGIONS, 10.0));
    let opts = Options {
        admin_token: Some("s3cret".into()),
        ..Options::default()
    };
    let d = InProcess::start(&c, opts);
    let (addr, dash) = (d.addr, d.dash.clone());
    let mut events = Events::open(addr);

    // Every region up, every link streaming.
    let s = events.until("three regions up and six links ok", |s| {
        s.regions.len() == 3
            && s.regions.iter().all(|r| r.state == "up")
            && s.links.len() == 6
            && s.links.iter().all(|l| l.state == "ok")
    });
    assert_eq!(s.cluster.mode.as_deref(), Some("global-tables"));
    assert!(s.controls.token_required);
    assert_eq!(s.latency_source, "probe");
    let snapshot = get_json(addr, "/api/snapshot");
    assert!(snapshot["seq"].as_u64().unwrap() >= s.seq);
    assert_eq!(snapshot["regions"].as_array().unwrap().len(), 3);

    // 1. A lag change: us-east-1 -> eu-west-1 becomes a 300 ms link. Once eu-west-1 has
    //    applied a write that waited for it, the feed shows it within two updates.
    c.ctl(
        "us-east-1",
        &[
            "link",
            "us-east-1",
            "eu-west-1",
            "--latency-ms",
            "300",
            "--jitter-ms",
            "0",
            "--one-way",
        ],
    );
    for i in 0..3 {
        c.ctl("us-east-1", &["put", &format!("slow-{i}"), "v"]);
    }
    poll("eu-west-1 applied a write over the slow link", || {
        (c.link_from("eu-west-1", "us-east-1")["last_lag_ms"]
            .as_f64()
            .unwrap()
            >= 300.0)
            .then_some(())
    });
    let n = dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "the 300 ms link and its lag", |s| {
        let l = link(s, "us-east-1", "eu-west-1");
        l.latency_ms == Some(300.0) && l.last_lag_ms.is_some_and(|x| x >= 300.0)
    });
    // The interval mean covers the update the writes were applied in: in the history.
    let history = get_json(addr, "/api/history");
    let slow = history["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["links"]["us-east-1>eu-west-1"]["lag_ms"].as_f64())
        .fold(0.0, f64::max);
    assert!(slow >= 300.0, "the lag chart has the slow writes: {slow}");
    assert!(
        link(&s, "eu-west-1", "us-east-1").latency_ms == Some(10.0),
        "one way only"
    );

    // 2. A partition: ap-south-1 cut off from everyone.
    c.ctl("us-east-1", &["partition", "ap-south-1"]);
    let n = dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "ap-south-1 partitioned", |s| {
        let ap = region(s, "ap-south-1");
        ap.health == "partitioned"
            && ap.partitioned
            && link(s, "us-east-1", "ap-south-1").state == "partitioned"
            && link(s, "ap-south-1", "eu-west-1").state == "partitioned"
            && region(s, "us-east-1").health == "partitioned from ap-south-1"
    });
    assert_eq!(link(&s, "us-east-1", "eu-west-1").state, "ok");

    // 3. A conflict: both sides of the partition write one key; the heal delivers them. The
    //    write held back by the partition is a backlog on the link meanwhile.
    c.ctl("us-east-1", &["put", "contested", "from-us"]);
    let n = dash.snapshot().seq;
    events.every_update_from(n + 2, "us-east-1's write held back from ap-south-1", |s| {
        link(s, "us-east-1", "ap-south-1").backlog >= Some(1)
    });
    events.until("eu-west-1 caught up with us-east-1 meanwhile", |s| {
        link(s, "us-east-1", "eu-west-1").backlog == Some(0)
    });
    c.ctl("ap-south-1", &["put", "contested", "from-ap"]);
    c.ctl("us-east-1", &["heal"]);
    let event = poll("us-east-1 detected the conflict", || {
        c.ctl("us-east-1", &["conflicts"])["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "contested")
            .cloned()
    });
    let n = dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "the conflict on `contested`", |s| {
        s.conflicts
            .iter()
            .any(|c| c.key == "contested" && c.detected_by.iter().any(|r| r == "us-east-1"))
    });
    let shown = s.conflicts.iter().find(|c| c.key == "contested").unwrap();
    assert_eq!(
        shown.winner.write_id,
        event["winner"]["write_id"].as_str().unwrap()
    );
    assert_eq!(
        shown.loser.write_id,
        event["loser"]["write_id"].as_str().unwrap()
    );
    let regions = [shown.winner.region.as_str(), shown.loser.region.as_str()];
    assert!(
        regions.contains(&"us-east-1") && regions.contains(&"ap-south-1"),
        "{shown:?}"
    );
    assert!(s.totals.conflicts >= 1);

    // 4. The controls: refused without the token, from another origin, as a form, or by
    //    another name; taken with the token, with the result in the answer and in the feed.
    let partition = r#"{"action": "partition", "region": "eu-west-1", "peer": "ap-south-1"}"#;
    let (status, body) = action(addr, partition, &[]);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("Unauthenticated"))
    );
    let (status, _) = action(addr, partition, &[("meridian-admin-token", "wrong")]);
    assert_eq!(status, 401);
    let token = ("meridian-admin-token", "s3cret");
    let (status, _) = action(addr, partition, &[token, ("Origin", "http://evil.example")]);
    assert_eq!(status, 403);
    let (status, _) = http(
        addr,
        "POST",
        "/api/action",
        &[("Content-Type", "text/plain"), token],
        partition,
    );
    assert_eq!(status, 415);
    let (status, _) = http(
        addr,
        "GET",
        "/api/snapshot",
        &[("Host", "rebound.example:80")],
        "",
    );
    assert_eq!(status, 403, "a DNS name in Host is refused");
    let (status, body) = action(
        addr,
        r#"{"action": "partition", "region": "mars-1"}"#,
        &[token],
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a region"),
        "{body}"
    );
    assert_eq!(
        c.link_from("ap-south-1", "eu-west-1")["setting"]["partitioned"],
        false,
        "nothing was cut"
    );

    let origin = format!("http://{addr}");
    let (status, body) = action(addr, partition, &[token, ("Origin", origin.as_str())]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("partition eu-west-1 from ap-south-1")
    );
    assert_eq!(
        c.link_from("ap-south-1", "eu-west-1")["setting"]["partitioned"],
        true
    );
    assert_eq!(
        c.link_from("ap-south-1", "us-east-1")["setting"]["partitioned"],
        false
    );
    let (status, body) = action(
        addr,
        r#"{"action": "kill", "region": "eu-west-1"}"#,
        &[token],
    );
    assert_eq!(status, 400, "no processes to kill: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cluster up")
    );
    let (status, _) = action(addr, r#"{"action": "heal"}"#, &[token]);
    assert_eq!(status, 200);
    assert_eq!(
        c.link_from("ap-south-1", "eu-west-1")["setting"]["partitioned"],
        false
    );
    let n = dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "the actions taken", |s| s.actions.len() >= 2);
    assert_eq!(s.actions[0].action, "heal every partition");
    assert!(
        s.actions
            .iter()
            .any(|a| !a.ok && a.action == "kill eu-west-1")
    );

    // The stream ends when the dashboard stops, and the server returns.
    d.stop();
    events.ends();
}

/// A dashboard served in this process on a port-0 listener: its address, the dashboard, and
/// what stops it.
struct InProcess {
    addr: SocketAddr,
    dash: Dashboard,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<meridian_client::Result<()>>>,
    rt: tokio::runtime::Runtime,
}

impl InProcess {
    fn start(c: &Cluster, opts: Options) -> Self {
        let cluster = ClusterConfig::load(&c.file).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dash = Dashboard::new(Target::from_cluster(&cluster), opts);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(dashboard::serve(listener, dash.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            dash,
            stop: Some(stop),
            server: Some(server),
            rt,
        }
    }

    /// Stop it and wait until the server returned.
    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.rt
            .block_on(self.server.take().unwrap())
            .unwrap()
            .unwrap();
    }
}

#[test]
fn aurora_role_changes_and_link_settings_made_from_the_dashboard_show_with_their_figures() {
    let c = Cluster::start(
        "dashboard-aurora",
        Spec::aurora(&["a", "b", "c"], 10.0, "a"),
    );
    let d = InProcess::start(&c, Options::default());
    let mut events = Events::open(d.addr);
    events.until(
        "an Aurora cluster with a as the primary, all links ok",
        |s| {
            s.cluster.primary.as_deref() == Some("a")
                && s.links.iter().all(|l| l.state == "ok")
                && region(s, "a").role.as_deref() == Some("primary")
                && region(s, "b").role.as_deref() == Some("secondary")
        },
    );
    c.ctl("a", &["put", "k", "v"]);

    // A link setting from the page: one way, exactly as asked.
    let (status, body) = action(
        d.addr,
        r#"{"action": "set-link", "from": "a", "to": "b", "latency_ms": 25, "jitter_ms": 1, "loss": 0.0, "one_way": true}"#,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let ab = c.link_from("b", "a");
    assert_eq!(
        (
            ab["setting"]["latency_ms"].as_f64(),
            ab["setting"]["jitter_ms"].as_f64()
        ),
        (Some(25.0), Some(1.0))
    );
    assert_eq!(
        c.link_from("a", "b")["setting"]["latency_ms"].as_f64(),
        Some(10.0)
    );

    // A switchover: its RPO and RTO in the answer and in the list; the new primary within two
    // updates.
    let (status, body) = action(d.addr, r#"{"action": "switchover", "to": "b"}"#, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["rpo_writes"], 0);
    assert!(body["result"]["rto_ms"].as_f64().is_some());
    let n = d.dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "b the primary after the switchover", |s| {
        s.cluster.primary.as_deref() == Some("b")
            && region(s, "b").role.as_deref() == Some("primary")
            && s.role_changes
                .first()
                .is_some_and(|r| r.kind == "switchover")
    });
    let change = &s.role_changes[0];
    assert_eq!(
        (change.from.as_str(), change.to.as_str(), change.by.as_str()),
        ("a", "b", "dashboard")
    );
    assert_eq!(change.rpo_writes, Some(0));
    assert!(change.rto_ms.is_some());

    // A failover: the old primary is cut off and still believes it is the primary — in words.
    let (status, body) = action(d.addr, r#"{"action": "failover", "to": "c"}"#, &[]);
    assert_eq!(status, 200, "{body}");
    let n = d.dash.snapshot().seq;
    let s = events.every_update_from(n + 2, "c the primary, b cut off", |s| {
        s.cluster.primary.as_deref() == Some("c")
            && region(s, "b")
                .health
                .contains("cut off: still believes it is the primary")
            && region(s, "b").partitioned
    });
    assert_eq!(s.role_changes[0].kind, "failover");
    assert!(s.role_changes[0].rpo_writes.is_some() && s.role_changes[0].rto_ms.is_some());

    // Rejoin: b is a secondary of c again.
    let (status, body) = action(d.addr, r#"{"action": "rejoin", "region": "b"}"#, &[]);
    assert_eq!(status, 200, "{body}");
    let n = d.dash.snapshot().seq;
    events.every_update_from(n + 2, "b a secondary of c again", |s| {
        let b = region(s, "b");
        b.role.as_deref() == Some("secondary")
            && b.health == "up"
            && b.primary.as_deref() == Some("c")
    });
    d.stop();
}

fn cluster_cmd(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["cluster", "--dir", dir.to_str().unwrap(), "--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = meridian(&all, None);
    assert!(ok, "cluster {args:?} failed: {out}\n{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Stops the cluster (and its dashboard) even when the test fails halfway.
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
fn cluster_up_serves_a_dashboard_whose_controls_kill_and_restart_and_down_stops_it() {
    let dir = scratch_dir("dashboard-up");
    let file = dir.join("in.toml");
    let mut toml = String::new();
    for r in ["a", "b", "c"] {
        toml += &format!("[[region]]\nname = \"{r}\"\nlisten = \"127.0.0.1:0\"\n");
    }
    toml += "[default_link]\nlatency_ms = 5\n";
    std::fs::write(&file, toml).unwrap();
    let state_dir = dir.join("state");
    let _down = Down(&state_dir);
    let up = cluster_cmd(
        &state_dir,
        &[
            "up",
            "--cluster",
            file.to_str().unwrap(),
            "--dashboard",
            "--dashboard-listen",
            "127.0.0.1:0",
        ],
    );
    let url = up["dashboard"]["url"]
        .as_str()
        .expect("the dashboard's address");
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let dashboard_pid = up["dashboard"]["pid"].as_u64().unwrap();
    assert!(alive(dashboard_pid));
    let (status, page) = http(addr, "GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("/assets/dashboard.js") && page.contains("/assets/uPlot.iife.min.js"));
    let (status, js) = http(addr, "GET", "/assets/uPlot.iife.min.js", &[], "");
    assert!(
        status == 200 && js.contains("uPlot"),
        "uPlot is served from the binary"
    );
    // Every region up, reads per second from the nodes' metrics pages.
    let snapshot = poll(
        "every region up on the dashboard, reads from metrics",
        || {
            let s = get_json(addr, "/api/snapshot");
            let regions = s["regions"].as_array()?;
            (regions.len() == 3
                && regions
                    .iter()
                    .all(|r| r["state"] == "up" && r["read_rate_source"] == "metrics"))
            .then_some(s)
        },
    );
    assert_eq!(snapshot["controls"]["processes"], true);
    assert_eq!(snapshot["regions"][0]["pid"], up["nodes"][0]["pid"]);
    let status = cluster_cmd(&state_dir, &["status"]);
    assert_eq!(status["dashboard"]["state"], "running");

    // Kill a region from the dashboard: the recorded process goes, the feed says so in words.
    let b_pid = up["nodes"][1]["pid"].as_u64().unwrap();
    let (code, body) = action(addr, r#"{"action": "kill", "region": "b"}"#, &[]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"]["pid"].as_u64(), Some(b_pid));
    assert!(!alive(b_pid));
    poll("b shown down, its process not running", || {
        let s = get_json(addr, "/api/snapshot");
        (s["regions"][1]["health"] == "down (process not running)").then_some(())
    });
    assert_eq!(
        cluster_cmd(&state_dir, &["status"])["nodes"][1]["state"],
        "down"
    );

    // Restart it: a new process, up again.
    let (code, body) = action(addr, r#"{"action": "restart", "region": "b"}"#, &[]);
    assert_eq!(code, 200, "{body}");
    let new_pid = body["result"]["pid"].as_u64().unwrap();
    assert_ne!(new_pid, b_pid);
    poll("b up again on the dashboard", || {
        let s = get_json(addr, "/api/snapshot");
        (s["regions"][1]["state"] == "up" && s["regions"][1]["pid"] == new_pid).then_some(())
    });

    // `cluster down` stops the dashboard with the nodes.
    let down = cluster_cmd(&state_dir, &["down"]);
    assert_eq!(down["dashboard_stopped"], true, "{down}");
    let start = Instant::now();
    while alive(dashboard_pid) && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(dashboard_pid), "the dashboard was left running");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing serves the page any more"
    );
}

#[test]
fn a_non_loopback_address_is_refused_unless_asked_for() {
    let (ok, _, err) = meridian(&["dashboard", "--listen", "0.0.0.0:0"], None);
    assert!(!ok);
    assert!(err.contains("--allow-non-loopback"), "{err}");
}
