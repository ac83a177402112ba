//! The DynamoDB JSON protocol (`DynamoDB_20120810`) as plain synchronous code: what a region's
//! node needs to serve an unchanged AWS SDK. No network and no async runtime here: the node
//! hands each request's operation name and JSON body to [`ops`], which runs it against a
//! transaction over the region's replica, and sends back the JSON or the error.
//!
//! # Layout
//! - [`error`]: DynamoDB's error types (`__type`) and messages, worded as DynamoDB words them;
//! - [`number`]: DynamoDB numbers — 38 significant digits, exponents −130..+125, exact `+`/`-`;
//! - [`value`]: attribute values and items, to and from DynamoDB JSON, with its validations;
//! - [`expr`]: the expression languages (condition, filter, key condition, update, projection):
//!   parser, name/value resolution, evaluation;
//! - [`table`]: table descriptions, key schemas, the storage keys of items;
//! - [`ops`]: the operations, run against a [`ops::Txn`].

pub mod error;
pub mod expr;
pub mod number;
pub mod ops;
pub mod table;
pub mod value;

pub use error::{DynamoError, ErrorKind};
pub use number::Number;
pub use value::{AttributeValue, Item};
