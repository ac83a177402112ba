//! The control side of the client: talking to nodes and driving clusters.
//!
//! - [`session`]: what a client says about itself (region, consistency, forwarding, token);
//! - [`client`]: [`RegionClient`], the typed client for one region's node;
//! - [`aurora`]: the Aurora Global control plane (switchover, failover, rejoin);
//! - [`processes`]: local multi-process clusters (start, record, verify, stop);
//! - [`scenario`]: a local cluster owned by a scenario (demo, benchmark), stopped on drop;
//! - [`runtime`]: tokio runtimes with an explicit worker count.

pub mod aurora;
pub mod client;
pub mod processes;
pub mod runtime;
pub mod scenario;
pub mod session;

pub use client::{Condition, LinkSpec, Reach, RegionClient, Role};
pub use session::{Consistency, Session};
