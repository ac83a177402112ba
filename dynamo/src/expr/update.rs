//! Update expressions: `SET`, `REMOVE`, `ADD` and `DELETE` clauses, checked as DynamoDB checks
//! them (each clause once, no two paths overlapping or conflicting, operand types of
//! constants, functions and their operands) and applied to an item.
//!
//! Applying follows DynamoDB: every value is computed from the item as it was before the
//! update (`SET a = :v, b = a` reads the old `a`); SET on a list index past the end appends,
//! several such appends in index order; list indexes of REMOVE refer to the old positions;
//! removing what is not there is fine, but a path through something missing or of the wrong
//! kind is `The document path provided in the update expression is invalid for update`; ADD
//! adds numbers (a missing attribute counts as zero) or unites sets (a missing one as empty);
//! DELETE takes elements out of a set and removes the attribute when none are left.

use super::{
    ast::{ActionSyntax, OperandSyntax, SetValueSyntax},
    compare, parse,
    path::{Path, PathElem},
    resolve::{self, Cat, ExprKind, Problems, Resolver},
};
use crate::{
    error::{DynamoError, Result},
    value::{AttributeValue, Item},
};

/// An operand of SET.
#[derive(Clone, Debug, PartialEq)]
pub enum SetOperand {
    /// The value at a path of the old item (which must exist).
    Path(Path),
    /// A constant.
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`.
    IfNotExists(Path, Box<SetOperand>),
    /// `list_append(x, y)`.
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

/// The value of a SET action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    /// `x`.
    Operand(SetOperand),
    /// `x + y`.
    Plus(SetOperand, SetOperand),
    /// `x - y`.
    Minus(SetOperand, SetOperand),
}

/// One action.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `SET path = value`.
    Set(Path, SetValue),
    /// `REMOVE path`.
    Remove(Path),
    /// `ADD path value`.
    Add(Path, AttributeValue),
    /// `DELETE path value`.
    Delete(Path, AttributeValue),
}

impl Action {
    /// The path the action writes.
    pub fn path(&self) -> &Path {
        match self {
            Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => p,
        }
    }
}

/// A parsed, checked `UpdateExpression`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The actions, in the order written.
    pub actions: Vec<Action>,
}

fn missing_attribute() -> DynamoError {
    DynamoError::validation(
        "The provided expression refers to an attribute that does not exist in the item",
    )
}

fn wrong_type() -> DynamoError {
    DynamoError::validation("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> DynamoError {
    DynamoError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

/// Parse and check an update expression.
pub fn parse(src: &str, r: &Resolver) -> Result<Update> {
    let kind = ExprKind::Update;
    let toks = resolve::tokenize(src, kind)?;
    let clauses = parse::update(&toks).map_err(|at| resolve::syntax(kind, src, &toks, at))?;
    let mut problems = Problems::default();
    let mut seen = Vec::new();
    let mut actions = Vec::new();
    for clause in &clauses {
        if seen.contains(&clause.keyword) {
            problems.note(
                Cat::Section,
                format!(
                    "The \"{}\" section can only be used once in an update expression;",
                    clause.keyword
                ),
            );
        }
        seen.push(clause.keyword);
        for a in &clause.actions {
            actions.push(action(a, r, &mut problems));
        }
    }
    let paths: Vec<&Path> = actions.iter().map(Action::path).collect();
    Path::note_clashes(&paths, &mut problems);
    problems.into_error(kind)?;
    Ok(Update { actions })
}

fn action(a: &ActionSyntax<'_>, r: &Resolver, problems: &mut Problems) -> Action {
    match a {
        ActionSyntax::Set(p, v) => {
            let path = resolve::path(p, r, problems);
            let mut op = |o: &OperandSyntax<'_>| operand(o, r, problems, false);
            let value = match v {
                SetValueSyntax::Operand(x) => SetValue::Operand(op(x)),
                SetValueSyntax::Plus(x, y) => SetValue::Plus(op(x), op(y)),
                SetValueSyntax::Minus(x, y) => SetValue::Minus(op(x), op(y)),
            };
            if let SetValue::Plus(x, y) | SetValue::Minus(x, y) = &value {
                let sign = if matches!(value, SetValue::Plus(..)) {
                    "+"
                } else {
                    "-"
                };
                for o in [x, y] {
                    if let SetOperand::Value(c) = o
                        && !matches!(c, AttributeValue::N(_))
                    {
                        bad_type(problems, sign, c.type_name());
                    }
                }
            }
            Action::Set(path, value)
        }
        ActionSyntax::Remove(p) => Action::Remove(resolve::path(p, r, problems)),
        ActionSyntax::Add(p, v) | ActionSyntax::Delete(p, v) => {
            let path = resolve::path(p, r, problems);
            let value = resolve::value(v, r, problems);
            let is_add = matches!(a, ActionSyntax::Add(..));
            let ok = match &value {
                AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => true,
                AttributeValue::N(_) => is_add,
                _ => false,
            };
            if !ok {
                problems.note(
                    Cat::Operand,
                    format!(
                        "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                        if is_add { "ADD" } else { "DELETE" },
                        compare::long_type_name(&value)
                    ),
                );
            }
            if is_add {
                Action::Add(path, value)
            } else {
                Action::Delete(path, value)
            }
        }
    }
}

fn bad_type(problems: &mut Problems, name: &str, ty: &str) {
    problems.note(
        Cat::Operand,
        format!("Incorrect operand type for operator or function; operator or function: {name}, operand type: {ty}"),
    );
}

/// An operand of SET; `in_list_append`: inside a `list_append` (which may not nest).
fn operand(
    o: &OperandSyntax<'_>,
    r: &Resolver,
    problems: &mut Problems,
    in_list_append: bool,
) -> SetOperand {
    let null = || SetOperand::Value(AttributeValue::Null);
    match o {
        OperandSyntax::Path(p) => SetOperand::Path(resolve::path(p, r, problems)),
        OperandSyntax::Value(v) => SetOperand::Value(resolve::value(v, r, problems)),
        OperandSyntax::Call(name, args) => {
            let nested = *name == "list_append";
            let ops: Vec<SetOperand> = args
                .iter()
                .map(|a| operand(a, r, problems, nested))
                .collect();
            if !matches!(*name, "if_not_exists" | "list_append") {
                problems.note(
                    Cat::UnknownFunction,
                    format!("Invalid function name; function: {name}"),
                );
                return null();
            }
            if ops.len() != 2 {
                problems.note(
                    Cat::Arity,
                    format!(
                        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                        ops.len()
                    ),
                );
                return null();
            }
            let mut ops = ops.into_iter();
            let (a, b) = (
                ops.next().unwrap_or_else(null),
                ops.next().unwrap_or_else(null),
            );
            if *name == "if_not_exists" {
                let SetOperand::Path(p) = a else {
                    problems.note(
                        Cat::Operand,
                        "Operator or function requires a document path; operator or function: if_not_exists",
                    );
                    return null();
                };
                return SetOperand::IfNotExists(p, Box::new(b));
            }
            if in_list_append {
                problems.note(
                    Cat::Misused,
                    "The function is not allowed to be used this way in an expression; function: list_append",
                );
            }
            for x in [&a, &b] {
                if let SetOperand::Value(c) = x
                    && !matches!(c, AttributeValue::L(_))
                {
                    bad_type(problems, "list_append", c.type_name());
                }
            }
            SetOperand::ListAppend(Box::new(a), Box::new(b))
        }
    }
}

impl SetOperand {
    fn eval(&self, item: &Item) -> Result<AttributeValue> {
        match self {
            SetOperand::Path(p) => p.get(item).cloned().ok_or_else(missing_attribute),
            SetOperand::Value(v) => Ok(v.clone()),
            SetOperand::IfNotExists(p, v) => match p.get(item) {
                Some(x) => Ok(x.clone()),
                None => v.eval(item),
            },
            SetOperand::ListAppend(a, b) => match (a.eval(item)?, b.eval(item)?) {
                (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                    x.extend(y);
                    Ok(AttributeValue::L(x))
                }
                _ => Err(wrong_type()),
            },
        }
    }
}

impl SetValue {
    fn eval(&self, item: &Item) -> Result<AttributeValue> {
        let (a, b, plus) = match self {
            SetValue::Operand(x) => return x.eval(item),
            SetValue::Plus(a, b) => (a, b, true),
            SetValue::Minus(a, b) => (a, b, false),
        };
        match (a.eval(item)?, b.eval(item)?) {
            (AttributeValue::N(x), AttributeValue::N(y)) => Ok(AttributeValue::N(if plus {
                x.checked_add(&y)?
            } else {
                x.checked_sub(&y)?
            })),
            _ => Err(wrong_type()),
        }
    }
}

fn union<T: PartialEq + Clone>(mut a: Vec<T>, b: &[T]) -> Vec<T> {
    for x in b {
        if !a.contains(x) {
            a.push(x.clone());
        }
    }
    a
}

fn difference<T: PartialEq>(a: Vec<T>, b: &[T]) -> Vec<T> {
    a.into_iter().filter(|x| !b.contains(x)).collect()
}

/// ADD `v` to `old`.
fn add(old: Option<&AttributeValue>, v: &AttributeValue) -> Result<AttributeValue> {
    use AttributeValue::*;
    Ok(match (old, v) {
        (None, v) => v.clone(),
        (Some(N(x)), N(y)) => N(x.checked_add(y)?),
        (Some(Ss(x)), Ss(y)) => Ss(union(x.clone(), y)),
        (Some(Ns(x)), Ns(y)) => Ns(union(x.clone(), y)),
        (Some(Bs(x)), Bs(y)) => Bs(union(x.clone(), y)),
        _ => return Err(wrong_type()),
    })
}

/// DELETE `v` from `old`: the new value, or none when the set is emptied (or was missing).
fn delete(old: Option<&AttributeValue>, v: &AttributeValue) -> Result<Option<AttributeValue>> {
    use AttributeValue::*;
    let new = match (old, v) {
        (None, _) => return Ok(None),
        (Some(Ss(x)), Ss(y)) => Ss(difference(x.clone(), y)),
        (Some(Ns(x)), Ns(y)) => Ns(difference(x.clone(), y)),
        (Some(Bs(x)), Bs(y)) => Bs(difference(x.clone(), y)),
        _ => return Err(wrong_type()),
    };
    let empty = matches!(&new, Ss(x) if x.is_empty())
        || matches!(&new, Ns(x) if x.is_empty())
        || matches!(&new, Bs(x) if x.is_empty());
    Ok((!empty).then_some(new))
}

/// The container one step below `v`, for writing.
fn step_mut<'v>(v: &'v mut AttributeValue, step: &PathElem) -> Result<&'v mut AttributeValue> {
    match (v, step) {
        (AttributeValue::M(m), PathElem::Attr(k)) => m.get_mut(k).ok_or_else(invalid_path),
        (AttributeValue::L(l), PathElem::Index(i)) => l.get_mut(*i).ok_or_else(invalid_path),
        _ => Err(invalid_path()),
    }
}

/// The value holding the last step of `path`, and that step.
fn parent_mut<'i, 'p>(
    item: &'i mut Item,
    path: &'p Path,
) -> Result<(&'i mut AttributeValue, &'p PathElem)> {
    let (last, middle) = path.rest.split_last().ok_or_else(invalid_path)?;
    let mut v = item.get_mut(&path.root).ok_or_else(invalid_path)?;
    for step in middle {
        v = step_mut(v, step)?;
    }
    Ok((v, last))
}

fn set_at(item: &mut Item, path: &Path, value: AttributeValue) -> Result<()> {
    if path.is_top_level() {
        item.insert(path.root.clone(), value);
        return Ok(());
    }
    match parent_mut(item, path)? {
        (AttributeValue::M(m), PathElem::Attr(k)) => {
            m.insert(k.clone(), value);
        }
        (AttributeValue::L(l), PathElem::Index(i)) => match l.get_mut(*i) {
            Some(slot) => *slot = value,
            None => l.push(value),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_at(item: &mut Item, path: &Path) -> Result<()> {
    if path.is_top_level() {
        item.remove(&path.root);
        return Ok(());
    }
    match parent_mut(item, path)? {
        (AttributeValue::M(m), PathElem::Attr(k)) => {
            m.remove(k);
        }
        (AttributeValue::L(l), PathElem::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

impl Update {
    /// Apply to `item` (an empty item when there is none yet). On error the item may be
    /// partly updated: apply to a copy when the old item must survive a failure.
    pub fn apply(&self, item: &mut Item) -> Result<()> {
        // Everything is computed from the old item first.
        let mut writes: Vec<(&Path, AttributeValue)> = Vec::new();
        let mut removes: Vec<&Path> = Vec::new();
        for a in &self.actions {
            match a {
                Action::Set(p, v) => writes.push((p, v.eval(item)?)),
                Action::Remove(p) => removes.push(p),
                Action::Add(p, v) => writes.push((p, add(p.get(item), v)?)),
                Action::Delete(p, v) => match (p.get(item), delete(p.get(item), v)?) {
                    (None, _) => {}
                    (Some(_), Some(new)) => writes.push((p, new)),
                    (Some(_), None) => removes.push(p),
                },
            }
        }
        // Appends past a list's end land in index order.
        writes.sort_by(|a, b| a.0.cmp(b.0));
        for (p, v) in writes {
            set_at(item, p, v)?;
        }
        // Highest indexes first, so each index still means the old position.
        removes.sort();
        for p in removes.into_iter().rev() {
            remove_at(item, p)?;
        }
        Ok(())
    }

    /// The paths the update writes (SET, REMOVE, ADD, DELETE), in the order written.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.actions.iter().map(Action::path)
    }

    /// Does the update write top-level attribute `name` or anything inside it? (The caller
    /// refuses key attributes: `Cannot update attribute pk. This attribute is part of the key`.)
    pub fn touches(&self, name: &str) -> bool {
        self.paths().any(|p| p.root == name)
    }
}
