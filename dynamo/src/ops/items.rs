//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem. Each reads the item's
//! local copy, checks its `ConditionExpression` against it, and writes the whole item — the
//! unit of replication and of last-writer-wins, as in DynamoDB global tables.

use serde_json::{Value, json};

use super::{
    Txn, decode_item, encode_item, load_table,
    request::{Exprs, ReturnValues, item_param, key_param, return_values},
};
use crate::{
    error::{DynamoError, Result},
    table::Table,
    value::{Item, check_item_size, item_to_json},
};

/// The local copy of the item stored at `key`.
pub(crate) fn current(txn: &dyn Txn, key: &str) -> Result<Option<Item>> {
    txn.get(key).map(|raw| decode_item(&raw)).transpose()
}

/// Refuse unless `cond` holds for `item`.
pub(crate) fn check_condition(
    exprs: &Exprs,
    cond: Option<&crate::expr::Condition>,
    item: Option<&Item>,
) -> Result<()> {
    match cond {
        Some(c) if !exprs.eval(c, item)? => Err(DynamoError::conditional_check_failed()),
        _ => Ok(()),
    }
}

/// [`check_condition`] for a request that may ask for the old item on failure
/// (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
fn check_condition_of(
    body: &Value,
    exprs: &Exprs,
    cond: Option<&crate::expr::Condition>,
    item: Option<&Item>,
) -> Result<()> {
    check_condition(exprs, cond, item).map_err(|mut e| {
        let wants_old = body
            .get("ReturnValuesOnConditionCheckFailure")
            .and_then(Value::as_str)
            == Some("ALL_OLD");
        if wants_old && let Some(old) = item {
            e.item = Some(item_to_json(old));
        }
        e
    })
}

/// What a prepared single-item write will do, once its condition held.
pub(crate) struct Prepared {
    /// The storage key.
    pub key: String,
    /// The new item (None: delete).
    pub new: Option<Item>,
    /// The item before.
    pub old: Option<Item>,
    /// Top-level attributes an UpdateItem touched (for UPDATED_OLD / UPDATED_NEW).
    pub touched: Vec<String>,
}

/// Read the local copy of the item at `key` and check the request's `ConditionExpression`
/// against it: the storage key and the old item.
fn read_checked(
    body: &Value,
    table: &Table,
    txn: &dyn Txn,
    key: &Item,
) -> Result<(String, Option<Item>)> {
    let mut exprs = Exprs::new(body)?;
    let cond = exprs.condition(body, "ConditionExpression")?;
    exprs.finish()?;
    let storage_key = table.item_key(key);
    let old = current(txn, &storage_key)?;
    check_condition_of(body, &exprs, cond.as_ref(), old.as_ref())?;
    Ok((storage_key, old))
}

/// Prepare a PutItem of `body` (or a transaction's / batch's Put): validate, read, check.
pub(crate) fn prepare_put(body: &Value, table: &Table, txn: &dyn Txn) -> Result<Prepared> {
    let item = item_param(body, "Item")?;
    let key = table.key_of(&item, false)?;
    check_item_size(&item)?;
    let (key, old) = read_checked(body, table, txn, &key)?;
    Ok(Prepared {
        key,
        new: Some(item),
        old,
        touched: Vec::new(),
    })
}

/// Prepare a DeleteItem.
pub(crate) fn prepare_delete(body: &Value, table: &Table, txn: &dyn Txn) -> Result<Prepared> {
    let key = table.key_of(&key_param(body)?, true)?;
    let (key, old) = read_checked(body, table, txn, &key)?;
    Ok(Prepared {
        key,
        new: None,
        old,
        touched: Vec::new(),
    })
}

