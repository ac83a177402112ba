//! Attribute values and items, to and from DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`,
//! `{"B": "<base64>"}`, `{"BOOL": true}`, `{"NULL": true}`, `{"L": [..]}`, `{"M": {..}}`,
//! `{"SS": [..]}`, `{"NS": [..]}`, `{"BS": [..]}`), with DynamoDB's validations: exactly one
//! type per value, numbers as strings, no empty or duplicated sets, base64 binaries. Also the
//! item size DynamoDB counts against its 400 KB limit.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value};

use crate::{
    error::{DynamoError, Result},
    number::Number,
};

/// One attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number.
    N(Number),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// List.
    L(Vec<AttributeValue>),
    /// Map.
    M(BTreeMap<String, AttributeValue>),
    /// String set (non-empty, no duplicates).
    Ss(Vec<String>),
    /// Number set (non-empty, no duplicates).
    Ns(Vec<Number>),
    /// Binary set (non-empty, no duplicates).
    Bs(Vec<Vec<u8>>),
}

/// An item: attribute names to values.
pub type Item = BTreeMap<String, AttributeValue>;

/// Most characters of client input echoed in a message.
const EXCERPT_CHARS: usize = 200;

/// `s` cut for echoing in an error message.
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn decode_binary(v: &Value) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| DynamoError::serialization("Binary value must be a base64 string"))?;
    b64().decode(s).map_err(|_| {
        DynamoError::serialization(format!(
            "Base64 encoded binary value is not valid: {}",
            excerpt(s)
        ))
    })
}

fn string_of(v: &Value, what: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) => Err(DynamoError::serialization(format!(
            "NUMBER_VALUE cannot be converted to {what}"
        ))),
        Value::Bool(_) => Err(DynamoError::serialization(format!(
            "BOOLEAN_VALUE cannot be converted to {what}"
        ))),
        Value::Null => Err(DynamoError::serialization(format!(
            "NULL_VALUE cannot be converted to {what}"
        ))),
        Value::Array(_) => Err(DynamoError::serialization(
            "Start of list found where not expected",
        )),
        Value::Object(_) => Err(DynamoError::serialization(
            "Start of structure or map found where not expected.",
        )),
    }
}

fn array_of(v: &Value) -> Result<&Vec<Value>> {
    v.as_array().ok_or_else(|| {
        DynamoError::serialization("Unexpected value type in payload: expected a list")
    })
}

fn empty_set(kind: &str) -> DynamoError {
    DynamoError::validation(format!(
        "One or more parameter values were invalid: An {kind} set  may not be empty"
    ))
}

fn duplicates(shown: &[String]) -> DynamoError {
    DynamoError::validation(format!(
        "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
        excerpt(&shown.join(", "))
    ))
}

fn check_unique<T: Ord + Clone>(items: &[T], show: impl Fn(&T) -> String) -> Result<()> {
    let mut sorted = items.to_vec();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(duplicates(&items.iter().map(show).collect::<Vec<_>>()));
    }
    Ok(())
}

/// Deepest nesting of lists and maps DynamoDB stores.
pub const MAX_NESTING: usize = 32;

impl AttributeValue {
    /// Decode a DynamoDB JSON value.
    pub fn from_json(v: &Value) -> Result<Self> {
        Self::from_json_at(v, 0)
    }

