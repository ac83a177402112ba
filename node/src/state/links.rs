//! The run-time link table of a node: read on every replicated batch and routed request, written
//! only by admin calls (partition, heal, set-link) and once at start (a table learnt from a
//! peer). It has its own lock, never taken with the replica's.

use std::sync::{Mutex, RwLock};

use meridian_core::{
    links::{LinkSetting, LinkTable},
    region::RegionId,
};
use tokio::sync::watch;

use super::Unpoisoned;
use crate::lock::UnpoisonedRw;

/// The link table, where it came from, and a version that changes with it.
#[derive(Debug)]
pub struct LinkState {
    table: RwLock<LinkTable>,
    source: Mutex<String>,
    version: watch::Sender<u64>,
}

impl LinkState {
    /// The cluster file's table.
    pub fn new(table: LinkTable) -> Self {
        Self {
            table: RwLock::new(table),
            source: Mutex::new("cluster file".to_owned()),
            version: watch::Sender::new(0),
        }
    }

    /// The link setting `from -> to`.
    pub fn get(&self, from: RegionId, to: RegionId) -> LinkSetting {
        self.table.read_locked().get(from, to)
    }

    /// A copy of the link table.
    pub fn table(&self) -> LinkTable {
        self.table.read_locked().clone()
    }

    /// Change the link table (an admin call) and wake the replication tasks.
    pub fn update(&self, f: impl FnOnce(&mut LinkTable)) {
        f(&mut self.table.write_locked());
        let mut source = self.source.locked();
        if !source.ends_with("changed at run time") {
            source.push_str(", changed at run time");
        }
        drop(source);
        self.version.send_modify(|v| *v += 1);
    }

    /// Take a whole link table learnt from the peer `from` (at start: a restarted node keeps
    /// the network's run-time state, partitions included).
    pub fn adopt(&self, table: LinkTable, from: &str) {
        *self.table.write_locked() = table;
        *self.source.locked() = format!("learnt from {from} at start");
        self.version.send_modify(|v| *v += 1);
    }

    /// Where the link table comes from (see `LinkTable.source` in the API).
    pub fn source(&self) -> String {
        self.source.locked().clone()
    }

    /// A receiver that changes whenever the link table does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
