//! The operations of `DynamoDB_20120810`, run against a [`Txn`]: one region's replica, locked
//! for the length of one request, so a condition and the write it guards see the same state
//! (conditions are evaluated against the local copy only, as in a global table) and a
//! TransactWriteItems is atomic within the region that receives it.
//!
//! Every operation takes the request's JSON body and returns the reply's JSON, or a
//! [`DynamoError`] worded as DynamoDB words it.
//!
//! - [`tables`]: CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable;
//! - [`items`]: PutItem, GetItem, UpdateItem, DeleteItem;
//! - [`query`]: Query and Scan, with paging;
//! - [`batch`]: BatchWriteItem, BatchGetItem;
//! - [`transact`]: TransactWriteItems, TransactGetItems;
//! - [`request`]: the parameters operations share (keys, expressions, ReturnValues);
//! - [`legacy`]: the pre-expression parameters, rewritten as the expressions they mean.

pub mod batch;
pub mod items;
pub mod legacy;
pub mod query;
pub mod request;
pub mod tables;
pub mod transact;

use std::sync::Arc;

use serde_json::Value;

use crate::{
    error::{DynamoError, ErrorKind, Result},
    table::Table,
    value::{Item, map_from_json},
};

/// One region's replica as an operation sees it, for the length of one request.
pub trait Txn {
    /// The stored value of `key` (None: absent or deleted).
    fn get(&self, key: &str) -> Option<Arc<[u8]>>;
    /// Every live `(key, value)` whose key starts with `prefix`, in no particular order.
    fn scan(&self, prefix: &str) -> Vec<(String, Arc<[u8]>)>;
    /// Write `value` at `key` (a replicated write of this region). Errors: the region cannot
    /// take writes (an Aurora Global secondary, writes paused, storage failed).
    fn put(&mut self, key: &str, value: Vec<u8>) -> Result<()>;
    /// Delete `key` (a replicated tombstone).
    fn delete(&mut self, key: &str) -> Result<()>;
}

/// Where an operation runs.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// This region.
    pub region: &'a str,
    /// Every region of the cluster (the table's replicas).
    pub regions: &'a [String],
    /// Now, seconds since the epoch.
    pub now_s: f64,
    /// Is the table a multi-Region strong consistency (MRSC) global table?
    pub strong: bool,
    /// The witness region of an MRSC table (it holds no replica).
    pub witness: Option<&'a str>,
}

/// Run operation `op` (the part of `X-Amz-Target` after the dot) on `body`.
pub fn run(op: &str, body: &Value, ctx: &Context, txn: &mut dyn Txn) -> Result<Value> {
    if !body.is_object() {
        return Err(DynamoError::serialization(
            "Start of structure or map expected",
        ));
    }
    let body = &*legacy::translate(body)?;
    if ctx.strong {
        refuse_under_mrsc(op, body)?;
    }
    match op {
        "CreateTable" => tables::create(body, ctx, txn),
        "DescribeTable" => tables::describe(body, ctx, txn),
        "ListTables" => tables::list(body, txn),
        "DeleteTable" => tables::delete(body, ctx, txn),
        "UpdateTable" => tables::update(body, ctx, txn),
        "PutItem" => items::put(body, txn),
        "GetItem" => items::get(body, txn),
        "UpdateItem" => items::update(body, txn),
        "DeleteItem" => items::delete(body, txn),
        "Query" => query::query(body, txn),
        "Scan" => query::scan(body, txn),
        "BatchWriteItem" => batch::write(body, txn),
        "BatchGetItem" => batch::get(body, txn),
        "TransactWriteItems" => transact::write(body, txn),
        "TransactGetItems" => transact::get(body, txn),
        _ => Err(DynamoError::new(
            ErrorKind::UnknownOperation,
            format!("Unknown operation: {}", crate::value::excerpt(op)),
        )),
    }
}

/// What an MRSC global table does not support, refused as DynamoDB refuses it.
fn refuse_under_mrsc(op: &str, body: &Value) -> Result<()> {
    let what = match op {
        "TransactWriteItems" | "TransactGetItems" => "Transactions are",
        "UpdateTimeToLive" => "Time to Live (TTL) is",
        "CreateTable" if body.get("LocalSecondaryIndexes").is_some() => {
            "Local secondary indexes (LSIs) are"
        }
        _ => return Ok(()),
    };
    Err(DynamoError::validation(format!(
        "{what} not supported for global tables configured for multi-Region strong consistency (MRSC)"
    )))
}

/// Does `op` change anything? (Reads wait only for durability of what they saw.)
pub fn is_write(op: &str) -> bool {
    matches!(
        op,
        "CreateTable"
            | "DeleteTable"
            | "UpdateTable"
            | "PutItem"
            | "UpdateItem"
            | "DeleteItem"
            | "BatchWriteItem"
            | "TransactWriteItems"
    )
}

/// The table named `name`, as this region's replica holds it (item operations: DynamoDB's
/// plain not-found message).
pub(crate) fn load_table(txn: &dyn Txn, name: &str) -> Result<Table> {
    let raw = txn
        .get(&Table::meta_key(name))
        .ok_or_else(crate::table::not_found)?;
    serde_json::from_slice(&raw)
        .map_err(|e| DynamoError::new(ErrorKind::InternalServerError, format!("table {name}: {e}")))
}

/// [`load_table`] for the table operations, whose not-found message names the table.
pub(crate) fn load_table_named(txn: &dyn Txn, name: &str) -> Result<Table> {
    load_table(txn, name).map_err(|e| match e.kind {
        ErrorKind::ResourceNotFound => DynamoError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Table: {name} not found"),
        ),
        _ => e,
    })
}

/// Decode a stored item.
pub(crate) fn decode_item(raw: &[u8]) -> Result<Item> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| {
        DynamoError::new(ErrorKind::InternalServerError, format!("stored item: {e}"))
    })?;
    map_from_json(&v)
}

/// Encode an item for storage.
pub(crate) fn encode_item(item: &Item) -> Vec<u8> {
    serde_json::to_vec(&crate::value::item_to_json(item)).expect("JSON values encode")
}

#[cfg(test)]
mod tests;
