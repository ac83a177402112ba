//! BatchWriteItem and BatchGetItem: many items of many tables in one request. Every request
//! is processed here, so `UnprocessedItems` / `UnprocessedKeys` are always empty (and always
//! present, as the SDKs expect).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::{
    Txn, encode_item,
    items::current,
    load_table,
    request::{Exprs, item_param, key_param},
};
use crate::{
    error::{DynamoError, Result},
    table::table_name,
    value::{check_item_size, item_to_json},
};

/// Most write requests in one BatchWriteItem.
const MAX_WRITES: usize = 25;
/// Most keys in one BatchGetItem.
const MAX_GETS: usize = 100;

fn request_items(body: &Value) -> Result<&Map<String, Value>> {
    body.get("RequestItems").and_then(Value::as_object).ok_or_else(|| {
        DynamoError::validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null")
    })
}

/// BatchWriteItem: puts and deletes, each whole-item, none conditional.
pub fn write(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let tables = request_items(body)?;
    let total: usize = tables
        .values()
        .map(|r| r.as_array().map_or(0, Vec::len))
        .sum();
    if total == 0 || total > MAX_WRITES {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_WRITES}, Member must have length greater than or equal to 1]"
        )));
    }
    // Validate everything first: a batch with one bad request writes nothing.
    let mut writes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut seen = HashSet::new();
    for (name, requests) in tables {
        let table = load_table(txn, table_name(&json!({"TableName": name}))?)?;
        for r in requests.as_array().into_iter().flatten() {
            let (key, value) = match (r.get("PutRequest"), r.get("DeleteRequest")) {
                (Some(p), None) => {
                    let item = item_param(p, "Item")?;
                    check_item_size(&item)?;
                    let key = table.key_of(&item, false)?;
                    (table.item_key(&key), Some(encode_item(&item)))
                }
                (None, Some(d)) => {
                    let key = table.key_of(&key_param(d)?, true)?;
                    (table.item_key(&key), None)
                }
                _ => {
                    return Err(DynamoError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            if !seen.insert(key.clone()) {
                return Err(DynamoError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            writes.push((key, value));
        }
    }
    for (key, value) in writes {
        match value {
            Some(v) => txn.put(&key, v)?,
            None if txn.get(&key).is_some() => txn.delete(&key)?,
            None => {}
        }
    }
    Ok(json!({"UnprocessedItems": {}}))
}

/// BatchGetItem.
pub fn get(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let tables = request_items(body)?;
    let total: usize = tables
        .values()
        .map(|r| r.get("Keys").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if total == 0 || total > MAX_GETS {
        return Err(DynamoError::validation(format!(
            "Too many items requested for the BatchGetItem call: at most {MAX_GETS} keys, at least 1"
        )));
    }
    let mut responses = Map::new();
    for (name, request) in tables {
        let table = load_table(txn, table_name(&json!({"TableName": name}))?)?;
        let mut exprs = Exprs::new(request)?;
        let projection = exprs.projection(request)?;
        exprs.finish()?;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for k in request
            .get("Keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = table.key_of(&crate::value::map_from_json(k)?, true)?;
            let storage = table.item_key(&key);
            if !seen.insert(storage.clone()) {
                return Err(DynamoError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            if let Some(item) = current(txn, &storage)? {
                let item = match &projection {
                    Some(p) => exprs.project(p, &item),
                    None => item,
                };
                found.push(item_to_json(&item));
            }
        }
        responses.insert(name.clone(), Value::Array(found));
    }
    Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
}
