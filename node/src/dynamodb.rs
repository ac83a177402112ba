//! The DynamoDB endpoint of a node: the DynamoDB JSON protocol over HTTP (`POST /`,
//! `X-Amz-Target: DynamoDB_20120810.<Operation>`), so an application's own AWS SDK code runs
//! against this region — its lag, its conflicts, its role. The protocol itself (values,
//! expressions, operations, errors) is `meridian-dynamo`, pure; here is the shell:
//! - [`http`]: the server, the request's target, body and signature scope, the reply;
//! - [`forward`]: Aurora Global write forwarding from a secondary to the primary;
//! - [`strong`]: operations of a multi-Region strong consistency cluster: writes through the
//!   quorum, conditions against the latest acknowledged version, strong reads;
//! - [`txn`]: one request's view of the replica (`meridian_dynamo::ops::Txn`) and how the
//!   replica's refusals read as DynamoDB errors.

pub mod forward;
pub mod http;
pub mod strong;
pub mod txn;
