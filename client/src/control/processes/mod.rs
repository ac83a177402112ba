//! Local multi-process clusters: start one `meridian node` process per region on loopback,
//! record them in a state directory, check them, stop them. Used by `meridian cluster`,
//! `meridian demo` and the benchmark.
//!
//! A state directory holds `cluster.toml` (the effective cluster, ports resolved),
//! `state.json` (pid, address, metrics address and log file per region, and the dashboard's
//! when one was started) and `logs/`.
//!
//! - [`record`]: what `state.json` holds about each node;
//! - [`pids`]: making sure a recorded pid is still our node before it is signalled;
//! - [`launcher`]: starting, health-checking, restarting and stopping nodes;
//! - [`dashboard`]: the dashboard process `cluster up --dashboard` starts beside them.

pub mod dashboard;
pub mod launcher;
pub mod pids;
pub mod record;

#[cfg(test)]
mod tests;

pub use dashboard::{start_dashboard, stop_dashboard, verify_dashboard};
pub use launcher::{Launcher, free_port, stop_nodes};
pub use pids::{NotOurs, VerifiedPid, alive, signal, verify};
pub use record::{ClusterState, DashboardRecord, NodeRecord};
