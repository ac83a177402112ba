//! A Meridian region node: a thin async shell (gRPC services, replication tasks, storage) around
//! the pure replica of `meridian-core`. Its public surface is small: open a node's state
//! ([`open`]), serve it ([`serve`], or both at once with [`run`]), with [`NodeOptions`] and a
//! metrics listener ([`bind_metrics`]).
//!
//! # Layout (from the outside in)
//! - `server`: wiring, listener and structured shutdown;
//! - `service`: the gRPC services (kv, replication, admin), each a thin mapping onto the state;
//! - `dynamodb`: the DynamoDB JSON protocol over HTTP (the protocol itself is `meridian-dynamo`);
//! - `grpc_only`: a layer refusing non-gRPC requests (HTTP 415, more than one unary message);
//! - `replication`: per-peer pull tasks that emulate the link and apply batches;
//! - `anti_entropy`: repair rounds against peers (the digest itself is pure, in the core);
//! - `resync`: state taken from peers (the run-time link table, an Aurora Global snapshot);
//! - `peer`: channels and the secret-carrying client for calls to peers;
//! - `state`: the shared node state (the replica behind a mutex, links, statistics, RPO,
//!   durability), one file per concern;
//! - `storage`: durable state on fjall with group commit;
//! - `metrics`: Prometheus text metrics over HTTP;
//! - `status`: the node's status on the wire (`Admin/Status`, and what metrics render);
//! - `convert`: wire <-> core conversions (pure: no state, no I/O);
//! - `options`: how a node is started;
//! - `lock`: locks taken even when poisoned;
//! - `error`: the core's error mapped to gRPC status, in one place.
//!
//! Dependencies point inwards: services and tasks use the state, the state uses storage and the
//! core, and nothing below a layer reaches up into it.

mod anti_entropy;
mod convert;
mod dynamodb;
mod error;
mod grpc_only;
mod lock;
mod metrics;
mod options;
mod peer;
mod replication;
mod resync;
mod server;
mod service;
mod state;
mod status;
mod storage;
mod strong;
mod tombstones;

pub use error::Error;
pub use metrics::bind as bind_metrics;
pub use options::{NodeOptions, StorageMode};
pub use server::{Listeners, Opened, Startup, open, run, serve};
