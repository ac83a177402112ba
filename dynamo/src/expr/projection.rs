//! Projection (placeholder).
use super::Resolver;
use crate::{error::Result, value::Item};
/// P.
#[derive(Debug)]
pub struct Projection;
impl Projection { /// a
 pub fn apply(&self, i: &Item) -> Item { i.clone() } }
/// Parse.
pub fn parse(_src: &str, _r: &Resolver) -> Result<Projection> { Ok(Projection) }
