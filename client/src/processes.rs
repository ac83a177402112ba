//! Local multi-process clusters: start one `meridian node` process per region on loopback,
//! record them in a state directory, check them, stop them. Used by `meridian cluster`,
//! `meridian demo` and the benchmark.
//!
//! A state directory holds `cluster.toml` (the effective cluster, ports resolved),
//! `state.json` (pid, address, metrics address and log file per region) and `logs/`.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use meridian_core::config::ClusterConfig;
use meridian_proto::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::client::{RegionClient, Session};

/// One node process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NodeRecord {
    /// Region.
    pub region: String,
    /// Process id, strictly in `1..=i32::MAX` (a state file with any other value is refused:
    /// `kill(2)` reads 0 and negative pids as process groups, -1 as every process).
    #[serde(deserialize_with = "strict_pid")]
    pub pid: u32,
    /// The process's start time (clock ticks since boot, `/proc/PID/stat` field 22), read when
    /// it was spawned: together with the pid it names one process for the life of the machine,
    /// so a pid reused by another program is never signalled. Absent in older state files;
    /// then the command line must name the node.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// gRPC address.
    pub addr: SocketAddr,
    /// Prometheus metrics address.
    pub metrics_addr: Option<SocketAddr>,
    /// Log file.
    pub log: PathBuf,
}

/// Largest pid `kill(2)` takes as one process.
const MAX_PID: u64 = i32::MAX as u64;

fn strict_pid<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u64::deserialize(d)?;
    if (1..=MAX_PID).contains(&v) {
        Ok(v as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "pid {v} is not a process id (1..={MAX_PID})"
        )))
    }
}

/// What `state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterState {
    /// The effective cluster file.
    pub cluster_file: PathBuf,
    /// Extra arguments every node was started with.
    pub node_args: Vec<String>,
    /// The nodes.
    pub nodes: Vec<NodeRecord>,
}

/// How to start nodes.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The `meridian` binary.
    pub binary: PathBuf,
    /// The state directory.
    pub dir: PathBuf,
    /// Extra `meridian node` arguments (e.g. `--workers 1`, `--admin-token T`).
    pub node_args: Vec<String>,
    /// Serve metrics from every node (on free ports).
    pub metrics: bool,
    /// Admin token, to reach the nodes' admin service.
    pub admin_token: Option<String>,
    /// Put nodes in their own process group, so they outlive the launching command (`cluster
    /// up`). When false they share the caller's group and a Ctrl-C reaches them too (`demo`).
    pub detach: bool,
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A process that may be signalled: a pid in `1..=i32::MAX`, checked to be the node that a
/// [`NodeRecord`] recorded (same start time, or a command line naming that node). Only
/// [`verify`] makes one, and only [`signal`] takes one: nothing else here calls `kill(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedPid(libc::pid_t);

impl VerifiedPid {
    /// The pid.
    pub fn get(self) -> u32 {
        self.0 as u32
    }
}

/// Why a recorded node may not be signalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotOurs {
    /// No process has that pid (or it is a zombie: it has exited).
    Gone,
    /// The pid is outside `1..=i32::MAX`.
    BadPid,
    /// A process has that pid, but it is not the recorded node.
    Other(String),
}

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotOurs::Gone => write!(f, "not running"),
            NotOurs::BadPid => write!(f, "not a process id (1..={MAX_PID})"),
            NotOurs::Other(why) => write!(f, "another process has that pid ({why})"),
        }
    }
}

/// Field 22 of `/proc/PID/stat` (start time) and whether the state is `Z` (zombie).
fn proc_stat(pid: u32) -> Option<(u64, bool)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    let rest = s.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field 22 is at index 19.
    let zombie = fields.first()? == &"Z";
    let start = fields.get(19)?.parse().ok()?;
    Some((start, zombie))
}

