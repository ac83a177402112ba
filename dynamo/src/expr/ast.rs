//! The syntax trees the grammar produces: names and placeholders as written, functions by
//! any name, no types checked. [`super::resolve`] and the per-language modules turn them into
//! checked, resolved expressions.

/// One step of a document path, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Step<'a> {
    /// A bare name (`a`).
    Name(&'a str),
    /// A `#name` placeholder.
    NameRef(&'a str),
    /// `[n]`.
    Index(u32),
}

/// A document path, as written: a name or placeholder, then `.name` and `[n]` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct PathSyntax<'a> {
    /// The steps; the first is never an index.
    pub steps: Vec<Step<'a>>,
}

/// An operand, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum OperandSyntax<'a> {
    /// A document path.
    Path(PathSyntax<'a>),
    /// A `:value` placeholder.
    Value(&'a str),
    /// `name(arg, ...)`, any name.
    Call(&'a str, Vec<OperandSyntax<'a>>),
}

/// A condition (or a part of one), as written. Operands and conditions share the tree because
/// parentheses can hold either; [`super::condition`] sorts them out.
#[derive(Clone, Debug, PartialEq)]
pub enum CondSyntax<'a> {
    /// `x OR y OR ...` (two or more).
    Or(Vec<CondSyntax<'a>>),
    /// `x AND y AND ...` (two or more).
    And(Vec<CondSyntax<'a>>),
    /// `NOT x`.
    Not(Box<CondSyntax<'a>>),
    /// `x <op> y` with op one of `= <> < <= > >=`.
    Cmp(&'a str, Box<CondSyntax<'a>>, Box<CondSyntax<'a>>),
    /// `x BETWEEN y AND z`.
    Between(
        Box<CondSyntax<'a>>,
        Box<CondSyntax<'a>>,
        Box<CondSyntax<'a>>,
    ),
    /// `x IN (y, ...)`.
    In(Box<CondSyntax<'a>>, Vec<OperandSyntax<'a>>),
    /// `( x )`; the number is how many tokens follow the `)`.
    Paren(Box<CondSyntax<'a>>, usize),
    /// An operand; the number is how many tokens follow it.
    Operand(OperandSyntax<'a>, usize),
}

/// The value of a SET action, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValueSyntax<'a> {
    /// `operand`.
    Operand(OperandSyntax<'a>),
    /// `x + y`.
    Plus(OperandSyntax<'a>, OperandSyntax<'a>),
    /// `x - y`.
    Minus(OperandSyntax<'a>, OperandSyntax<'a>),
}

/// One action of an update expression, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionSyntax<'a> {
    /// `SET path = value`.
    Set(PathSyntax<'a>, SetValueSyntax<'a>),
    /// `REMOVE path`.
    Remove(PathSyntax<'a>),
    /// `ADD path :value`.
    Add(PathSyntax<'a>, &'a str),
    /// `DELETE path :value`.
    Delete(PathSyntax<'a>, &'a str),
}

/// One clause (`SET ...`, `REMOVE ...`, `ADD ...`, `DELETE ...`) of an update expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ClauseSyntax<'a> {
    /// The clause's keyword, upper case.
    pub keyword: &'static str,
    /// Its actions, in order.
    pub actions: Vec<ActionSyntax<'a>>,
}
