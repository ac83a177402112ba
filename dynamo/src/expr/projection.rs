//! Projection expressions: a list of document paths, no two overlapping or conflicting;
//! applied to an item they keep only what the paths reach, nested where it was (`a.b[2].y`
//! gives `{"a": {"b": [{"y": ..}]}}`; several indexes of one list keep those elements in
//! order). Paths that reach nothing are left out.

use std::collections::BTreeMap;

use super::{
    parse,
    path::{Path, PathElem},
    resolve::{self, ExprKind, Problems, Resolver},
};
use crate::{
    error::Result,
    value::{AttributeValue, Item},
};

/// A parsed, checked `ProjectionExpression`.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// The paths, in the order written.
    pub paths: Vec<Path>,
}

/// Parse and check a projection expression.
pub fn parse(src: &str, r: &Resolver) -> Result<Projection> {
    let kind = ExprKind::Projection;
    let toks = resolve::tokenize(src, kind)?;
    let syntax = parse::projection(&toks).map_err(|at| resolve::syntax(kind, src, &toks, at))?;
    let mut problems = Problems::default();
    let paths: Vec<Path> = syntax
        .iter()
        .map(|p| resolve::path(p, r, &mut problems))
        .collect();
    Path::note_clashes(&paths.iter().collect::<Vec<_>>(), &mut problems);
    problems.into_error(kind)?;
    Ok(Projection { paths })
}

/// What to keep below one value.
#[derive(Default)]
struct Keep {
    /// Keep all of it.
    all: bool,
    keys: BTreeMap<String, Keep>,
    indexes: BTreeMap<usize, Keep>,
}

impl Keep {
    fn add(&mut self, steps: &[PathElem]) {
        match steps.split_first() {
            None => self.all = true,
            Some((PathElem::Attr(k), rest)) => self.keys.entry(k.clone()).or_default().add(rest),
            Some((PathElem::Index(i), rest)) => self.indexes.entry(*i).or_default().add(rest),
        }
    }

    fn project(&self, v: &AttributeValue) -> Option<AttributeValue> {
        if self.all {
            return Some(v.clone());
        }
        match v {
            AttributeValue::M(m) if !self.keys.is_empty() => {
                let out: BTreeMap<String, AttributeValue> = self
                    .keys
                    .iter()
                    .filter_map(|(k, keep)| Some((k.clone(), keep.project(m.get(k)?)?)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            AttributeValue::L(l) if !self.indexes.is_empty() => {
                let out: Vec<AttributeValue> = self
                    .indexes
                    .iter()
                    .filter_map(|(i, keep)| keep.project(l.get(*i)?))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}

impl Projection {
    /// The parts of `item` the paths reach.
    pub fn apply(&self, item: &Item) -> Item {
        let mut top: BTreeMap<&str, Keep> = BTreeMap::new();
        for p in &self.paths {
            top.entry(p.root.as_str()).or_default().add(&p.rest);
        }
        top.iter()
            .filter_map(|(k, keep)| Some(((*k).to_owned(), keep.project(item.get(*k)?)?)))
            .collect()
    }

    /// The top-level attributes the projection reads.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(|p| p.root.as_str())
    }
}
