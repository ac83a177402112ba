//! Real node processes for a scenario: cluster files made to measure, clusters started with
//! [`LocalCluster`] (stopped on drop, also when a scenario fails halfway), node status, and a
//! node's resident memory from `/proc`.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use meridian_client::control::{RegionClient, Session, scenario::LocalCluster};
use meridian_core::{ClusterConfig, Mode};
use meridian_proto::v1 as pb;

use crate::options::Options;

/// Region names the benchmark's clusters use (the built-in cluster's).
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];

/// A cluster of `regions` with every link at `lag_ms` ± `jitter_ms` (ports chosen at start).
pub fn uniform_cluster(
    mode: Mode,
    regions: &[&str],
    lag_ms: f64,
    jitter_ms: f64,
) -> anyhow::Result<ClusterConfig> {
    let mut text = format!(
        "mode = \"{}\"\nprimary = \"{}\"\nclock = \"hybrid\"\n",
        mode.name(),
        regions.first().context("a cluster needs a region")?
    );
    for r in regions {
        text += &format!("\n[[region]]\nname = \"{r}\"\nlisten = \"127.0.0.1:0\"\n");
    }
    text += &format!("\n[default_link]\nlatency_ms = {lag_ms}\njitter_ms = {jitter_ms}\n");
    Ok(ClusterConfig::parse(&text, "benchmark cluster")?)
}

/// The built-in three-region cluster (its realistic, unequal latencies) in `mode`.
pub fn builtin_cluster(mode: Mode) -> ClusterConfig {
    let mut c = ClusterConfig::builtin();
    c.mode = mode;
    c
}

/// Start `cluster` for scenario `name` with the run's storage mode, logs (and data) under
/// `<out>/clusters/<name>`.
pub async fn start(
    opts: &Options,
    name: &str,
    cluster: ClusterConfig,
) -> anyhow::Result<LocalCluster> {
    start_with(opts, name, cluster, opts.storage()).await
}

/// [`start`] with nodes keeping their state in `storage` (`durable` or `memory`).
pub async fn start_with(
    opts: &Options,
    name: &str,
    cluster: ClusterConfig,
    storage: &str,
) -> anyhow::Result<LocalCluster> {
    start_with_args(opts, name, cluster, opts.node_args(storage)).await
}

/// [`start`] with these node arguments.
pub async fn start_with_args(
    opts: &Options,
    name: &str,
    cluster: ClusterConfig,
    node_args: Vec<String>,
) -> anyhow::Result<LocalCluster> {
    let dir = opts.out.join("clusters").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    LocalCluster::start(opts.meridian.clone(), dir, cluster, node_args)
        .await
        .with_context(|| format!("cannot start the {name} cluster"))
}

/// The gRPC address and pid of `region`'s node.
pub fn node(cluster: &LocalCluster, region: &str) -> anyhow::Result<(SocketAddr, u32)> {
    cluster
        .state
        .nodes
        .iter()
        .find(|n| n.region == region)
        .map(|n| (n.addr, n.pid))
        .with_context(|| format!("no node for region {region}"))
}

/// A client for the admin service of the node at `addr`.
pub fn admin(addr: SocketAddr) -> anyhow::Result<RegionClient> {
    Ok(RegionClient::new(addr, &Session::default())?)
}

/// The status of the node at `addr`.
pub async fn status(c: &RegionClient) -> anyhow::Result<pb::NodeStatus> {
    tokio::time::timeout(Duration::from_secs(5), c.status())
        .await
        .context("status timed out")?
        .with_context(|| format!("status of {}", c.addr))
}

/// Resident memory of process `pid`, bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_vm_rss(&text).with_context(|| format!("no VmRSS line in {path}"))
}

/// The `VmRSS:` line of a `/proc/PID/status` text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(n * 1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let text = "Name:\tmeridian\nVmPeak:\t  200 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(text), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    fn uniform_clusters_parse_with_every_link_at_the_lag() {
        let c = uniform_cluster(Mode::AuroraGlobal, &REGIONS, 20.0, 0.0).unwrap();
        assert_eq!(c.regions.len(), 3);
        assert_eq!(c.primary_name(), "us-east-1");
        assert_eq!(c.default_link.latency_ms, 20.0);
        assert!(c.links.is_empty());
    }
}
