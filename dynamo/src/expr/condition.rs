//! Condition and filter expressions: checking the parsed tree as DynamoDB does (functions and
//! where they may appear, operand counts and types, constants that can never compare), and
//! evaluating the result against an item.
//!
//! Evaluation follows DynamoDB: a missing attribute makes `=` and every ordering false and `<>`
//! true; values of different types are unequal and unordered (no error); `<`, `<=`, `>`, `>=`
//! and BETWEEN order strings (by UTF-8 bytes), numbers and binaries only. A constant from
//! `ExpressionAttributeValues` of a type an operator cannot use is a ValidationException at
//! parse time instead.

use std::borrow::Cow;

use super::{
    ast::{CondSyntax, OperandSyntax},
    compare,
    lexer::Tok,
    path::Path,
    resolve::{self, Cat, ExprKind, Problems, Resolver},
};
use crate::{
    error::Result,
    value::{AttributeValue, Item},
};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn parse(s: &str) -> Self {
        match s {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            _ => CmpOp::Ge,
        }
    }

    /// As written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An operand: a path into the item, a constant, or `size(operand)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A document path.
    Path(Path),
    /// A value from `ExpressionAttributeValues`.
    Value(AttributeValue),
    /// `size(x)`.
    Size(Box<Operand>),
}

