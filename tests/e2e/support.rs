//! Test support: start a cluster of real node processes on free loopback ports, run `meridian`
//! commands, poll for conditions with deadlines, and always clean up.
//!
//! Cleaning up: every file a test writes goes under its [`Scratch`] directory (cluster files,
//! node logs, data directories, reports), and every process it starts is owned by a guard that
//! kills and reaps it in `Drop` ([`Cluster`], or a test's own). A test that passes leaves
//! nothing behind: its processes are reaped first, then its directory is removed. A test that
//! fails (panics) keeps its directory for debugging and prints where it is
//! (`kept for debugging: /tmp/meridian-test-…`); its processes are still killed.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// How long any poll may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A test's scratch directory: removed when dropped, unless the test is failing (then kept,
/// and its path printed). Derefs to its [`Path`].
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for debugging: {}", self.0.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("could not remove {}: {e}", self.0.display());
        }
    }
}

/// A fresh, unique scratch directory under the system temp dir (`$TMPDIR`, else `/tmp`),
/// removed when the returned guard drops (see [`Scratch`]).
pub fn scratch_dir(name: &str) -> Scratch {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "meridian-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    Scratch(dir)
}

/// A single-threaded tokio runtime for tests that call gRPC directly.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A free loopback port (bound then released; the node binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` distinct free loopback ports (all bound at once, then released, so no two are the same).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A whole-number field of a JSON object (`ctl stats`, a link, a report); panics naming it.
pub fn figure(s: &Value, field: &str) -> u64 {
    s[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {s}"))
}

/// Poll `f` until it returns `Some`, or panic after [`DEADLINE`] naming `what`.
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A cluster description for a test.
pub struct Spec {
    pub regions: Vec<&'static str>,
    pub mode: &'static str,
    pub latency_ms: f64,
    pub extra: String,
    pub node_args: Vec<String>,
    /// Extra TOML lines in one region's `[[region]]` table.
    pub region_extra: Vec<(&'static str, String)>,
}

impl Spec {
    /// `regions` in Global Tables mode with `latency_ms` on every link.
    pub fn new(regions: &[&'static str], latency_ms: f64) -> Self {
        Self {
            regions: regions.to_vec(),
            mode: "global-tables",
            latency_ms,
            extra: String::new(),
            node_args: vec![],
            region_extra: vec![],
        }
    }

    /// `regions` in Aurora Global mode with `primary` as the writer, write forwarding on, and
    /// `latency_ms` on every link.
    pub fn aurora(regions: &[&'static str], latency_ms: f64, primary: &str) -> Self {
        Self::new(regions, latency_ms)
            .mode("aurora-global")
            .extra(&format!("primary = \"{primary}\"\nwrite_forwarding = true"))
    }

    pub fn mode(mut self, mode: &'static str) -> Self {
        self.mode = mode;
        self
    }

    /// Extra top-level TOML (e.g. `primary = "a"`), placed before the tables.
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// Extra TOML in `region`'s table (e.g. `witness = true`).
    pub fn region_extra(mut self, region: &'static str, toml: &str) -> Self {
        self.region_extra.push((region, toml.to_owned()));
        self
    }

    pub fn node_arg(mut self, arg: &str) -> Self {
        self.node_args.push(arg.to_owned());
        self
    }
}

/// A running cluster of node processes, killed on drop; then its directory is removed (kept
/// when the test failed).
pub struct Cluster {
    /// Dropped after [`Cluster::drop`] has reaped the children.
    pub dir: Scratch,
    pub file: PathBuf,
    pub regions: Vec<&'static str>,
    spec_node_args: Vec<String>,
    children: Vec<(&'static str, Child)>,
}

impl Cluster {
    /// Write the cluster file and start every node; returns once all answer `ctl stats`.
    pub fn start(name: &str, spec: Spec) -> Self {
        let dir = scratch_dir(name);
        let mut toml = format!("mode = \"{}\"\n{}", spec.mode, spec.extra);
        let ports = free_ports(2 * spec.regions.len());
        for (r, p) in spec.regions.iter().zip(ports.chunks(2)) {
            toml += &format!(
                "\n[[region]]\nname = \"{r}\"\nlisten = \"127.0.0.1:{}\"\ndynamodb = \"127.0.0.1:{}\"\n",
                p[0], p[1]
            );
            for (_, extra) in spec.region_extra.iter().filter(|(name, _)| name == r) {
                toml += extra;
                toml.push('\n');
            }
        }
        toml += &format!("\n[default_link]\nlatency_ms = {}\n", spec.latency_ms);
        let file = dir.join("cluster.toml");
        std::fs::write(&file, toml).unwrap();
        let mut c = Cluster {
            dir,
            file,
            regions: spec.regions.clone(),
            spec_node_args: spec.node_args,
            children: vec![],
        };
        for r in spec.regions {
            c.start_node(r);
        }
        c
    }

    /// Start (or restart) the node of `region` and wait until it serves.
    pub fn start_node(&mut self, region: &'static str) {
        self.start_node_with(region, &[]);
    }

    /// Start (or restart) the node of `region` with extra arguments.
    pub fn start_node_with(&mut self, region: &'static str, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{region}.log")))
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["node", "--region", region, "--cluster"])
            .arg(&self.file)
            .args(&self.spec_node_args)
            .arg("--data-dir")
            .arg(self.dir.join(format!("data-{region}")))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn meridian node");
        let stdout = child.stdout.take().unwrap();
        self.children.push((region, child));
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(
            line.contains("serving on"),
            "node {region} did not start: {line:?} (see {})",
            self.dir.display()
        );
        poll(&format!("{region} answers stats"), || {
            self.ctl_json(region, &["stats"]).ok()
        });
    }

    /// A gRPC channel to `region`'s node.
    pub async fn channel(&self, region: &str) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.url(region))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// `http://ADDR` of `region`'s node, from the cluster file.
    pub fn url(&self, region: &str) -> String {
        let text = std::fs::read_to_string(&self.file).unwrap();
        let block = text
            .split("[[region]]")
            .find(|b| b.contains(&format!("name = \"{region}\"")))
            .unwrap();
        let listen = block.lines().find(|l| l.starts_with("listen")).unwrap();
        format!("http://{}", listen.split('"').nth(1).unwrap())
    }

    /// `{region: "http://ADDR"}` of every region's DynamoDB endpoint, from the cluster file.
    pub fn dynamodb_endpoints(&self) -> String {
        let text = std::fs::read_to_string(&self.file).unwrap();
        let mut map = serde_json::Map::new();
        for block in text.split("[[region]]").skip(1) {
            let field = |f: &str| {
                block
                    .lines()
                    .find(|l| l.starts_with(f))
                    .and_then(|l| l.split('"').nth(1))
                    .unwrap()
                    .to_owned()
            };
            map.insert(
                field("name"),
                serde_json::Value::String(format!("http://{}", field("dynamodb"))),
            );
        }
        serde_json::Value::Object(map).to_string()
    }

    /// Run scenario `name` of tests/dynamodb/scenarios.py (boto3) against this cluster's
    /// DynamoDB endpoints; its standard output, or a panic with its output.
    pub fn boto3(&self, name: &str, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/dynamodb/scenarios.py"
            ))
            .arg(name)
            .args(args)
            .env("MERIDIAN_DDB", self.dynamodb_endpoints())
            .output()
            .expect("python3 runs (boto3 is installed by .ci/run)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "scenario {name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Assert that a put at `region` is refused as at a secondary, naming `primary`.
    pub fn assert_write_refused(&self, region: &str, primary: &str) {
        let err = self
            .ctl_json(region, &["put", "refused-write", "x"])
            .unwrap_err();
        assert_eq!(err["code"], "FailedPrecondition", "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("the primary is {primary}")),
            "{region}: {err}"
        );
    }

    /// The process id of `region`'s node.
    pub fn pid(&self, region: &str) -> u32 {
        self.children
            .iter()
            .find(|(r, _)| *r == region)
            .expect("node running")
            .1
            .id()
    }

    /// SIGKILL the node of `region` and reap it.
    pub fn kill(&mut self, region: &str) {
        if let Some(i) = self.children.iter().position(|(r, _)| *r == region) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Run `meridian ctl --region REGION --cluster FILE ARGS... --json`; `Err` holds the JSON
    /// error object (or the raw output) when the command fails.
    pub fn ctl_json(&self, region: &str, args: &[&str]) -> Result<Value, Value> {
        let out = self.ctl_raw(region, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            serde_json::json!({"error": {"code": "Unparsed", "message": format!("stdout {stdout:?} stderr {:?}", String::from_utf8_lossy(&out.stderr))}})
        });
        if out.status.success() {
            Ok(v)
        } else {
            Err(v["error"].clone())
        }
    }

    /// Like [`ctl_json`](Self::ctl_json) but panics on failure.
    pub fn ctl(&self, region: &str, args: &[&str]) -> Value {
        self.ctl_json(region, args)
            .unwrap_or_else(|e| panic!("ctl {region} {args:?} failed: {e}"))
    }

    pub fn ctl_raw(&self, region: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["ctl", "--region", region, "--cluster"])
            .arg(&self.file)
            .args(args)
            .arg("--json")
            .output()
            .expect("run meridian ctl")
    }

    /// `get KEY` at `region`: the value, or None when absent or deleted.
    pub fn value(&self, region: &str, key: &str) -> Option<String> {
        let v = self.ctl(region, &["get", key]);
        v["found"]
            .as_bool()
            .unwrap()
            .then(|| v["value"].as_str().unwrap().to_owned())
    }

    /// The write id of `key`'s current write at `region`.
    pub fn write_id(&self, region: &str, key: &str) -> Option<String> {
        self.ctl(region, &["get", key])["write_id"]
            .as_str()
            .map(str::to_owned)
    }

    /// Every region's whole state as sorted (key, write_id) pairs.
    pub fn dump(&self, region: &str) -> Vec<(String, String)> {
        self.dump_where(region, |_| true)
    }

    /// `region`'s live keys (tombstones left out) as sorted (key, write_id) pairs. Tombstone
    /// collection takes tombstones away at its own pace, region by region, so a state compared
    /// with one taken earlier, or with another region's without polling, is compared by this.
    pub fn live(&self, region: &str) -> Vec<(String, String)> {
        self.dump_where(region, |w| w["tombstone"] != true)
    }

    fn dump_where(&self, region: &str, keep: impl Fn(&Value) -> bool) -> Vec<(String, String)> {
        let v = self.ctl(region, &["dump"]);
        let mut items: Vec<_> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| keep(w))
            .map(|w| {
                (
                    w["key"].as_str().unwrap().to_owned(),
                    w["write_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        items.sort();
        items
    }

    /// Wait until every region holds identical state; return it.
    pub fn converged(&self) -> Vec<(String, String)> {
        poll("all regions hold identical state", || {
            let first = self.dump(self.regions[0]);
            self.regions[1..]
                .iter()
                .all(|r| self.dump(r) == first)
                .then_some(first)
        })
    }

    /// Wait until every region holds identical state; return its live keys (see [`Self::live`]).
    pub fn converged_live(&self) -> Vec<(String, String)> {
        self.converged();
        self.live(self.regions[0])
    }

    /// `ctl stats` at `region`.
    pub fn stats(&self, region: &str) -> Value {
        self.ctl(region, &["stats"])
    }

    /// `region`'s status of its link from `origin` (from `ctl stats`).
    pub fn link_from(&self, region: &str, origin: &str) -> Value {
        let stats = self.stats(region);
        let links = stats["links"].as_array().expect("links in stats");
        links
            .iter()
            .find(|l| l["origin"] == origin)
            .cloned()
            .unwrap_or_else(|| panic!("{region} has no link from {origin}: {stats}"))
    }

    /// `meridian check --json` of the write replies `writes` (written to the file `name` of the
    /// cluster's directory): its exit status and its report.
    pub fn check_history(&self, writes: &[&Value], name: &str) -> (bool, Value) {
        let history = self.path(name);
        let lines: Vec<String> = writes.iter().map(|w| w.to_string()).collect();
        std::fs::write(&history, lines.join("\n")).unwrap();
        let (ok, out, err) = meridian(
            &[
                "check",
                "--cluster",
                self.file.to_str().unwrap(),
                "--history",
                history.to_str().unwrap(),
                "--json",
            ],
            None,
        );
        let report = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}\n{err}"));
        (ok, report)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run the binary with `args`; return (success, stdout, stderr).
pub fn meridian(args: &[&str], cwd: Option<&Path>) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run meridian");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The status code of a gRPC result (`Ok` for success).
pub fn code<T>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.err().map_or(tonic::Code::Ok, |s| s.code())
}

/// The cleaning-up contract itself: a passing test's directory goes, a failing test's stays
/// (and is named on stderr).
#[test]
fn a_scratch_dir_goes_when_its_test_passes_and_stays_when_it_fails() {
    let passed = {
        let dir = scratch_dir("passes");
        std::fs::write(dir.join("file"), "x").unwrap();
        dir.to_path_buf()
    };
    assert!(!passed.exists(), "{} left behind", passed.display());

    let failed = std::panic::catch_unwind(|| {
        let dir = scratch_dir("fails");
        std::panic::panic_any(dir.to_path_buf());
    })
    .unwrap_err()
    .downcast::<PathBuf>()
    .unwrap();
    assert!(failed.exists(), "a failing test keeps its directory");
    std::fs::remove_dir_all(*failed).unwrap();
}

/// Start `meridian load --cluster FILE ARGS --report-json NAME` (quiet, no probes, 3 s
/// timeouts) against `c`.
pub fn start_load(c: &Cluster, name: &str, args: &[&str]) -> (Child, std::path::PathBuf) {
    let json = c.path(name);
    let child = Command::new(BIN)
        .args([
            "load",
            "--quiet",
            "--probe-interval-ms",
            "0",
            "--timeout-ms",
            "3000",
            "--cluster",
        ])
        .arg(&c.file)
        .args(args)
        .arg("--report-json")
        .arg(&json)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    (child, json)
}

/// Wait for a load run started by [`start_load`]; assert it passed its checker; its report.
pub fn finish_load(child: Child, json: &std::path::Path) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "load/checker failed:\n{stdout}");
    assert!(stdout.contains("checker: OK"), "{stdout}");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}
