//! Resolved document paths (`a.b[1].c` with every `#name` replaced by its attribute name),
//! reading them in an item, and the overlap and conflict rules DynamoDB applies to the paths
//! of one update or projection expression.

use std::fmt;

use crate::value::{AttributeValue, Item};

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElem {
    /// A map key (or, first, a top-level attribute).
    Attr(String),
    /// A list index.
    Index(usize),
}

/// A document path: a top-level attribute, then map keys and list indexes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    /// The top-level attribute.
    pub root: String,
    /// The steps below it.
    pub rest: Vec<PathElem>,
}

impl Path {
    /// A path to a top-level attribute.
    pub fn attr(name: impl Into<String>) -> Self {
        Self {
            root: name.into(),
            rest: Vec::new(),
        }
    }

    /// Is it just a top-level attribute?
    pub fn is_top_level(&self) -> bool {
        self.rest.is_empty()
    }

    /// All steps, the root first.
    pub fn elems(&self) -> impl Iterator<Item = PathElem> + '_ {
        std::iter::once(PathElem::Attr(self.root.clone())).chain(self.rest.iter().cloned())
    }

    /// Note a clash among `paths` as a problem of its category.
    pub(crate) fn note_clashes(paths: &[&Path], problems: &mut super::resolve::Problems) {
        use super::resolve::Cat;
        if let Some((clash, message)) = first_clash(paths) {
            let cat = match clash {
                Clash::Overlap => Cat::Overlap,
                Clash::Conflict => Cat::Conflict,
            };
            problems.note(cat, message);
        }
    }

    /// The value at this path in `item`, if there is one.
    pub fn get<'i>(&self, item: &'i Item) -> Option<&'i AttributeValue> {
        let mut v = item.get(&self.root)?;
        for step in &self.rest {
            v = step_into(v, step)?;
        }
        Some(v)
    }
}

/// The value one step below `v`.
pub fn step_into<'v>(v: &'v AttributeValue, step: &PathElem) -> Option<&'v AttributeValue> {
    match (v, step) {
        (AttributeValue::M(m), PathElem::Attr(k)) => m.get(k),
        (AttributeValue::L(l), PathElem::Index(i)) => l.get(*i),
        _ => None,
    }
}

impl fmt::Display for Path {
    /// As DynamoDB shows paths in messages: `[a, b, [1]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}", self.root)?;
        for step in &self.rest {
            match step {
                PathElem::Attr(a) => write!(f, ", {a}")?,
                PathElem::Index(i) => write!(f, ", [{i}]")?,
            }
        }
        f.write_str("]")
    }
}

/// How two paths of one expression relate, by DynamoDB's rules.
#[derive(Debug, PartialEq, Eq)]
pub enum Clash {
    /// One is the other or lies inside it (`a` and `a.b`).
    Overlap,
    /// They disagree on what a part is (`a.b` and `a[1]`).
    Conflict,
}

/// Do `a` and `b` clash?
pub fn clash(a: &Path, b: &Path) -> Option<Clash> {
    if a.root != b.root {
        return None;
    }
    for (x, y) in a.rest.iter().zip(&b.rest) {
        match (x, y) {
            (PathElem::Attr(p), PathElem::Attr(q)) if p != q => return None,
            (PathElem::Index(p), PathElem::Index(q)) if p != q => return None,
            (PathElem::Attr(_), PathElem::Index(_)) | (PathElem::Index(_), PathElem::Attr(_)) => {
                return Some(Clash::Conflict);
            }
            _ => {}
        }
    }
    Some(Clash::Overlap)
}

/// The first clashing pair of `paths` (overlaps before conflicts), with DynamoDB's message.
pub fn first_clash(paths: &[&Path]) -> Option<(Clash, String)> {
    let mut conflict = None;
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            match clash(b, a) {
                Some(Clash::Overlap) => {
                    return Some((
                        Clash::Overlap,
                        format!(
                            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {b}, path two: {a}"
                        ),
                    ));
                }
                Some(Clash::Conflict) if conflict.is_none() => {
                    conflict = Some((
                        Clash::Conflict,
                        format!(
                            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {b}, path two: {a}"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    conflict
}
