//! How a node process is started: its region, cluster, storage and limits.

use meridian_core::{
    config::ClusterConfig,
    events::{DEFAULT_FEED_BYTES, DEFAULT_FEED_CAPACITY},
};

/// Options of one node process.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// This node's region.
    pub region: String,
    /// The cluster (every node of a cluster gets the same one).
    pub cluster: ClusterConfig,
    /// When set, admin calls that change links, partitions or roles need this token.
    pub admin_token: Option<String>,
    /// Conflict events kept in the feed.
    pub feed_capacity: usize,
    /// The conflict feed's byte budget (values go first, then the oldest events).
    pub feed_bytes: usize,
    /// Most writes per replication batch.
    pub max_batch: usize,
    /// Where the state lives.
    pub storage: StorageMode,
}

/// Where a node keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// Only in memory: a restart starts empty (and with a new incarnation).
    Memory,
    /// Durable, in this directory (fjall, group commit).
    Durable(std::path::PathBuf),
}

impl NodeOptions {
    /// Defaults for `region` of `cluster`.
    pub fn new(region: &str, cluster: ClusterConfig) -> Self {
        Self {
            region: region.to_owned(),
            cluster,
            admin_token: None,
            feed_capacity: DEFAULT_FEED_CAPACITY,
            feed_bytes: DEFAULT_FEED_BYTES,
            max_batch: 512,
            storage: StorageMode::Memory,
        }
    }
}
