//! Query and Scan, over this region's copy of a table. Query returns one partition in sort-key
//! order (numbers numerically, strings and binaries by their bytes; `ScanIndexForward: false`
//! reverses it); Scan returns the table in storage-key order. Both page: `Limit` bounds the
//! items evaluated (before `FilterExpression`), a page also ends after 1 MB, and
//! `LastEvaluatedKey` / `ExclusiveStartKey` carry the position.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::{
    Txn, decode_item, load_table,
    request::{Exprs, map_param},
};
use crate::{
    error::{DynamoError, Result},
    table::Table,
    value::{AttributeValue, Item, item_size, item_to_json},
};

/// Most bytes of items one page evaluates.
const MAX_PAGE_BYTES: usize = 1024 * 1024;

fn limit(body: &Value) -> Result<Option<usize>> {
    match body.get("Limit").filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n as usize)),
            _ => Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ))),
        },
    }
}

/// Order of two key values of one type.
pub(crate) fn cmp_key(a: &AttributeValue, b: &AttributeValue) -> Ordering {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => x.cmp(y),
        (AttributeValue::S(x), AttributeValue::S(y)) => x.as_bytes().cmp(y.as_bytes()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// One page over `items` (already in order): resume where `after(item, start)` first holds,
/// evaluate up to `Limit` items.
fn page(
    table: &Table,
    items: Vec<Item>,
    body: &Value,
    exprs: &mut Exprs,
    after: impl Fn(&Item, &Item) -> bool,
) -> Result<Value> {
    let start = map_param(body, "ExclusiveStartKey")?
        .map(|k| table.key_of(&k, true))
        .transpose()
        .map_err(|_| DynamoError::validation("The provided starting key is invalid: The provided key element does not match the schema"))?;
    let filter = exprs.condition(body, "FilterExpression")?;
    let projection = exprs.projection(body)?;
    exprs.finish()?;
    let limit = limit(body)?;
    let select = body
        .get("Select")
        .and_then(Value::as_str)
        .unwrap_or("ALL_ATTRIBUTES");
    let count_only = match select {
        "COUNT" => true,
        "ALL_ATTRIBUTES" | "SPECIFIC_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" => false,
        other => {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
                crate::value::excerpt(other)
            )));
        }
    };
    let mut iter = items
        .into_iter()
        // Resume after the start key's position (the item itself may be gone since).
        .skip_while(|i| start.as_ref().is_some_and(|s| !after(i, s)))
        .peekable();
    let (mut out, mut scanned, mut bytes, mut last) = (Vec::new(), 0usize, 0usize, None);
    while let Some(item) = iter.next() {
        scanned += 1;
        bytes += item_size(&item);
        let keep = match &filter {
            Some(f) => exprs.eval(f, Some(&item))?,
            None => true,
        };
        let at_end = limit.is_some_and(|l| scanned >= l) || bytes >= MAX_PAGE_BYTES;
        if at_end && iter.peek().is_some() {
            last = Some(table.key_of(&item, false)?);
        }
        if keep {
            out.push(match &projection {
                Some(p) => exprs.project(p, &item),
                None => item,
            });
        }
        if at_end {
            break;
        }
    }
    let mut reply = json!({"Count": out.len(), "ScannedCount": scanned});
    if !count_only {
        reply["Items"] = Value::Array(out.iter().map(item_to_json).collect());
    }
    if let Some(k) = last {
        reply["LastEvaluatedKey"] = item_to_json(&k);
    }
    Ok(reply)
}