/// A checked condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `x OR y OR ...`.
    Or(Vec<Cond>),
    /// `x AND y AND ...`.
    And(Vec<Cond>),
    /// `NOT x`.
    Not(Box<Cond>),
    /// `x <op> y`.
    Cmp(CmpOp, Operand, Operand),
    /// `x BETWEEN lo AND hi`.
    Between(Operand, Operand, Operand),
    /// `x IN (y, ...)`.
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`.
    Exists(Path),
    /// `attribute_not_exists(path)`.
    NotExists(Path),
    /// `attribute_type(x, :type)`.
    Type(Operand, String),
    /// `begins_with(x, y)`.
    BeginsWith(Operand, Operand),
    /// `contains(x, y)`.
    Contains(Operand, Operand),
}

/// A parsed, checked `ConditionExpression` or `FilterExpression`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The tree.
    pub root: Cond,
}

/// Most values an IN list may hold.
pub const MAX_IN_OPERANDS: usize = 100;

/// The functions of the condition languages and their operand counts.
const FUNCTIONS: &[(&str, usize)] = &[
    ("attribute_exists", 1),
    ("attribute_not_exists", 1),
    ("attribute_type", 2),
    ("begins_with", 2),
    ("contains", 2),
    ("size", 1),
];

/// The functions of update expressions (known, but not allowed here).
const UPDATE_FUNCTIONS: &[&str] = &["if_not_exists", "list_append"];

/// The valid names for `attribute_type`.
const TYPE_NAMES: &[&str] = &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

/// Builds a [`Cond`] from the tree, noting problems.
pub(crate) struct Builder<'r, 's, 't> {
    pub r: &'r Resolver,
    pub problems: Problems,
    pub kind: ExprKind,
    pub src: &'s str,
    pub toks: &'t [Tok<'s>],
}

impl Builder<'_, '_, '_> {
    fn syntax_after(&self, rest: usize) -> crate::error::DynamoError {
        resolve::syntax(
            self.kind,
            self.src,
            self.toks,
            self.toks.len().saturating_sub(rest),
        )
    }

    pub(crate) fn cond(&mut self, node: &CondSyntax<'_>) -> Result<Cond> {
        Ok(match node {
            CondSyntax::Or(all) => {
                Cond::Or(all.iter().map(|c| self.cond(c)).collect::<Result<_>>()?)
            }
            CondSyntax::And(all) => {
                Cond::And(all.iter().map(|c| self.cond(c)).collect::<Result<_>>()?)
            }
            CondSyntax::Not(a) => Cond::Not(Box::new(self.cond(a)?)),
            CondSyntax::Paren(inner, _) => {
                if matches!(**inner, CondSyntax::Paren(..)) {
                    self.problems
                        .note(Cat::Parens, "The expression has redundant parentheses;");
                }
                self.cond(inner)?
            }
            CondSyntax::Cmp(op, a, b) => {
                let op = CmpOp::parse(op);
                let (a, b) = (self.side(a)?, self.side(b)?);
                self.distinct(op.symbol(), &a, &b);
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    self.orderable(op.symbol(), &[&a, &b]);
                }
                Cond::Cmp(op, a, b)
            }
            CondSyntax::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.side(x)?, self.side(lo)?, self.side(hi)?);
                self.orderable("BETWEEN", &[&x, &lo, &hi]);
                self.between_bounds(&lo, &hi);
                Cond::Between(x, lo, hi)
            }
            CondSyntax::In(x, list) => {
                let x = self.side(x)?;
                if list.len() > MAX_IN_OPERANDS {
                    self.problems.note(
                        Cat::Operand,
                        format!(
                            "The IN operator is provided with too many operands; number of operands: {}",
                            list.len()
                        ),
                    );
                }
                let list = list.iter().map(|o| self.operand(o)).collect();
                Cond::In(x, list)
            }
            CondSyntax::Operand(OperandSyntax::Call(name, args), _) => self.function(name, args),
            CondSyntax::Operand(_, rest) => return Err(self.syntax_after(*rest)),
        })
    }

    /// One side of a comparison: an operand, perhaps in parentheses.
    fn side(&mut self, node: &CondSyntax<'_>) -> Result<Operand> {
        match node {
            CondSyntax::Operand(o, _) => Ok(self.operand(o)),
            CondSyntax::Paren(inner, rest) => match **inner {
                CondSyntax::Operand(..) => self.side(inner),
                CondSyntax::Paren(..) => {
                    self.problems
                        .note(Cat::Parens, "The expression has redundant parentheses;");
                    self.side(inner)
                }
                _ => Err(self.syntax_after(*rest)),
            },
            _ => Err(self.syntax_after(0)),
        }
    }

    /// An operand; functions other than `size` are noted as misused.
    pub(crate) fn operand(&mut self, o: &OperandSyntax<'_>) -> Operand {
        match o {
            OperandSyntax::Path(p) => Operand::Path(resolve::path(p, self.r, &mut self.problems)),
            OperandSyntax::Value(v) => {
                Operand::Value(resolve::value(v, self.r, &mut self.problems))
            }
            OperandSyntax::Call(name, args) => {
                let args: Vec<Operand> = args.iter().map(|a| self.operand(a)).collect();
                if *name != "size" {
                    self.unknown_or_misused(name);
                    return Operand::Value(AttributeValue::Null);
                }
                self.arity(name, args.len(), 1);
                let arg = args
                    .into_iter()
                    .next()
                    .unwrap_or(Operand::Value(AttributeValue::Null));
                if let Operand::Value(v) = &arg
                    && compare::size(v).is_none()
                {
                    self.bad_type("size", v.type_name());
                }
                Operand::Size(Box::new(arg))
            }
        }
    }

    fn unknown_or_misused(&mut self, name: &str) {
        if FUNCTIONS.iter().any(|(f, _)| *f == name) || UPDATE_FUNCTIONS.contains(&name) {
            self.problems.note(
                Cat::Misused,
                format!("The function is not allowed to be used this way in an expression; function: {name}"),
            );
        } else {
            self.problems.note(
                Cat::UnknownFunction,
                format!("Invalid function name; function: {name}"),
            );
        }
    }

    fn arity(&mut self, name: &str, got: usize, want: usize) {
        if got != want {
            self.problems.note(
                Cat::Arity,
                format!(
                    "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {got}"
                ),
            );
        }
    }

    fn bad_type(&mut self, name: &str, ty: &str) {
        self.problems.note(
            Cat::Operand,
            format!("Incorrect operand type for operator or function; operator or function: {name}, operand type: {ty}"),
        );
    }

    fn distinct(&mut self, name: &str, a: &Operand, b: &Operand) {
        if let (Operand::Path(p), Operand::Path(q)) = (a, b)
            && p == q
        {
            self.problems.note(
                Cat::Distinct,
                format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {name}, first operand: {p}"
                ),
            );
        }
    }

    fn orderable(&mut self, name: &str, ops: &[&Operand]) {
        for o in ops {
            if let Operand::Value(v) = o
                && !compare::orderable(v)
            {
                self.bad_type(name, v.type_name());
            }
        }
    }

    fn between_bounds(&mut self, lo: &Operand, hi: &Operand) {
        let (Operand::Value(lo), Operand::Value(hi)) = (lo, hi) else {
            return;
        };
        if !compare::orderable(lo) || !compare::orderable(hi) {
            return;
        }
        let bounds = format!(
            "lower bound operand: {}, upper bound operand: {}",
            compare::show(lo),
            compare::show(hi)
        );
        match compare::order(lo, hi) {
            None => self.problems.note(
                Cat::Operand,
                format!("The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"),
            ),
            Some(std::cmp::Ordering::Greater) => self.problems.note(
                Cat::Operand,
                format!(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"
                ),
            ),
            _ => {}
        }
    }

    /// A function used as a condition.
    fn function(&mut self, name: &str, args: &[OperandSyntax<'_>]) -> Cond {
        let ops: Vec<Operand> = args.iter().map(|a| self.operand(a)).collect();
        let Some((_, want)) = FUNCTIONS.iter().find(|(f, _)| *f == name) else {
            self.unknown_or_misused(name);
            return Cond::Exists(Path::attr(""));
        };
        if name == "size" {
            self.unknown_or_misused(name);
        }
        self.arity(name, ops.len(), *want);
        let mut ops = ops.into_iter();
        let null = || Operand::Value(AttributeValue::Null);
        let a = ops.next().unwrap_or_else(null);
        let b = ops.next().unwrap_or_else(null);
        if *want == 2 {
            self.distinct(name, &a, &b);
        }
        match name {
            "attribute_exists" | "attribute_not_exists" => {
                let Operand::Path(p) = a else {
                    self.problems.note(
                        Cat::Operand,
                        format!("Operator or function requires a document path; operator or function: {name}"),
                    );
                    return Cond::Exists(Path::attr(""));
                };
                if name == "attribute_exists" {
                    Cond::Exists(p)
                } else {
                    Cond::NotExists(p)
                }
            }
            "attribute_type" => {
                let ty = match &b {
                    Operand::Value(AttributeValue::S(t)) => {
                        if !TYPE_NAMES.contains(&t.as_str()) {
                            self.problems.note(
                                Cat::Operand,
                                format!(
                                    "Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                                ),
                            );
                        }
                        t.clone()
                    }
                    Operand::Value(v) => {
                        self.bad_type(name, v.type_name());
                        String::new()
                    }
                    _ => {
                        self.bad_type(name, "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
                        String::new()
                    }
                };
                Cond::Type(a, ty)
            }
            "begins_with" => {
                for o in [&a, &b] {
                    if let Operand::Value(v) = o
                        && !matches!(v, AttributeValue::S(_) | AttributeValue::B(_))
                    {
                        self.bad_type(name, v.type_name());
                    }
                }
                Cond::BeginsWith(a, b)
            }
            _ => Cond::Contains(a, b),
        }
    }
}

/// The value of an operand for `item` (none: the attribute is missing, or has no size).
pub fn value_of<'a>(o: &'a Operand, item: Option<&'a Item>) -> Option<Cow<'a, AttributeValue>> {
    match o {
        Operand::Path(p) => item.and_then(|i| p.get(i)).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(x) => value_of(x, item)
            .and_then(|v| compare::size(&v))
            .map(Cow::Owned),
    }
}

impl Cond {
    /// Does it hold for `item` (none: there is no item)?
    pub fn eval(&self, item: Option<&Item>) -> bool {
        let v = |o| value_of(o, item);
        match self {
            Cond::Or(all) => all.iter().any(|c| c.eval(item)),
            Cond::And(all) => all.iter().all(|c| c.eval(item)),
            Cond::Not(a) => !a.eval(item),
            Cond::Cmp(op, a, b) => {
                let (a, b) = (v(a), v(b));
                let (Some(a), Some(b)) = (a, b) else {
                    return *op == CmpOp::Ne;
                };
                match op {
                    CmpOp::Eq => compare::equal(&a, &b),
                    CmpOp::Ne => !compare::equal(&a, &b),
                    _ => compare::order(&a, &b).is_some_and(|o| match op {
                        CmpOp::Lt => o.is_lt(),
                        CmpOp::Le => o.is_le(),
                        CmpOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }),
                }
            }
            Cond::Between(x, lo, hi) => match (v(x), v(lo), v(hi)) {
                (Some(x), Some(lo), Some(hi)) => {
                    compare::order(&x, &lo).is_some_and(|o| o.is_ge())
                        && compare::order(&x, &hi).is_some_and(|o| o.is_le())
                }
                _ => false,
            },
            Cond::In(x, list) => v(x).is_some_and(|x| {
                list.iter()
                    .any(|o| v(o).is_some_and(|y| compare::equal(&x, &y)))
            }),
            Cond::Exists(p) => item.and_then(|i| p.get(i)).is_some(),
            Cond::NotExists(p) => item.and_then(|i| p.get(i)).is_none(),
            Cond::Type(x, t) => v(x).is_some_and(|x| x.type_name() == t),
            Cond::BeginsWith(a, b) => match (v(a), v(b)) {
                (Some(a), Some(b)) => compare::begins_with(&a, &b),
                _ => false,
            },
            Cond::Contains(a, b) => match (v(a), v(b)) {
                (Some(a), Some(b)) => compare::contains(&a, &b),
                _ => false,
            },
        }
    }
}

impl Condition {
    /// Does the condition hold for `item` (none: there is no item)? Evaluation itself cannot
    /// fail today; the `Result` leaves room for limits DynamoDB applies while evaluating.
    pub fn eval(&self, item: Option<&Item>) -> Result<bool> {
        Ok(self.root.eval(item))
    }
}
