//! Tables: what CreateTable accepts, the description DescribeTable gives back (a global table:
//! one replica per region of the cluster, `GlobalTableVersion` 2019.11.21), key schemas, the
//! validation of item keys against them, and the storage keys under which a region's replica
//! keeps tables and items.
//!
//! Storage keys are readable (they name table and key in the conflict feed) and injective:
//! `ddb-table/<table>` holds a table's description; `ddb/<table>/<pk>[/<sk>]` an item, each
//! key part its type letter and value (`S"alice"` as a JSON string, `N12.5` canonical,
//! `B"<base64>"`), so no two keys share a storage key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::{DynamoError, ErrorKind, Result},
    value::{AttributeValue, Item},
};

/// Largest partition key value, bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Largest sort key value, bytes.
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// A key attribute's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyType {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "S" => Ok(KeyType::S),
            "N" => Ok(KeyType::N),
            "B" => Ok(KeyType::B),
            other => Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                crate::value::excerpt(other)
            ))),
        }
    }

    fn matches(self, v: &AttributeValue) -> bool {
        matches!(
            (self, v),
            (KeyType::S, AttributeValue::S(_))
                | (KeyType::N, AttributeValue::N(_))
                | (KeyType::B, AttributeValue::B(_))
        )
    }
}

/// A table as every region's replica holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// The partition key attribute and its type.
    pub hash: (String, KeyType),
    /// The sort key attribute and its type, if any.
    pub range: Option<(String, KeyType)>,
    /// `PROVISIONED` or `PAY_PER_REQUEST`.
    pub billing_mode: String,
    /// Provisioned read and write capacity (kept as given; nothing is throttled).
    pub throughput: Option<(u64, u64)>,
    /// Creation time, seconds since the epoch.
    pub created: f64,
    /// A random id, as DynamoDB gives every table.
    pub id: String,
    /// The region whose endpoint created it.
    pub created_in: String,
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn check_table_name(name: &str, at: &str) -> Result<()> {
    let mut errors = Vec::new();
    if name.len() < 3 {
        errors.push(format!("Value '{name}' at '{at}' failed to satisfy constraint: Member must have length greater than or equal to 3"));
    }
    if name.len() > 255 {
        errors.push(format!("Value '{}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to 255", crate::value::excerpt(name)));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        errors.push(format!("Value '{}' at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", crate::value::excerpt(name)));
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(DynamoError::validation(format!(
        "{} validation error{} detected: {}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        errors.join("; ")
    )))
}

/// The `TableName` of a request, checked.
pub fn table_name(body: &Value) -> Result<&str> {
    let name = field(body, "TableName")
        .ok_or_else(|| {
            DynamoError::validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
        })?
        .as_str()
        .ok_or_else(|| DynamoError::serialization("TableName must be a string"))?;
    check_table_name(name, "tableName")?;
    Ok(name)
}

impl Table {
    /// A table from a CreateTable request, with DynamoDB's validations.
    pub fn from_create(body: &Value, region: &str, now_s: f64) -> Result<Table> {
        let name = table_name(body)?.to_owned();
        let schema = field(body, "KeySchema")
            .and_then(Value::as_array)
            .ok_or_else(|| DynamoError::validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null"))?;
        let defs = field(body, "AttributeDefinitions")
            .and_then(Value::as_array)
            .ok_or_else(|| DynamoError::validation("1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null"))?;
        if field(body, "GlobalSecondaryIndexes").is_some()
            || field(body, "LocalSecondaryIndexes").is_some()
        {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: secondary indexes are not supported by this Meridian endpoint",
            ));
        }
        let mut types = Vec::new();
        for d in defs {
            let n = d.get("AttributeName").and_then(Value::as_str).unwrap_or("");
            let t = KeyType::parse(d.get("AttributeType").and_then(Value::as_str).unwrap_or(""))?;
            types.push((n.to_owned(), t));
        }
        let key_names: Vec<(String, String)> = schema
            .iter()
            .map(|k| {
                (
                    k.get("AttributeName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    k.get("KeyType")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect();
        if key_names.is_empty() || key_names.len() > 2 {
            return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{}' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2",
                key_names.len()
            )));
        }
        let defined = |n: &str| types.iter().find(|(d, _)| d == n).map(|(_, t)| *t);
        let missing: Vec<&str> = key_names
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| defined(n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                missing.join(", "),
                types
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if types.len() != key_names.len() {
            return Err(DynamoError::validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        let (hash, range) = match key_names.as_slice() {
            [(h, ht)] if ht == "HASH" => ((h.clone(), defined(h).unwrap()), None),
            [(h, ht), (r, rt)] if ht == "HASH" && rt == "RANGE" => {
                if h == r {
                    return Err(DynamoError::validation(
                        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                    ));
                }
                (
                    (h.clone(), defined(h).unwrap()),
                    Some((r.clone(), defined(r).unwrap())),
                )
            }
            _ => {
                return Err(DynamoError::validation(
                    "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                ));
            }
        };
        let billing_mode = field(body, "BillingMode")
            .and_then(Value::as_str)
            .unwrap_or("PROVISIONED")
            .to_owned();
        let throughput = throughput_of(body);
        match (billing_mode.as_str(), throughput) {
            ("PROVISIONED", None) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            }
            ("PROVISIONED", Some((r, w))) if r == 0 || w == 0 => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Provisioned throughput for the table must be positive",
                ));
            }
            ("PAY_PER_REQUEST", Some(_)) => {
                return Err(DynamoError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            ("PROVISIONED" | "PAY_PER_REQUEST", _) => {}
            (other, _) => {
                return Err(DynamoError::validation(format!(
                    "1 validation error detected: Value '{}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                    crate::value::excerpt(other)
                )));
            }
        }
        Ok(Table {
            name,
            hash,
            range,
            billing_mode,
            throughput,
            created: now_s,
            id: uuid::Uuid::new_v4().to_string(),
            created_in: region.to_owned(),
        })
    }

    /// The storage key of this table's description.
    pub fn meta_key(name: &str) -> String {
        format!("{META_PREFIX}{name}")
    }

    /// The storage-key prefix of this table's items.
    pub fn item_prefix(&self) -> String {
        format!("{ITEM_PREFIX}{}/", self.name)
    }

    /// The key attributes of `item` (an item or a `Key`), checked against the schema. `exact`:
    /// nothing but the key attributes may be present (a `Key` parameter).
    pub fn key_of(&self, item: &Item, exact: bool) -> Result<Item> {
        let mut key = Item::new();
        let mut parts = vec![(&self.hash, MAX_PARTITION_KEY_BYTES, true)];
        if let Some(r) = &self.range {
            parts.push((r, MAX_SORT_KEY_BYTES, false));
        }
        if exact && item.len() != parts.len() {
            return Err(schema_mismatch());
        }
        for ((name, ty), max, is_hash) in parts {
            let Some(v) = item.get(name) else {
                return Err(if exact {
                    schema_mismatch()
                } else {
                    DynamoError::validation(format!(
                        "One or more parameter values were invalid: Missing the key {name} in the item"
                    ))
                });
            };
            if !ty.matches(v) {
                return Err(if exact {
                    schema_mismatch()
                } else {
                    DynamoError::validation(format!(
                        "One or more parameter values were invalid: Type mismatch for key {name} expected: {ty:?} actual: {}",
                        v.type_name()
                    ))
                });
            }
            let len = match v {
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.len(),
                _ => 1,
            };
            if len == 0 {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
                    if matches!(v, AttributeValue::S(_)) {
                        "string"
                    } else {
                        "binary"
                    }
                )));
            }
            if len > max {
                return Err(DynamoError::validation(if is_hash {
                    format!(
                        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of{MAX_PARTITION_KEY_BYTES} bytes"
                    )
                } else {
                    format!(
                        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {MAX_SORT_KEY_BYTES} bytes"
                    )
                }));
            }
            key.insert(name.clone(), v.clone());
        }
        Ok(key)
    }

    /// The storage key of the item whose key attributes are `key` (from [`Table::key_of`]).
    pub fn item_key(&self, key: &Item) -> String {
        let mut out = self.item_prefix();
        out.push_str(&key_part(&key[&self.hash.0]));
        if let Some((r, _)) = &self.range {
            out.push('/');
            out.push_str(&key_part(&key[r]));
        }
        out
    }

    /// The names of the key attributes.
    pub fn key_names(&self) -> Vec<&str> {
        let mut v = vec![self.hash.0.as_str()];
        if let Some((r, _)) = &self.range {
            v.push(r);
        }
        v
    }

    /// The DescribeTable (and CreateTable, DeleteTable) description, as seen from the region
    /// of `ctx`; `status` is ACTIVE, or DELETING in DeleteTable's reply. An MRSC table says so
    /// (`MultiRegionConsistency: STRONG`) and lists its witness apart from its replicas.
    pub fn describe(
        &self,
        ctx: &crate::ops::Context,
        status: &str,
        items: Option<(u64, u64)>,
    ) -> Value {
        let mut schema = vec![serde_json::json!({"AttributeName": self.hash.0, "KeyType": "HASH"})];
        let mut defs = vec![
            serde_json::json!({"AttributeName": self.hash.0, "AttributeType": format!("{:?}", self.hash.1)}),
        ];
        if let Some((r, t)) = &self.range {
            schema.push(serde_json::json!({"AttributeName": r, "KeyType": "RANGE"}));
            defs.push(serde_json::json!({"AttributeName": r, "AttributeType": format!("{t:?}")}));
        }
        let (read, write) = self.throughput.unwrap_or((0, 0));
        let (count, bytes) = items.unwrap_or((0, 0));
        let mut d = serde_json::json!({
            "TableName": self.name,
            "TableStatus": status,
            "KeySchema": schema,
            "AttributeDefinitions": defs,
            "CreationDateTime": self.created,
            "ItemCount": count,
            "TableSizeBytes": bytes,
            "TableArn": format!("arn:aws:dynamodb:{}:000000000000:table/{}", ctx.region, self.name),
            "TableId": self.id,
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": read,
                "WriteCapacityUnits": write,
            },
            "GlobalTableVersion": "2019.11.21",
            "Replicas": ctx.regions
                .iter()
                .filter(|r| *r != ctx.region && Some(r.as_str()) != ctx.witness)
                .map(|r| serde_json::json!({"RegionName": r, "ReplicaStatus": "ACTIVE"}))
                .collect::<Vec<_>>(),
        });
        if ctx.strong {
            d["MultiRegionConsistency"] = "STRONG".into();
            if let Some(w) = ctx.witness {
                d["GlobalTableWitnesses"] =
                    serde_json::json!([{"RegionName": w, "WitnessStatus": "ACTIVE"}]);
            }
        }
        if self.billing_mode == "PAY_PER_REQUEST" {
            d["BillingModeSummary"] = serde_json::json!({"BillingMode": "PAY_PER_REQUEST"});
        }
        d
    }
}

/// The `ProvisionedThroughput` of a request, as (read, write) capacity units.
pub(crate) fn throughput_of(body: &Value) -> Option<(u64, u64)> {
    field(body, "ProvisionedThroughput").map(|t| {
        (
            t.get("ReadCapacityUnits")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            t.get("WriteCapacityUnits")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        )
    })
}

/// Storage-key prefix of table descriptions.
pub const META_PREFIX: &str = "ddb-table/";
/// Storage-key prefix of items.
pub const ITEM_PREFIX: &str = "ddb/";

fn schema_mismatch() -> DynamoError {
    DynamoError::validation("The provided key element does not match the schema")
}

/// One key attribute in a storage key.
fn key_part(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => format!("S{}", Value::String(s.clone())),
        AttributeValue::N(n) => format!("N{n}"),
        AttributeValue::B(_) => match v.to_json() {
            Value::Object(m) => format!("B{}", m["B"]),
            _ => unreachable!("a binary encodes as an object"),
        },
        _ => unreachable!("key attributes are S, N or B"),
    }
}

/// The error for a table that does not exist.
pub fn not_found() -> DynamoError {
    DynamoError::new(ErrorKind::ResourceNotFound, "Requested resource not found")
}

#[cfg(test)]
mod tests;