/// Query.
pub fn query(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let table = load_table(txn, crate::table::table_name(body)?)?;
    if body.get("IndexName").is_some_and(|v| !v.is_null()) {
        return Err(DynamoError::validation(
            "The table does not have the specified index: secondary indexes are not supported by this Meridian endpoint",
        ));
    }
    let mut exprs = Exprs::new(body)?;
    let kc = exprs.key_condition(
        body,
        &table.hash.0,
        table.range.as_ref().map(|(r, _)| r.as_str()),
    )?;
    let (pk_name, pk_value) = exprs.partition(&kc);
    if pk_name != table.hash.0 {
        return Err(DynamoError::validation(format!(
            "Query condition missed key schema element: {}",
            table.hash.0
        )));
    }
    let mut probe = Item::new();
    probe.insert(pk_name.to_owned(), pk_value.clone());
    let sort = exprs.sort(&kc);
    if let Some((name, _)) = &sort {
        match &table.range {
            Some((r, _)) if r == name => {}
            _ => {
                return Err(DynamoError::validation(format!(
                    "Query key condition not supported: {name} is not a key attribute of the table"
                )));
            }
        }
    }
    if let Some((r, t)) = &table.range {
        // A placeholder sort key, only to build the partition's storage-key prefix.
        probe.insert(
            r.clone(),
            match t {
                crate::table::KeyType::S => AttributeValue::S("x".into()),
                crate::table::KeyType::N => AttributeValue::N("0".parse()?),
                crate::table::KeyType::B => AttributeValue::B(vec![0]),
            },
        );
    }
    let key = table.key_of(&probe, false).map_err(|e| {
        DynamoError::validation(format!(
            "One or more parameter values were invalid: {}",
            e.message
        ))
    })?;
    let storage = table.item_key(&key);
    let prefix = match &table.range {
        // Everything up to and including the partition part's separator.
        Some(_) => storage[..=storage.rfind('/').expect("a separator")].to_owned(),
        None => storage,
    };
    let mut items: Vec<Item> = txn
        .scan(&prefix)
        .into_iter()
        .filter(|(k, _)| table.range.is_some() || *k == prefix)
        .map(|(_, raw)| decode_item(&raw))
        .collect::<Result<_>>()?;
    if let Some((r, _)) = &table.range {
        if let Some((_, cond)) = &sort {
            items.retain(|i| i.get(r).is_some_and(|v| exprs.sort_matches(cond, v)));
        }
        items.sort_by(|a, b| cmp_key(&a[r], &b[r]));
    }
    let forward = body.get("ScanIndexForward").and_then(Value::as_bool) != Some(false);
    if !forward {
        items.reverse();
    }
    let range = table.range.clone();
    page(
        &table,
        items,
        body,
        &mut exprs,
        |item, start| match &range {
            None => false,
            Some((r, _)) => match (item.get(r), start.get(r)) {
                (Some(a), Some(b)) => {
                    let o = cmp_key(a, b);
                    if forward {
                        o == Ordering::Greater
                    } else {
                        o == Ordering::Less
                    }
                }
                _ => true,
            },
        },
    )
}

/// FNV-1a of a storage key, for Scan segments.
fn segment_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Scan (`Segment` / `TotalSegments` split the table by a hash of the key).
pub fn scan(body: &Value, txn: &mut dyn Txn) -> Result<Value> {
    let table = load_table(txn, crate::table::table_name(body)?)?;
    let segments = match (
        body.get("Segment").and_then(Value::as_u64),
        body.get("TotalSegments").and_then(Value::as_u64),
    ) {
        (None, None) => None,
        (Some(s), Some(t)) if (1..=1_000_000).contains(&t) && s < t => Some((s, t)),
        (Some(_), Some(_)) => {
            return Err(DynamoError::validation(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments",
            ));
        }
        _ => {
            return Err(DynamoError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
    };
    let mut rows = txn.scan(&table.item_prefix());
    rows.retain(|(k, _)| segments.is_none_or(|(s, t)| segment_hash(k) % t == s));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let items = rows
        .into_iter()
        .map(|(_, raw)| decode_item(&raw))
        .collect::<Result<Vec<_>>>()?;
    let mut exprs = Exprs::new(body)?;
    let t = table.clone();
    page(&table, items, body, &mut exprs, |item, start| {
        match (t.key_of(item, false), t.key_of(start, true)) {
            (Ok(a), Ok(b)) => t.item_key(&a) > t.item_key(&b),
            _ => true,
        }
    })
}
