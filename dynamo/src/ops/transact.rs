//! TransactWriteItems and TransactGetItems: atomic within the region that receives them — every
//! condition is checked against this region's copy before anything is written, and the writes
//! are made together — then replicated item by item, exactly as DynamoDB documents for global
//! tables (another region may see some of a transaction's items before the others).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{
    Txn,
    items::{
        Prepared, check_condition, commit, current, prepare_delete, prepare_put, prepare_update,
    },
    load_table,
    request::{Exprs, key_param},
};
use crate::{
    error::{DynamoError, ErrorKind, Result},
    table::table_name,
};

/// Most actions in one transaction.
const MAX_ACTIONS: usize = 100;

fn actions(body: &Value) -> Result<&Vec<Value>> {
    let a = body.get("TransactItems").and_then(Value::as_array).ok_or_else(|| {
        DynamoError::validation("1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null")
    })?;
    if a.is_empty() || a.len() > MAX_ACTIONS {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_ACTIONS}, and greater than or equal to 1"
        )));
    }
    Ok(a)
}

/// TransactWriteItems.
pub fn write(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let mut prepared: Vec<Option<Prepared>> = Vec::new();
    let mut reasons = Vec::new();
    let mut failed = false;
    let mut keys = HashSet::new();
    for action in actions(body)? {
        let (kind, inner) = ["ConditionCheck", "Put", "Delete", "Update"]
            .iter()
            .find_map(|k| action.get(*k).map(|v| (*k, v)))
            .ok_or_else(|| {
                DynamoError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                )
            })?;
        let table = load_table(txn, table_name(inner)?)?;
        let outcome = match kind {
            "Put" => prepare_put(inner, &table, txn).map(Some),
            "Delete" => prepare_delete(inner, &table, txn).map(Some),
            "Update" => prepare_update(inner, &table, txn).map(Some),
            _ => {
                let key = table.key_of(&key_param(inner)?, true)?;
                let mut exprs = Exprs::new(inner)?;
                let cond = exprs
                    .condition(inner, "ConditionExpression")?
                    .ok_or_else(|| {
                        DynamoError::validation(
                            "The ConditionExpression of a ConditionCheck must be specified",
                        )
                    })?;
                exprs.finish()?;
                let storage = table.item_key(&key);
                let old = current(txn, &storage)?;
                check_condition(&exprs, Some(&cond), old.as_ref()).map(|()| {
                    keys.insert(storage);
                    None
                })
            }
        };
        match outcome {
            Ok(p) => {
                if let Some(p) = &p
                    && !keys.insert(p.key.clone())
                {
                    return Err(DynamoError::validation(
                        "Transaction request cannot include multiple operations on one item",
                    ));
                }
                reasons.push(json!({"Code": "None"}));
                prepared.push(p);
            }
            Err(e) if e.kind == ErrorKind::ConditionalCheckFailed => {
                failed = true;
                reasons.push(json!({"Code": "ConditionalCheckFailed", "Message": e.message}));
                prepared.push(None);
            }
            Err(e) => return Err(e),
        }
    }
    if failed {
        let codes: Vec<&str> = reasons
            .iter()
            .map(|r| r["Code"].as_str().unwrap_or("None"))
            .collect();
        let mut e = DynamoError::new(
            ErrorKind::TransactionCanceled,
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        );
        e.cancellation_reasons = reasons;
        return Err(e);
    }
    for p in prepared.iter().flatten() {
        commit(p, txn)?;
    }
    Ok(json!({}))
}

/// TransactGetItems.
pub fn get(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let mut responses = Vec::new();
    for action in actions(body)? {
        let inner = action.get("Get").ok_or_else(|| {
            DynamoError::validation("TransactGetItems can only contain Get actions")
        })?;
        responses.push(super::items::get(inner, txn)?);
    }
    Ok(json!({"Responses": responses}))
}
