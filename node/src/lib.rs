//! A Meridian region node.
//!
//! # Layout
//! The replication semantics are plain synchronous code with no network in it:
//! - [`clock`]: hybrid logical and skewed wall clocks;
//! - [`version_vector`]: per-key causal contexts;
//! - [`store`]: the LWW merge and conflict classification (`Store::apply -> Outcome`);
//! - [`events`]: the bounded conflict / lost-write feed;
//! - [`core`]: one region's state machine (writes, conditions, roles, log);
//! - [`links`]: the link table and the delivery-time arithmetic of link emulation.
//!
//! A thin async shell wraps it:
//! - [`config`]: the cluster file and the built-in default cluster;
//! - [`state`]: the shared node state (core behind a mutex, link stats, notifications);
//! - [`anti_entropy`]: digest comparison and transfer of differing keys (repair);
//! - [`replication`]: per-peer pull tasks that emulate the link and apply batches;
//! - [`service`]: the gRPC services (kv, replication, admin) mapping requests to the core;
//! - [`convert`]: proto <-> core conversions;
//! - [`metrics`]: Prometheus text metrics over HTTP;
//! - [`storage`]: durable state on fjall with group commit;
//! - [`server`]: wiring, listener and structured shutdown;
//! - [`grpc_only`]: a layer refusing non-gRPC content types (HTTP 415);
//! - [`error`]: the crate's one error type and its gRPC status mapping.

pub mod anti_entropy;
pub mod convert;
pub mod error;
pub mod grpc_only;
pub mod metrics;
pub mod replication;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
