//! Meridian's replication semantics, as plain synchronous code with no network, no tasks and no
//! I/O beyond reading a clock: everything here is deterministic given its inputs, and tested by
//! tables and properties. The node (`meridian-node`) is a thin async shell around it; the client
//! (`meridian-client`) uses the cluster file and the mode vocabulary.
//!
//! # Layout
//! - [`clock`]: hybrid logical and skewed wall clocks;
//! - [`region`]: region names and their dense ids;
//! - [`version_vector`]: per-key causal contexts;
//! - [`store`]: the LWW merge and conflict classification (`Store::apply -> Outcome`);
//! - [`events`]: the bounded conflict / lost-write feed;
//! - [`replica`]: one region's state machine (writes, conditions, roles, log, checks of remote writes);
//! - [`strong`]: multi-Region strong consistency (MRSC), per item: quorum writes, conflicts,
//!   strong reads;
//! - [`links`]: the link table and the delivery-time arithmetic of link emulation;
//! - [`hash`], [`digest`]: the pure half of anti-entropy (bucket and write hashes, digests the
//!   store keeps up to date, what repair may merge);
//! - [`config`]: the cluster file and the built-in default cluster;
//! - [`error`]: the one error type (mapped to gRPC status by the node);
//! - [`testkit`]: a simulated cluster of replicas for tests (here and in the node).

pub mod clock;
pub mod config;
pub mod digest;
pub mod error;
pub mod events;
pub mod hash;
pub mod links;
pub mod region;
pub mod replica;
pub mod store;
pub mod strong;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod version_vector;

pub use config::{ClusterConfig, Consistency};
pub use error::{Error, Result};
pub use replica::Mode;
