//! Table operations. A table is global: its description is one replicated key, so a table
//! created in one region appears in the others after the link's lag, as a new replica of a
//! global table would. Deleting a table deletes its items, region by region as the tombstones
//! arrive.

use serde_json::{Value, json};

use super::{Context, Txn, decode_item, load_table_named as load_table};
use crate::{
    error::{DynamoError, ErrorKind, Result},
    table::{META_PREFIX, Table, table_name},
    value::item_size,
};

/// CreateTable.
pub fn create(body: &Value, ctx: &Context, txn: &mut dyn Txn) -> Result<Value> {
    let table = Table::from_create(body, ctx.region, ctx.now_s)?;

    if txn.get(&Table::meta_key(&table.name)).is_some() {
        return Err(DynamoError::new(
            ErrorKind::ResourceInUse,
            format!("Table already exists: {}", table.name),
        ));
    }
    let raw = serde_json::to_vec(&table).expect("a table encodes");
    txn.put(&Table::meta_key(&table.name), raw)?;
    Ok(json!({"TableDescription": table.describe(ctx, "ACTIVE", None)}))
}

/// Item count and size of `table` in this region.
fn totals(txn: &dyn Txn, table: &Table) -> (u64, u64) {
    let items = txn.scan(&table.item_prefix());
    let bytes = items
        .iter()
        .filter_map(|(_, raw)| decode_item(raw).ok())
        .map(|i| item_size(&i) as u64)
        .sum();
    (items.len() as u64, bytes)
}

/// DescribeTable.
pub fn describe(body: &Value, ctx: &Context, txn: &mut dyn Txn) -> Result<Value> {
    let table = load_table(txn, table_name(body)?)?;
    let totals = totals(txn, &table);
    Ok(json!({"Table": table.describe(ctx, "ACTIVE", Some(totals))}))
}

/// ListTables, in name order, paged by `Limit` and `ExclusiveStartTableName`.
pub fn list(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let limit = match body.get("Limit").filter(|v| !v.is_null()) {
        None => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
                )));
            }
        },
    };
    let start = body.get("ExclusiveStartTableName").and_then(Value::as_str);
    let mut names: Vec<String> = txn
        .scan(META_PREFIX)
        .into_iter()
        .map(|(k, _)| k[META_PREFIX.len()..].to_owned())
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .collect();
    names.sort();
    let more = names.len() > limit;
    names.truncate(limit);
    let mut reply = json!({"TableNames": names});
    if more {
        reply["LastEvaluatedTableName"] = json!(names.last());
    }
    Ok(reply)
}

/// DeleteTable: the description goes, and every item of the table.
pub fn delete(body: &Value, ctx: &Context, txn: &mut dyn Txn) -> Result<Value> {
    let table = load_table(txn, table_name(body)?)?;
    for (key, _) in txn.scan(&table.item_prefix()) {
        txn.delete(&key)?;
    }
    txn.delete(&Table::meta_key(&table.name))?;
    Ok(json!({"TableDescription": table.describe(ctx, "DELETING", None)}))
}

/// UpdateTable: billing and throughput changes are kept; `ReplicaUpdates` naming regions of
/// the cluster are accepted (every region already holds a replica of every table).
pub fn update(body: &Value, ctx: &Context, txn: &mut dyn Txn) -> Result<Value> {
    let mut table = load_table(txn, table_name(body)?)?;
    if let Some(updates) = body.get("ReplicaUpdates").and_then(Value::as_array) {
        for u in updates {
            let region = ["Create", "Update", "Delete"]
                .iter()
                .find_map(|k| u.get(*k))
                .and_then(|a| a.get("RegionName"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !ctx.regions.iter().any(|r| r == region) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: region {} is not a region of this Meridian cluster ({})",
                    crate::value::excerpt(region),
                    ctx.regions.join(", ")
                )));
            }
            if u.get("Delete").is_some() {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: a Meridian table has a replica in every region of the cluster; {region} cannot be removed"
                )));
            }
        }
    }
    if let Some(mode) = body.get("BillingMode").and_then(Value::as_str) {
        table.billing_mode = mode.to_owned();
        if mode == "PAY_PER_REQUEST" {
            table.throughput = None;
        }
    }
    if let Some(t) = crate::table::throughput_of(body) {
        table.throughput = Some(t);
    }
    let raw = serde_json::to_vec(&table).expect("a table encodes");
    txn.put(&Table::meta_key(&table.name), raw)?;
    Ok(json!({"TableDescription": table.describe(ctx, "ACTIVE", None)}))
}
