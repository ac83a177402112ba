//! Starting nodes (one `meridian node` process per region, on loopback), waiting until they
//! answer, restarting one, and stopping them — signalling only processes verified as ours.

use std::{
    collections::HashSet,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use meridian_core::config::ClusterConfig;

use super::{
    pids::{VerifiedPid, alive, proc_stat, signal, verify},
    record::{ClusterState, NodeRecord},
};
use crate::{
    control::{client::RegionClient, session::Session},
    error::{Result, ResultExt, bail},
};

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
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free loopback port not in `taken` (which it joins): the ports of one cluster are chosen
/// one after another, each released before the next is asked for, so the system may offer the
/// same one twice.
fn free_port_avoiding(taken: &mut HashSet<u16>) -> Result<u16> {
    loop {
        let p = free_port()?;
        if taken.insert(p) {
            return Ok(p);
        }
    }
}

impl Launcher {
    /// The state file path.
    pub fn state_path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Read a state directory's state, if any.
    pub fn read_state(dir: &Path) -> Result<Option<ClusterState>> {
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

    /// Write the state file (atomically: a reader sees the old one or the new one).
    pub fn write_state(&self, state: &ClusterState) -> Result<()> {
        let p = Self::state_path(&self.dir);
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(state)?)?;
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }

    /// Start every region of `cluster`; ports 0 become free ports. Fails (and stops what it
    /// started) if a node does not become healthy in time.
    pub async fn up(&self, mut cluster: ClusterConfig) -> Result<ClusterState> {
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
        let mut taken: HashSet<u16> = cluster
            .regions
            .iter()
            .flat_map(|r| [Some(r.listen), r.dynamodb])
            .flatten()
            .map(|a| a.port())
            .filter(|p| *p != 0)
            .collect();
        for r in &mut cluster.regions {
            if r.listen.port() == 0 {
                r.listen.set_port(free_port_avoiding(&mut taken)?);
            }
            // Every region of a local cluster serves DynamoDB; port 0 (or none given): a free one.
            let mut dynamodb = r.dynamodb.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
            if dynamodb.port() == 0 {
                dynamodb.set_port(free_port_avoiding(&mut taken)?);
            }
            if !dynamodb.ip().is_loopback() {
                bail!(
                    "region {} serves DynamoDB on {dynamodb}: local clusters stay on loopback",
                    r.name
                );
            }
            r.dynamodb = Some(dynamodb);
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
            dashboard: None,
        };
        for r in &cluster.regions {
            let metrics = if self.metrics {
                let port = free_port_avoiding(&mut taken)?;
                Some(SocketAddr::from(([127, 0, 0, 1], port)))
            } else {
                None
            };
            match self.spawn(&state, &r.name, r.listen, r.dynamodb, metrics) {
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
        dynamodb: Option<SocketAddr>,
        metrics_addr: Option<SocketAddr>,
    ) -> Result<NodeRecord> {
        let log = self.dir.join("logs").join(format!("{region}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
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
            dynamodb,
            log,
        })
    }

    /// Poll every node's status until all answer (and, with strong consistency, take part in
    /// the quorum — a new region does once a peer has heard from it; at most a few seconds are
    /// spent waiting for that, since a region whose peers are all down never hears — and have
    /// caught up: a region restarted with its state serves once it has; one still catching up
    /// at `timeout` is up, and counts as healthy).
    pub async fn wait_healthy(&self, state: &ClusterState, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        for n in &state.nodes {
            let c = RegionClient::new(n.addr, &Session::admin(self.admin_token.as_deref()))?;
            loop {
                if let Ok(s) = c.status().await {
                    // Answered by the right node (not by another one on the same address).
                    let starting = (s.quorum.starts_with("starting")
                        && start.elapsed() < Duration::from_secs(5))
                        || (s.quorum.starts_with("catching up") && start.elapsed() < timeout);
                    if s.region == n.region && alive(n) && !starting {
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
    pub async fn restart(&self, region: &str) -> Result<NodeRecord> {
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
        // The old metrics address when it is free again, else a new one.
        let metrics = match old.metrics_addr {
            Some(m) if TcpListener::bind(m).is_ok() => Some(m),
            Some(_) => Some(SocketAddr::from(([127, 0, 0, 1], free_port()?))),
            None => None,
        };
        let rec = self.spawn(&state, region, old.addr, old.dynamodb, metrics)?;
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

impl Launcher {
    /// SIGKILL the node of `region` (fault injection) — the recorded process only, after
    /// [`verify`] — and wait up to 5 s until it is gone. Returns its record.
    pub fn kill(&self, region: &str) -> Result<NodeRecord> {
        let state = Self::read_state(&self.dir)?
            .with_context(|| format!("no cluster in {}", self.dir.display()))?;
        let n = state
            .nodes
            .iter()
            .find(|n| n.region == region)
            .with_context(|| format!("no region {region:?} in {}", self.dir.display()))?;
        let pid = match verify(n) {
            Ok(pid) => pid,
            Err(super::pids::NotOurs::Gone) => {
                bail!("the node of {region} (pid {}) is not running", n.pid)
            }
            Err(why) => bail!(
                "refusing to signal pid {} recorded for {region}: {why}",
                n.pid
            ),
        };
        signal(pid, libc::SIGKILL);
        let start = Instant::now();
        while alive(n) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(n.clone())
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
