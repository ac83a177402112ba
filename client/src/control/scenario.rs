//! A local cluster owned by a scenario (the demo, the benchmark): started on free loopback
//! ports, stopped when dropped — also when the scenario fails halfway.

use std::path::PathBuf;

use meridian_core::config::ClusterConfig;

use super::{
    client::RegionClient,
    processes::{ClusterState, Launcher, stop_nodes},
    session::Session,
};
use crate::error::Result;

/// A running local cluster, stopped on drop.
pub struct LocalCluster {
    /// The effective cluster (ports resolved).
    pub cluster: ClusterConfig,
    /// Pids, addresses, logs.
    pub state: ClusterState,
    stopped: bool,
}

impl LocalCluster {
    /// Start `cluster` with `binary` in `dir`, every port chosen at run time.
    pub async fn start(
        binary: PathBuf,
        dir: PathBuf,
        cluster: ClusterConfig,
        node_args: Vec<String>,
    ) -> Result<Self> {
        Self::start_with(binary, dir, cluster, node_args, false).await
    }

    /// The same, every node also serving Prometheus metrics on a free port (a dashboard
    /// reads the request counters there).
    pub async fn start_with_metrics(
        binary: PathBuf,
        dir: PathBuf,
        cluster: ClusterConfig,
        node_args: Vec<String>,
    ) -> Result<Self> {
        Self::start_with(binary, dir, cluster, node_args, true).await
    }

    async fn start_with(
        binary: PathBuf,
        dir: PathBuf,
        mut cluster: ClusterConfig,
        node_args: Vec<String>,
        metrics: bool,
    ) -> Result<Self> {
        for r in &mut cluster.regions {
            r.listen.set_port(0);
            if let Some(d) = &mut r.dynamodb {
                d.set_port(0);
            }
        }
        let launcher = Launcher {
            binary,
            dir,
            node_args,
            metrics,
            admin_token: None,
            detach: false,
        };
        let state = launcher.up(cluster).await?;
        let cluster = ClusterConfig::load(&state.cluster_file)?;
        Ok(Self {
            cluster,
            state,
            stopped: false,
        })
    }

    /// Clients for every region (no client region: each sits in its node's region).
    pub fn clients(&self) -> Result<Vec<(String, RegionClient)>> {
        self.cluster
            .regions
            .iter()
            .map(|r| {
                Ok((
                    r.name.clone(),
                    RegionClient::new(r.listen, &Session::default())?,
                ))
            })
            .collect()
    }

    /// Stop every node (graceful, then forced).
    pub fn stop(&mut self) {
        if !self.stopped {
            stop_nodes(&self.state.nodes, std::time::Duration::from_secs(5));
            self.stopped = true;
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster with every link's latency and jitter multiplied by `scale`.
pub fn scale_lag(mut cluster: ClusterConfig, scale: f64) -> ClusterConfig {
    cluster.default_link.latency_ms *= scale;
    cluster.default_link.jitter_ms *= scale;
    for l in &mut cluster.links {
        l.spec.latency_ms *= scale;
        l.spec.jitter_ms *= scale;
    }
    cluster
}
