//! The DynamoDB endpoint of a multi-Region strong consistency (MRSC) cluster. An operation runs
//! against this region's copy with its writes held back ([`Held`]); each held write then goes
//! through the quorum ([`NodeState::strong_write`]), on condition that the item is still at the
//! version the operation saw. A write evaluated against a stale copy is therefore refused by
//! the others (teaching this region the newer write) instead of overwriting what it never saw:
//! - a write that meets another region's unfinished write of the item, or was evaluated against
//!   a copy that turned out stale, is `ReplicatedWriteConflictException` (retryable), and
//!   nothing was written;
//! - a condition that fails against the local copy is checked once more against the latest
//!   acknowledged versions (a strong read of the items the operation read) before it is
//!   reported, so a `ConditionalCheckFailedException` is never the verdict of a stale copy;
//! - `ConsistentRead=true` on GetItem and BatchGetItem is a strong read of the items; on Query
//!   and Scan it first learns the committed writes of the table's items from another region
//!   (`strong::strong_range_read`), so the range holds every write acknowledged before;
//! - transactions and TTL are refused as on an MRSC table (`meridian_dynamo::ops::run` does).
//!
//! An operation that writes several items (BatchWriteItem, DeleteTable) writes them one quorum
//! round each, concurrently; if one fails the reply is that error and the others may have been
//! applied — each is a whole-item put or delete, so retrying the request is safe.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use meridian_core::{
    replica::{Condition, Replica, WriteOp},
    store::Version,
};
use meridian_dynamo::{
    DynamoError, ErrorKind,
    ops::{self, Context, Txn},
    table::ITEM_PREFIX,
};
use serde_json::Value;

use super::txn::{dynamo_error, scan_store};
use crate::{error::Error, service::Node, state::NodeState};

/// Most quorum rounds one request has in flight at once.
const IN_FLIGHT: usize = 64;

/// A write an operation asked for, held back for the quorum.
struct HeldWrite {
    key: String,
    value: Option<Vec<u8>>,
    /// The item as the operation saw it.
    condition: Condition,
}

/// An operation's view of the replica: reads of the local copy (the item keys read and the
/// prefixes scanned are remembered), writes held back.
struct Held<'r> {
    replica: &'r Replica,
    reads: std::cell::RefCell<Vec<String>>,
    scans: std::cell::RefCell<Vec<String>>,
    writes: Vec<HeldWrite>,
}

impl Held<'_> {
    fn condition(&self, key: &str) -> Condition {
        match self.replica.store().get(key) {
            Some(w) => Condition::IfVersion(w.version),
            None => Condition::IfAbsent,
        }
    }

    fn hold(&mut self, key: &str, value: Option<Vec<u8>>) {
        let condition = self.condition(key);
        self.writes.retain(|w| w.key != key);
        self.writes.push(HeldWrite {
            key: key.to_owned(),
            value,
            condition,
        });
    }
}

impl Txn for Held<'_> {
    fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        if key.starts_with(ITEM_PREFIX) {
            self.reads.borrow_mut().push(key.to_owned());
        }
        self.replica
            .store()
            .get(key)
            .and_then(|w| w.value().map(Arc::from))
    }

    fn scan(&self, prefix: &str) -> Vec<(String, Arc<[u8]>)> {
        if prefix.starts_with(ITEM_PREFIX) {
            self.scans.borrow_mut().push(prefix.to_owned());
        }
        scan_store(self.replica.store(), prefix)
    }

    fn put(&mut self, key: &str, value: Vec<u8>) -> Result<(), DynamoError> {
        self.hold(key, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), DynamoError> {
        self.hold(key, None);
        Ok(())
    }
}

/// What one run of an operation against the local copy gave.
struct Run {
    reply: Result<Value, DynamoError>,
    reads: Vec<String>,
    scans: Vec<String>,
    writes: Vec<HeldWrite>,
}

fn run_held(state: &NodeState, op: &str, body: &Value, ctx: &Context) -> Run {
    let replica = state.replica();
    let mut held = Held {
        replica: &replica,
        reads: Default::default(),
        scans: Default::default(),
        writes: Vec::new(),
    };
    let reply = ops::run(op, body, ctx, &mut held);
    Run {
        reply,
        reads: held.reads.into_inner(),
        scans: held.scans.into_inner(),
        writes: held.writes,
    }
}

/// Does the request ask for strongly consistent reads?
fn consistent_read(op: &str, body: &Value) -> bool {
    let asks = |v: &Value| v.get("ConsistentRead") == Some(&Value::Bool(true));
    match op {
        "GetItem" | "Query" | "Scan" => asks(body),
        "BatchGetItem" => body
            .get("RequestItems")
            .and_then(Value::as_object)
            .is_some_and(|t| t.values().any(asks)),
        _ => false,
    }
}

/// `v` without repeats, in first-seen order.
fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// The local versions of `keys`.
fn versions(state: &NodeState, keys: &[String]) -> Vec<Option<Version>> {
    let replica = state.replica();
    keys.iter()
        .map(|k| replica.store().get(k).map(|w| w.version))
        .collect()
}

/// Strong reads of `keys` (each brings the local copy up to the latest acknowledged write);
/// did any local copy change?
async fn strong_read_all(state: &Arc<NodeState>, keys: &[String]) -> Result<bool, DynamoError> {
    let before = versions(state, keys);
    stream::iter(keys.to_vec())
        .map(|k| async move { state.strong_read(&k).await })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .map_err(dynamo_error)?;
    Ok(versions(state, keys) != before)
}

/// Write what the operation held back, each through the quorum.
async fn write_held(state: &Arc<NodeState>, writes: Vec<HeldWrite>) -> Result<(), DynamoError> {
    stream::iter(writes)
        .map(|w| async move {
            let op = match w.value {
                Some(v) => WriteOp::Put(Arc::from(v)),
                None => WriteOp::Delete,
            };
            state
                .strong_write(&w.key, op, Some(&w.condition), None)
                .await
                .map_err(|e| match e {
                    // The item changed between the operation's run and its write.
                    Error::ConditionFailed(why) => DynamoError::new(
                        ErrorKind::ReplicatedWriteConflict,
                        format!("the item changed while the request ran ({why}); retry it"),
                    ),
                    e => dynamo_error(e),
                })
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .map(drop)
}

/// Run operation `op` of a strong cluster (see the module doc).
pub async fn execute(
    node: &Node,
    op: &str,
    body: &Value,
    ctx: &Context<'_>,
) -> Result<Value, DynamoError> {
    let state = &node.state;
    state.refuse_if_witness().map_err(dynamo_error)?;
    if consistent_read(op, body) {
        let first = run_held(state, op, body, ctx);
        for prefix in dedup(first.scans) {
            crate::strong::strong_range_read(node, &prefix)
                .await
                .map_err(dynamo_error)?;
        }
        strong_read_all(state, &first.reads).await?;
    }
    let mut confirmed = false;
    loop {
        let run = run_held(state, op, body, ctx);
        match run.reply {
            Err(e) if e.kind == ErrorKind::ConditionalCheckFailed && !confirmed => {
                confirmed = true;
                if !strong_read_all(state, &run.reads).await? {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
            Ok(reply) => {
                write_held(state, run.writes).await?;
                return Ok(reply);
            }
        }
    }
}