/// Prepare an UpdateItem: the new item is the old one (or the key alone) with the update
/// expression applied.
pub(crate) fn prepare_update(body: &Value, table: &Table, txn: &dyn Txn) -> Result<Prepared> {
    let key = table.key_of(&key_param(body)?, true)?;
    let mut exprs = Exprs::new(body)?;
    let update = exprs.update(body)?;
    let cond = exprs.condition(body, "ConditionExpression")?;
    exprs.finish()?;
    let storage_key = table.item_key(&key);
    let old = current(txn, &storage_key)?;
    check_condition_of(body, &exprs, cond.as_ref(), old.as_ref())?;
    let mut new = old.clone().unwrap_or_else(|| key.clone());
    let mut touched = Vec::new();
    if let Some(u) = &update {
        touched = exprs.touched(u);
        for k in table.key_names() {
            if u.touches(k) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {k}. This attribute is part of the key"
                )));
            }
        }
        exprs.apply(u, &mut new)?;
    }
    check_item_size(&new)?;
    Ok(Prepared {
        key: storage_key,
        new: Some(new),
        old,
        touched,
    })
}

/// Carry out a prepared write.
pub(crate) fn commit(p: &Prepared, txn: &mut dyn Txn) -> Result<()> {
    match &p.new {
        Some(item) => txn.put(&p.key, encode_item(item)),
        // Deleting an absent item writes nothing (and loses nothing).
        None if p.old.is_none() => Ok(()),
        None => txn.delete(&p.key),
    }
}

/// The `Attributes` of a write's reply for `ReturnValues`.
fn returned(rv: ReturnValues, p: &Prepared) -> Value {
    let pick = |item: &Option<Item>| -> Option<Item> {
        item.as_ref().map(|i| {
            i.iter()
                .filter(|(k, _)| p.touched.iter().any(|t| t == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    };
    let attrs = match rv {
        ReturnValues::None => None,
        ReturnValues::AllOld => p.old.clone(),
        ReturnValues::AllNew => p.new.clone(),
        ReturnValues::UpdatedOld => pick(&p.old),
        ReturnValues::UpdatedNew => pick(&p.new),
    };
    match attrs.filter(|a| !a.is_empty()) {
        Some(a) => json!({"Attributes": item_to_json(&a)}),
        None => json!({}),
    }
}

/// A single-item write: validate `ReturnValues` against `allowed`, prepare, carry out.
fn write(
    body: &Value,
    txn: &mut dyn Txn,
    allowed: &[ReturnValues],
    prepare: fn(&Value, &Table, &dyn Txn) -> Result<Prepared>,
) -> Result<Value> {
    let rv = return_values(body, allowed)?;
    let table = load_table(txn, crate::table::table_name(body)?)?;
    let p = prepare(body, &table, txn)?;
    commit(&p, txn)?;
    Ok(returned(rv, &p))
}

const OLD_ONLY: [ReturnValues; 2] = [ReturnValues::None, ReturnValues::AllOld];

/// PutItem.
pub fn put(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    write(body, txn, &OLD_ONLY, prepare_put)
}

/// DeleteItem.
pub fn delete(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    write(body, txn, &OLD_ONLY, prepare_delete)
}

/// UpdateItem.
pub fn update(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let all = [
        ReturnValues::None,
        ReturnValues::AllOld,
        ReturnValues::UpdatedOld,
        ReturnValues::AllNew,
        ReturnValues::UpdatedNew,
    ];
    write(body, txn, &all, prepare_update)
}

/// GetItem, and each Get of a TransactGetItems: `{"Item": ..}` projected, or `{}`. Every read is
/// of the [`Txn`] (a strong cluster's endpoint brings its copy of the item up to the latest
/// acknowledged write first when `ConsistentRead` is true).
pub fn get(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let table = load_table(txn, crate::table::table_name(body)?)?;
    let key = table.key_of(&key_param(body)?, true)?;
    let mut exprs = Exprs::new(body)?;
    let projection = exprs.projection(body)?;
    exprs.finish()?;
    Ok(match current(txn, &table.item_key(&key))? {
        None => json!({}),
        Some(item) => {
            let item = match &projection {
                Some(p) => exprs.project(p, &item),
                None => item,
            };
            json!({"Item": item_to_json(&item)})
        }
    })
}