    fn from_json_at(v: &Value, depth: usize) -> Result<Self> {
        if depth > MAX_NESTING {
            return Err(DynamoError::validation(
                "Nesting Levels have exceeded supported limits",
            ));
        }
        let Value::Object(map) = v else {
            return Err(DynamoError::serialization(
                "Unexpected value type in payload: an AttributeValue must be an object",
            ));
        };
        const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"];
        let mut present = map.iter().filter(|(k, _)| TYPES.contains(&k.as_str()));
        let Some((kind, inner)) = present.next() else {
            return Err(DynamoError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        if present.next().is_some() {
            return Err(DynamoError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        Ok(match kind.as_str() {
            "S" => AttributeValue::S(string_of(inner, "String")?),
            "N" => AttributeValue::N(string_of(inner, "String")?.parse()?),
            "B" => AttributeValue::B(decode_binary(inner)?),
            "BOOL" => AttributeValue::Bool(
                inner
                    .as_bool()
                    .ok_or_else(|| DynamoError::serialization("BOOL must be true or false"))?,
            ),
            "NULL" => match inner {
                Value::Bool(true) => AttributeValue::Null,
                _ => {
                    return Err(DynamoError::validation(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ));
                }
            },
            "L" => AttributeValue::L(
                array_of(inner)?
                    .iter()
                    .map(|x| AttributeValue::from_json_at(x, depth + 1))
                    .collect::<Result<_>>()?,
            ),
            "M" => AttributeValue::M(map_at(inner, depth + 1)?),
            "SS" => {
                let v: Vec<String> = array_of(inner)?
                    .iter()
                    .map(|x| string_of(x, "String"))
                    .collect::<Result<_>>()?;
                if v.is_empty() {
                    return Err(empty_set("string"));
                }
                check_unique(&v, String::clone)?;
                AttributeValue::Ss(v)
            }
            "NS" => {
                let v: Vec<Number> = array_of(inner)?
                    .iter()
                    .map(|x| string_of(x, "String")?.parse())
                    .collect::<Result<_>>()?;
                if v.is_empty() {
                    return Err(empty_set("number"));
                }
                check_unique(&v, Number::to_string)?;
                AttributeValue::Ns(v)
            }
            "BS" => {
                let v: Vec<Vec<u8>> = array_of(inner)?
                    .iter()
                    .map(decode_binary)
                    .collect::<Result<_>>()?;
                if v.is_empty() {
                    return Err(empty_set("binary"));
                }
                check_unique(&v, |b| b64().encode(b))?;
                AttributeValue::Bs(v)
            }
            _ => unreachable!("one of TYPES"),
        })
    }

    /// Encode as DynamoDB JSON.
    pub fn to_json(&self) -> Value {
        let (k, v) = match self {
            AttributeValue::S(s) => ("S", Value::String(s.clone())),
            AttributeValue::N(n) => ("N", Value::String(n.to_string())),
            AttributeValue::B(b) => ("B", Value::String(b64().encode(b))),
            AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
            AttributeValue::Null => ("NULL", Value::Bool(true)),
            AttributeValue::L(l) => ("L", Value::Array(l.iter().map(Self::to_json).collect())),
            AttributeValue::M(m) => ("M", item_to_json(m)),
            AttributeValue::Ss(v) => (
                "SS",
                Value::Array(v.iter().map(|s| Value::String(s.clone())).collect()),
            ),
            AttributeValue::Ns(v) => (
                "NS",
                Value::Array(v.iter().map(|n| Value::String(n.to_string())).collect()),
            ),
            AttributeValue::Bs(v) => (
                "BS",
                Value::Array(v.iter().map(|b| Value::String(b64().encode(b))).collect()),
            ),
        };
        let mut m = Map::new();
        m.insert(k.to_owned(), v);
        Value::Object(m)
    }

    /// The type's name as DynamoDB writes it (`S`, `N`, `BOOL`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// The size DynamoDB counts for this value, bytes.
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>()
            }
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::Ns(v) => v.iter().map(number_size).sum(),
            AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
        }
    }
}

/// About one byte per two significant digits, plus one.
fn number_size(n: &Number) -> usize {
    let digits = n.to_string().chars().filter(char::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

/// Decode a JSON object of attribute values (an item, a key, a map value).
pub fn map_from_json(v: &Value) -> Result<BTreeMap<String, AttributeValue>> {
    map_at(v, 0)
}

fn map_at(v: &Value, depth: usize) -> Result<BTreeMap<String, AttributeValue>> {
    let Value::Object(m) = v else {
        return Err(DynamoError::serialization(
            "Unexpected value type in payload: expected a map of attribute values",
        ));
    };
    m.iter()
        .map(|(k, v)| Ok((k.clone(), AttributeValue::from_json_at(v, depth)?)))
        .collect()
}

/// Encode an item (or map) as DynamoDB JSON.
pub fn item_to_json(item: &BTreeMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// The size DynamoDB counts for an item: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// DynamoDB's item size limit, bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Refuse an item over [`MAX_ITEM_BYTES`].
pub fn check_item_size(item: &Item) -> Result<()> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(DynamoError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
