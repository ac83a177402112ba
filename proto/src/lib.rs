//! Meridian's public gRPC API (package `meridian.v1`), generated at build time from the
//! `.proto` files beside this crate without a system `protoc`.
//!
//! - [`v1::kv_server`] / [`v1::kv_client`]: the key-value service clients use.
//! - [`v1::replication_server`] / [`v1::replication_client`]: region-to-region log streaming.
//! - [`v1::admin_server`] / [`v1::admin_client`]: status, links, partitions, conflicts, roles.
//! - [`bench::v1::echo_server`] / [`bench::v1::echo_client`]: the raw echo service the benchmark
//!   measures as its baseline (package `meridian.bench.v1`; not part of a node).
//!
//! [`FILE_DESCRIPTOR_SET`] is the encoded descriptor set of `meridian.v1`, for gRPC server
//! reflection.

/// Generated messages and services of package `meridian.v1`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("meridian.v1");
}

/// The benchmark's baseline service (package `meridian.bench.v1`): a raw tonic echo, measured
/// with the same client as a node so that node overhead is a ratio.
pub mod bench {
    /// Generated messages and services of package `meridian.bench.v1`.
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        tonic::include_proto!("meridian.bench.v1");
    }
}

/// The encoded `FileDescriptorSet` of the node's protos (`meridian.v1`; not the benchmark's).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/meridian_descriptor.bin"));

/// Request metadata key: the region the client sits in.
pub const CLIENT_REGION_HEADER: &str = "meridian-client-region";
/// Request metadata key: Aurora Global read/forwarding consistency (eventual, session, global).
pub const CONSISTENCY_HEADER: &str = "meridian-consistency";
/// Request metadata key: ask a secondary to forward a write to the primary.
pub const FORWARD_HEADER: &str = "meridian-forward";
/// Request metadata key: admin token for calls that change links, partitions or roles.
pub const ADMIN_TOKEN_HEADER: &str = "meridian-admin-token";
/// Metadata carrying the cluster secret on every replication and anti-entropy call between
/// peers (when the cluster has one).
pub const PEER_SECRET_HEADER: &str = "meridian-peer-secret";
