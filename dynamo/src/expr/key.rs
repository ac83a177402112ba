//! Key (placeholder).
use super::Resolver;
use crate::error::Result;
/// K.
#[derive(Debug)]
pub struct KeyCondition;
/// S.
#[derive(Debug)]
pub struct SortCondition;
/// O.
#[derive(Debug)]
pub enum SortOp {}
/// Parse.
pub fn parse(_src: &str, _r: &Resolver, _p: &str, _s: Option<&str>) -> Result<KeyCondition> { Ok(KeyCondition) }
