//! Update expressions (placeholder while being written).
use super::Resolver;
use crate::{error::Result, value::Item};
/// A parsed update.
#[derive(Debug)]
pub struct Update;
impl Update {
    /// Apply.
    pub fn apply(&self, _item: &mut Item) -> Result<()> { Ok(()) }
    /// Paths.
    pub fn paths(&self) -> impl Iterator<Item = &super::Path> { std::iter::empty() }
    /// Touches.
    pub fn touches(&self, _a: &str) -> bool { false }
}
/// Parse.
pub fn parse(_src: &str, _r: &Resolver) -> Result<Update> { Ok(Update) }
