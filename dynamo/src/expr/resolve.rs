//! Resolution of `#name` and `:value` placeholders against one request's
//! `ExpressionAttributeNames` / `ExpressionAttributeValues`, remembering which were used (by
//! any of the request's expressions), and the checks every expression shares: reserved words,
//! the 4 KB size limit, emptiness, syntax errors. Problems found while checking are kept by
//! category so that the one DynamoDB would report first is the one reported.

use std::{
    cell::RefCell,
    collections::{BTreeSet, HashMap},
};

use super::{
    ast::{PathSyntax, Step},
    lexer::{self, Tok},
    path::{Path, PathElem},
    reserved::is_reserved,
};
use crate::{
    error::{DynamoError, Result},
    value::AttributeValue,
};

/// Which expression of a request: it names the expression in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// `ConditionExpression` (PutItem, UpdateItem, DeleteItem, transactions).
    Condition,
    /// `FilterExpression` (Query, Scan).
    Filter,
    /// `KeyConditionExpression` (Query).
    KeyCondition,
    /// `UpdateExpression` (UpdateItem).
    Update,
    /// `ProjectionExpression` (GetItem, Query, Scan, ...).
    Projection,
}

impl ExprKind {
    /// The request parameter's name.
    pub fn name(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }

    /// `Invalid <Kind>: <message>` as a ValidationException.
    pub fn invalid(self, message: impl std::fmt::Display) -> DynamoError {
        DynamoError::validation(format!("Invalid {}: {message}", self.name()))
    }
}

/// DynamoDB's limit on the length of one expression, bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// Deepest nesting of parentheses accepted (bounds the parser's recursion).
pub const MAX_NESTING: usize = 64;

/// The placeholders of one request, and which of them its expressions used.
#[derive(Debug, Default)]
pub struct Resolver {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    used_names: RefCell<BTreeSet<String>>,
    used_values: RefCell<BTreeSet<String>>,
}

impl Resolver {
    /// A resolver over a request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
    pub fn new(names: &HashMap<String, String>, values: &HashMap<String, AttributeValue>) -> Self {
        Self {
            names: names.clone(),
            values: values.clone(),
            ..Self::default()
        }
    }

    /// The attribute name behind `#n`, marking it used.
    pub fn name(&self, placeholder: &str) -> Option<&str> {
        let n = self.names.get(placeholder)?;
        self.used_names.borrow_mut().insert(placeholder.to_owned());
        Some(n)
    }

    /// The value behind `:v`, marking it used.
    pub fn value(&self, placeholder: &str) -> Option<&AttributeValue> {
        let v = self.values.get(placeholder)?;
        self.used_values.borrow_mut().insert(placeholder.to_owned());
        Some(v)
    }

    /// The names no expression parsed so far used, sorted.
    pub fn unused_names(&self) -> Vec<String> {
        let used = self.used_names.borrow();
        let mut v: Vec<String> = self
            .names
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The values no expression parsed so far used, sorted.
    pub fn unused_values(&self) -> Vec<String> {
        let used = self.used_values.borrow();
        let mut v: Vec<String> = self
            .values
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// After parsing all of a request's expressions: DynamoDB's error for unused names, then
    /// for unused values (`Value provided in ExpressionAttributeNames unused in expressions:
    /// keys: {#a, #b}`).
    pub fn check_all_used(&self) -> Result<()> {
        for (what, unused) in [
            ("ExpressionAttributeNames", self.unused_names()),
            ("ExpressionAttributeValues", self.unused_values()),
        ] {
            if !unused.is_empty() {
                return Err(DynamoError::validation(format!(
                    "Value provided in {what} unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The kinds of problem a check can find, in the order DynamoDB reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cat {
    /// `((x))`.
    Parens,
    /// A bare name that is a reserved word.
    Reserved,
    /// A function DynamoDB does not know.
    UnknownFunction,
    /// A function where this language does not allow it.
    Misused,
    /// A clause used twice (update).
    Section,
    /// An undefined `#name` or `:value`.
    Undefined,
    /// Overlapping paths.
    Overlap,
    /// Conflicting paths.
    Conflict,
    /// A function with the wrong number of operands.
    Arity,
    /// A function or operator whose two operands are the same path.
    Distinct,
    /// An operand of the wrong type, and other checks of operands.
    Operand,
}

/// The first problem of each category found while checking one expression.
#[derive(Debug, Default)]
pub struct Problems {
    found: Vec<(Cat, String)>,
}

impl Problems {
    /// Remember `message` unless a problem of this category is known already.
    pub fn note(&mut self, cat: Cat, message: impl Into<String>) {
        if !self.found.iter().any(|(c, _)| *c == cat) {
            self.found.push((cat, message.into()));
        }
    }

    /// The problem to report, if any.
    pub fn into_error(self, kind: ExprKind) -> Result<()> {
        match self.found.into_iter().min_by_key(|(c, _)| *c) {
            Some((_, m)) => Err(kind.invalid(m)),
            None => Ok(()),
        }
    }
}

/// Checks before parsing: not empty, not over 4 KB, parentheses not nested too deep. Gives the
/// tokens.
pub fn tokenize(src: &str, kind: ExprKind) -> Result<Vec<Tok<'_>>> {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Err(kind.invalid(format!(
            "Expression size has exceeded the maximum allowed size; expression size: {}",
            src.len()
        )));
    }
    if src.trim().is_empty() {
        return Err(kind.invalid("The expression can not be empty;"));
    }
    let toks = lexer::tokens(src);
    let depth = lexer::paren_depth(&toks);
    if depth > MAX_NESTING {
        return Err(kind.invalid(format!(
            "The expression has too many nested parentheses; depth: {depth}, maximum: {MAX_NESTING}"
        )));
    }
    Ok(toks)
}

/// The error for a syntax error at token `at`.
pub fn syntax(kind: ExprKind, src: &str, toks: &[Tok<'_>], at: usize) -> DynamoError {
    kind.invalid(lexer::syntax_error(src, toks, at))
}

/// Resolve a path: placeholders replaced (an undefined one noted), reserved words noted.
pub fn path(syntax: &PathSyntax<'_>, r: &Resolver, problems: &mut Problems) -> Path {
    let mut elems = syntax.steps.iter().map(|step| match step {
        Step::Name(n) => {
            if is_reserved(n) {
                problems.note(
                    Cat::Reserved,
                    format!("Attribute name is a reserved keyword; reserved keyword: {n}"),
                );
            }
            PathElem::Attr((*n).to_owned())
        }
        Step::NameRef(n) => match r.name(n) {
            Some(v) => PathElem::Attr(v.to_owned()),
            None => {
                problems.note(
                    Cat::Undefined,
                    format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {n}"
                    ),
                );
                PathElem::Attr((*n).to_owned())
            }
        },
        Step::Index(i) => PathElem::Index(*i as usize),
    });
    let root = match elems.next() {
        Some(PathElem::Attr(a)) => a,
        // The grammar starts every path with a name.
        _ => String::new(),
    };
    Path {
        root,
        rest: elems.collect(),
    }
}

/// Resolve a `:value` (an undefined one noted, standing in as NULL).
pub fn value(placeholder: &str, r: &Resolver, problems: &mut Problems) -> AttributeValue {
    match r.value(placeholder) {
        Some(v) => v.clone(),
        None => {
            problems.note(
                Cat::Undefined,
                format!(
                    "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
                ),
            );
            AttributeValue::Null
        }
    }
}
