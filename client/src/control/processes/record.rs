//! What a state directory's `state.json` records: the nodes (pid, start time, addresses, log),
//! the cluster file they were started with, and the dashboard started beside them, if any.
//! Pids are read strictly: a value `kill(2)` would take as a process group is refused.

use std::{net::SocketAddr, path::PathBuf};

use serde::{Deserialize, Serialize};

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
    /// The DynamoDB endpoint's address (absent in older state files).
    #[serde(default)]
    pub dynamodb: Option<SocketAddr>,
    /// Log file.
    pub log: PathBuf,
}

/// Largest pid `kill(2)` takes as one process.
pub(super) const MAX_PID: u64 = i32::MAX as u64;

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
    /// The dashboard `cluster up --dashboard` started beside them (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<DashboardRecord>,
}

/// The dashboard process of a cluster (`cluster up --dashboard`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DashboardRecord {
    /// Process id, strictly in `1..=i32::MAX` (as a node's).
    #[serde(deserialize_with = "strict_pid")]
    pub pid: u32,
    /// Its start time (clock ticks since boot), read when it was spawned.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// The address it serves on.
    pub addr: SocketAddr,
    /// Its page, `http://ADDR/`.
    pub url: String,
    /// Log file.
    pub log: PathBuf,
}