/// Does a command line (NUL-separated) start the node of `region`?
fn cmdline_names_node(cmdline: &[u8], region: &str) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let names_binary = args
        .first()
        .is_some_and(|a| String::from_utf8_lossy(a).contains("meridian"));
    let is_node = args.get(1) == Some(&&b"node"[..]);
    let has_region = args
        .windows(2)
        .any(|w| w[0] == b"--region" && w[1] == region.as_bytes());
    names_binary && is_node && has_region
}

/// Check that `rec` names a live process that is the node it recorded.
pub fn verify(rec: &NodeRecord) -> Result<VerifiedPid, NotOurs> {
    if !(1..=MAX_PID).contains(&u64::from(rec.pid)) {
        return Err(NotOurs::BadPid);
    }
    let (start, zombie) = proc_stat(rec.pid).ok_or(NotOurs::Gone)?;
    if zombie {
        return Err(NotOurs::Gone);
    }
    if let Some(recorded) = rec.start_time
        && recorded != start
    {
        return Err(NotOurs::Other(format!(
            "started at tick {start}, the node at tick {recorded}"
        )));
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", rec.pid)).unwrap_or_default();
    // An empty command line is a process caught mid-exec (seen right after spawn): only a
    // matching start time can vouch for it.
    let mid_exec = cmdline.is_empty() && rec.start_time.is_some();
    if !mid_exec && !cmdline_names_node(&cmdline, &rec.region) {
        return Err(NotOurs::Other(format!(
            "its command line is not `meridian node --region {}`",
            meridian_core::error::truncate_to(&rec.region, 64)
        )));
    }
    Ok(VerifiedPid(rec.pid as libc::pid_t))
}

/// Is the recorded node process alive (and still the process that was recorded)?
pub fn alive(rec: &NodeRecord) -> bool {
    verify(rec).is_ok()
}

/// Send `sig` to one verified process (never a group, never -1).
pub fn signal(pid: VerifiedPid, sig: i32) {
    debug_assert!(pid.0 > 0);
    // SAFETY: sending a signal to a pid has no memory-safety preconditions; `pid.0` is positive.
    unsafe {
        libc::kill(pid.0, sig);
    }
}

impl Launcher {
    /// The state file path.
    pub fn state_path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Read a state directory's state, if any.
    pub fn read_state(dir: &Path) -> anyhow::Result<Option<ClusterState>> {
        let p = Self::state_path(dir);
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a cluster state file", p.display())
        })?))
    }

    fn write_state(&self, state: &ClusterState) -> anyhow::Result<()> {
        let p = Self::state_path(&self.dir);
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(state)?)?;
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }

    /// Start every region of `cluster`; ports 0 become free ports. Fails (and stops what it
    /// started) if a node does not become healthy in time.
    pub async fn up(&self, mut cluster: ClusterConfig) -> anyhow::Result<ClusterState> {
        if let Some(state) = Self::read_state(&self.dir)? {
            let live: Vec<_> = state.nodes.iter().filter(|n| alive(n)).collect();
            if !live.is_empty() {
                bail!(
                    "a cluster is already running in {} ({}); use `meridian cluster status` or `meridian cluster down --dir {}`",
                    self.dir.display(),
                    live.iter()
                        .map(|n| format!("{} pid {}", n.region, n.pid))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.dir.display()
                );
            }
        }
        std::fs::create_dir_all(self.dir.join("logs"))
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        // Peers authenticate each other: a cluster started here gets a secret of its own
        // (kept in the state dir's cluster file, which only the nodes read).
        if cluster.secret.is_none() {
            cluster.secret = Some(uuid::Uuid::new_v4().simple().to_string());
        }
        for r in &mut cluster.regions {
            if r.listen.port() == 0 {
                r.listen.set_port(free_port()?);
            }
            if !r.listen.ip().is_loopback() {
                bail!(
                    "region {} listens on {}: local clusters stay on loopback",
                    r.name,
                    r.listen
                );
            }
        }
        let cluster_file = self.dir.join("cluster.toml");
        std::fs::write(&cluster_file, cluster.to_toml())?;
        let mut state = ClusterState {
            cluster_file,
            node_args: self.node_args.clone(),
            nodes: vec![],
        };
        for r in &cluster.regions {
            match self.spawn(&state, &r.name, r.listen) {
                Ok(rec) => state.nodes.push(rec),
                Err(e) => {
                    stop_nodes(&state.nodes, Duration::from_secs(3));
                    return Err(e);
                }
            }
        }
        self.write_state(&state)?;
        if let Err(e) = self.wait_healthy(&state, Duration::from_secs(20)).await {
            stop_nodes(&state.nodes, Duration::from_secs(3));
            return Err(e);
        }
        Ok(state)
    }

    fn spawn(
        &self,
        state: &ClusterState,
        region: &str,
        addr: SocketAddr,
    ) -> anyhow::Result<NodeRecord> {
        let log = self.dir.join("logs").join(format!("{region}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let metrics_addr = if self.metrics {
            Some(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
        } else {
            None
        };
        let mut cmd = Command::new(&self.binary);
        cmd.args(["node", "--region", region, "--cluster"])
            .arg(&state.cluster_file)
            .arg("--data-dir")
            .arg(self.dir.join("data").join(region))
            .args(&state.node_args);
        if let Some(m) = metrics_addr {
            cmd.args(["--metrics-addr", &m.to_string()]);
        }
        #[cfg(unix)]
        if self.detach {
            use std::os::unix::process::CommandExt;
            // Own process group: a Ctrl-C meant for `cluster up` does not reach background nodes.
            cmd.process_group(0);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let pid = child.id();
        Ok(NodeRecord {
            region: region.to_owned(),
            pid,
            // The child exists until reaped (we never wait for it here): its start time is there.
            start_time: proc_stat(pid).map(|(start, _)| start),
            addr,
            metrics_addr,
            log,
        })
    }

    /// Poll every node's status until all answer.
    pub async fn wait_healthy(
        &self,
        state: &ClusterState,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        for n in &state.nodes {
            let c = RegionClient::new(
                n.addr,
                &Session {
                    admin_token: self.admin_token.clone(),
                    ..Session::default()
                },
            )?;
            loop {
                if let Ok(s) = c.admin().status(pb::StatusRequest {}).await {
                    // Answered by the right node (not by another one on the same address).
                    let s = s.into_inner();
                    if s.region == n.region && alive(n) {
                        break;
                    }
                    if s.region != n.region {
                        bail!(
                            "{} answers as region {:?}, not as {}: two regions on one address? see {}",
                            n.addr,
                            meridian_core::error::truncate_to(&s.region, 64),
                            n.region,
                            n.log.display()
                        );
                    }
                }
                if !alive(n) {
                    bail!(
                        "the node of {} exited during start; see {}",
                        n.region,
                        n.log.display()
                    );
                }
                if start.elapsed() > timeout {
                    bail!(
                        "the node of {} did not become healthy within {timeout:?}; see {}",
                        n.region,
                        n.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        Ok(())
    }

    /// Restart the node of `region` (same address), and wait until it is healthy.
    pub async fn restart(&self, region: &str) -> anyhow::Result<NodeRecord> {
        let mut state = Self::read_state(&self.dir)?
            .with_context(|| format!("no cluster in {}", self.dir.display()))?;
        let i = state
            .nodes
            .iter()
            .position(|n| n.region == region)
            .with_context(|| {
                format!(
                    "no region {region:?} in this cluster ({})",
                    state
                        .nodes
                        .iter()
                        .map(|n| n.region.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let old = state.nodes[i].clone();
        if alive(&old) {
            stop_nodes(std::slice::from_ref(&old), Duration::from_secs(5));
        }
        let launcher = Launcher {
            metrics: old.metrics_addr.is_some(),
            ..self.clone()
        };
        let mut rec = launcher.spawn(&state, region, old.addr)?;
        if let (Some(old_m), Some(_)) = (old.metrics_addr, rec.metrics_addr) {
            // Keep the old metrics address when it is free again.
            if TcpListener::bind(old_m).is_ok() {
                rec.metrics_addr = Some(old_m);
            }
        }
        state.nodes[i] = rec.clone();
        self.write_state(&state)?;
        let one = ClusterState {
            nodes: vec![rec.clone()],
            ..state
        };
        self.wait_healthy(&one, Duration::from_secs(20)).await?;
        Ok(rec)
    }
}

/// SIGTERM the nodes, wait up to `grace`, then SIGKILL what is left. Only processes that
/// [`verify`] as the recorded nodes are signalled. Returns the pids that had to be killed.
pub fn stop_nodes(nodes: &[NodeRecord], grace: Duration) -> Vec<u32> {
    let ours = |n: &NodeRecord| verify(n).ok();
    for p in nodes.iter().filter_map(ours) {
        signal(p, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < grace && nodes.iter().any(alive) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let forced: Vec<VerifiedPid> = nodes.iter().filter_map(ours).collect();
    for p in &forced {
        signal(*p, libc::SIGKILL);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) && nodes.iter().any(alive) {
        std::thread::sleep(Duration::from_millis(20));
    }
    forced.into_iter().map(VerifiedPid::get).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32, start_time: Option<u64>) -> NodeRecord {
        NodeRecord {
            region: "a".into(),
            pid,
            start_time,
            addr: "127.0.0.1:1".parse().unwrap(),
            metrics_addr: None,
            log: "a.log".into(),
        }
    }

    #[test]
    fn state_files_with_pids_kill_would_read_as_groups_are_refused() {
        for pid in ["0", "-1", "4294967295", "2147483648", "1e3", "\"7\""] {
            let text = format!(
                r#"{{"region":"a","pid":{pid},"addr":"127.0.0.1:1","metrics_addr":null,"log":"x"}}"#
            );
            assert!(
                serde_json::from_str::<NodeRecord>(&text).is_err(),
                "pid {pid} accepted"
            );
        }
        let ok =
            r#"{"region":"a","pid":2147483647,"addr":"127.0.0.1:1","metrics_addr":null,"log":"x"}"#;
        assert_eq!(
            serde_json::from_str::<NodeRecord>(ok).unwrap().pid,
            2147483647
        );
    }

    #[test]
    fn a_record_built_by_hand_with_a_wrapping_pid_is_never_verified() {
        assert_eq!(verify(&record(u32::MAX, None)), Err(NotOurs::BadPid));
        assert_eq!(verify(&record(0, None)), Err(NotOurs::BadPid));
    }

    #[test]
    fn this_process_is_not_a_node_by_command_line_nor_by_a_wrong_start_time() {
        let me = std::process::id();
        let (start, _) = proc_stat(me).unwrap();
        assert!(matches!(verify(&record(me, None)), Err(NotOurs::Other(_))));
        assert!(matches!(
            verify(&record(me, Some(start + 1))),
            Err(NotOurs::Other(_))
        ));
        // The right start time is not enough: the command line must name the node too.
        assert!(matches!(
            verify(&record(me, Some(start))),
            Err(NotOurs::Other(_))
        ));
    }

    #[test]
    fn command_lines_name_the_node_of_one_region() {
        let ok = b"/x/meridian\0node\0--region\0a\0--cluster\0c.toml\0";
        assert!(cmdline_names_node(ok, "a"));
        assert!(!cmdline_names_node(ok, "b"));
        assert!(!cmdline_names_node(b"/bin/sleep\0node\0--region\0a\0", "a"));
        assert!(!cmdline_names_node(
            b"/x/meridian\0cluster\0--region\0a\0",
            "a"
        ));
        assert!(!cmdline_names_node(b"", "a"));
    }
}
