//! The grammars, written with `winnow` over [`super::lexer`]'s tokens, as the DynamoDB
//! documentation gives them:
//!
//! ```text
//! condition  ::= or
//! or         ::= and ( OR and )*
//! and        ::= not ( AND not )*
//! not        ::= NOT* cmp
//! cmp        ::= atom [ comparator atom | BETWEEN atom AND atom | IN ( operand , ... ) ]
//! atom       ::= ( condition ) | operand
//! comparator ::= = | <> | < | <= | > | >=
//! operand    ::= name ( operand , ... ) | :value | path | ( operand )
//! path       ::= (name | #name) ( . (name | #name) | [ digits ] )*
//!
//! update     ::= clause+
//! clause     ::= SET set , ... | REMOVE path , ... | ADD path :value , ... | DELETE path :value , ...
//! set        ::= path = value | path = value + value | path = value - value
//!
//! projection ::= path , ...
//! ```
//!
//! AND and OR chains become one node each, and `NOT NOT x` becomes `x`, so the trees stay as
//! shallow as the parentheses. Keywords are case-insensitive, and a keyword of the language is not a name. A failed parse
//! reports the furthest token any rule reached, as DynamoDB's parser does.

use std::cell::Cell;

use winnow::{
    Parser,
    combinator::{alt, delimited, eof, opt, preceded, repeat, separated, terminated},
    error::ParserError,
    stream::{Stateful, Stream},
    token::any,
};

use super::{
    ast::{
        ActionSyntax, ClauseSyntax, CondSyntax, OperandSyntax, PathSyntax, SetValueSyntax, Step,
    },
    lexer::{Kind, Tok},
};

/// The parser's input: the tokens left, and the furthest failure so far (as tokens left).
type In<'t, 'a> = Stateful<&'t [Tok<'a>], &'t Cell<usize>>;

/// A failed rule. Where it failed is recorded in the input's state.
#[derive(Debug)]
pub struct Fail;

impl<'t, 'a> ParserError<In<'t, 'a>> for Fail {
    type Inner = Self;

    fn from_input(input: &In<'t, 'a>) -> Self {
        let rest = input.input.len();
        if rest < input.state.get() {
            input.state.set(rest);
        }
        Fail
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }
}

type PResult<O> = Result<O, Fail>;

/// The keywords of the condition languages.
const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
/// The keywords of update expressions.
const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];

/// Run `rule` over all of `toks`; on failure, the index of the offending token
/// (`toks.len()` for the end).
fn run<'a, O>(
    toks: &[Tok<'a>],
    mut rule: impl FnMut(&mut In<'_, 'a>) -> PResult<O>,
) -> Result<O, usize> {
    let furthest = Cell::new(usize::MAX);
    let mut input = Stateful {
        input: toks,
        state: &furthest,
    };
    match terminated(|i: &mut In<'_, 'a>| rule(i), eof).parse_next(&mut input) {
        Ok(o) => Ok(o),
        Err(Fail) => Err(toks.len() - furthest.get().min(toks.len())),
    }
}

fn punct<'t, 'a: 't>(p: &'static str) -> impl Parser<In<'t, 'a>, Tok<'a>, Fail> {
    any.verify(move |t: &Tok<'_>| t.kind == Kind::Punct && t.text == p)
}

fn keyword<'t, 'a: 't>(word: &'static str) -> impl Parser<In<'t, 'a>, Tok<'a>, Fail> {
    any.verify(move |t: &Tok<'_>| t.kind == Kind::Name && t.text.eq_ignore_ascii_case(word))
}

/// A bare name that is not one of `keywords`.
fn name<'t, 'a: 't>(keywords: &'static [&'static str]) -> impl Parser<In<'t, 'a>, &'a str, Fail> {
    any.verify_map(move |t: Tok<'a>| {
        (t.kind == Kind::Name && !keywords.iter().any(|k| t.text.eq_ignore_ascii_case(k)))
            .then_some(t.text)
    })
}

fn kind<'t, 'a: 't>(k: Kind) -> impl Parser<In<'t, 'a>, &'a str, Fail> {
    any.verify_map(move |t: Tok<'a>| (t.kind == k).then_some(t.text))
}

fn path<'a>(i: &mut In<'_, 'a>, keywords: &'static [&'static str]) -> PResult<PathSyntax<'a>> {
    let head = alt((
        name(keywords).map(Step::Name),
        kind(Kind::NameRef).map(Step::NameRef),
    ))
    .parse_next(i)?;
    let mut steps = vec![head];
    let tail: Vec<Step<'a>> = repeat(
        0..,
        alt((
            preceded(
                punct("."),
                alt((
                    name(keywords).map(Step::Name),
                    kind(Kind::NameRef).map(Step::NameRef),
                )),
            ),
            delimited(
                punct("["),
                any.verify_map(|t: Tok<'a>| {
                    (t.kind == Kind::Digits)
                        .then(|| t.text.parse::<u32>().ok())
                        .flatten()
                }),
                punct("]"),
            )
            .map(Step::Index),
        )),
    )
    .parse_next(i)?;
    steps.extend(tail);
    Ok(PathSyntax { steps })
}

/// An operand, possibly in parentheses.
fn operand<'a>(
    i: &mut In<'_, 'a>,
    keywords: &'static [&'static str],
) -> PResult<OperandSyntax<'a>> {
    alt((
        delimited(
            punct("("),
            |i: &mut In<'_, 'a>| operand(i, keywords),
            punct(")"),
        ),
        (
            name(keywords),
            punct("("),
            separated(1.., |i: &mut In<'_, 'a>| operand(i, keywords), punct(",")),
            punct(")"),
        )
            .map(|(f, _, args, _)| OperandSyntax::Call(f, args)),
        kind(Kind::ValueRef).map(OperandSyntax::Value),
        (|i: &mut In<'_, 'a>| path(i, keywords)).map(OperandSyntax::Path),
    ))
    .parse_next(i)
}

fn or<'a>(i: &mut In<'_, 'a>) -> PResult<CondSyntax<'a>> {
    let first = and(i)?;
    let mut all: Vec<CondSyntax<'a>> = repeat(0.., preceded(keyword("OR"), and)).parse_next(i)?;
    Ok(if all.is_empty() {
        first
    } else {
        all.insert(0, first);
        CondSyntax::Or(all)
    })
}

fn and<'a>(i: &mut In<'_, 'a>) -> PResult<CondSyntax<'a>> {
    let first = not(i)?;
    let mut all: Vec<CondSyntax<'a>> = repeat(0.., preceded(keyword("AND"), not)).parse_next(i)?;
    Ok(if all.is_empty() {
        first
    } else {
        all.insert(0, first);
        CondSyntax::And(all)
    })
}

fn not<'a>(i: &mut In<'_, 'a>) -> PResult<CondSyntax<'a>> {
    let nots: usize = repeat(0.., keyword("NOT").void()).parse_next(i)?;
    let inner = cmp(i)?;
    // NOT NOT x is x: keeping only the parity keeps the tree shallow.
    Ok(if nots % 2 == 1 {
        CondSyntax::Not(Box::new(inner))
    } else {
        inner
    })
}

fn comparator<'t, 'a: 't>() -> impl Parser<In<'t, 'a>, &'a str, Fail> {
    any.verify_map(|t: Tok<'a>| {
        (t.kind == Kind::Punct && matches!(t.text, "=" | "<>" | "<" | "<=" | ">" | ">="))
            .then_some(t.text)
    })
}

fn cmp<'a>(i: &mut In<'_, 'a>) -> PResult<CondSyntax<'a>> {
    let left = atom(i)?;
    enum Tail<'a> {
        Cmp(&'a str, CondSyntax<'a>),
        Between(CondSyntax<'a>, CondSyntax<'a>),
        In(Vec<OperandSyntax<'a>>),
    }
    let tail = opt(alt((
        (comparator(), atom).map(|(op, r)| Tail::Cmp(op, r)),
        (keyword("BETWEEN"), atom, keyword("AND"), atom)
            .map(|(_, lo, _, hi)| Tail::Between(lo, hi)),
        (
            keyword("IN"),
            punct("("),
            separated(
                1..,
                |i: &mut In<'_, 'a>| operand(i, CONDITION_KEYWORDS),
                punct(","),
            ),
            punct(")"),
        )
            .map(|(_, _, list, _)| Tail::In(list)),
    )))
    .parse_next(i)?;
    let left = Box::new(left);
    Ok(match tail {
        None => *left,
        Some(Tail::Cmp(op, r)) => CondSyntax::Cmp(op, left, Box::new(r)),
        Some(Tail::Between(lo, hi)) => CondSyntax::Between(left, Box::new(lo), Box::new(hi)),
        Some(Tail::In(list)) => CondSyntax::In(left, list),
    })
}

fn atom<'a>(i: &mut In<'_, 'a>) -> PResult<CondSyntax<'a>> {
    let start = i.checkpoint();
    if let Ok(inner) = delimited(punct("("), or, punct(")")).parse_next(i) {
        return Ok(CondSyntax::Paren(Box::new(inner), i.input.len()));
    }
    i.reset(&start);
    let op = operand(i, CONDITION_KEYWORDS)?;
    Ok(CondSyntax::Operand(op, i.input.len()))
}

/// Parse a condition (also filter and key condition) expression.
pub fn condition<'a>(toks: &[Tok<'a>]) -> Result<CondSyntax<'a>, usize> {
    run(toks, or)
}

fn set_value<'a>(i: &mut In<'_, 'a>) -> PResult<SetValueSyntax<'a>> {
    let op = |i: &mut In<'_, 'a>| operand(i, UPDATE_KEYWORDS);
    let first = op(i)?;
    let second = opt((alt((punct("+"), punct("-"))), op)).parse_next(i)?;
    Ok(match second {
        None => SetValueSyntax::Operand(first),
        Some((t, x)) if t.text == "+" => SetValueSyntax::Plus(first, x),
        Some((_, x)) => SetValueSyntax::Minus(first, x),
    })
}

fn action<'a>(i: &mut In<'_, 'a>, keyword: &'static str) -> PResult<ActionSyntax<'a>> {
    let p = path(i, UPDATE_KEYWORDS)?;
    match keyword {
        "SET" => {
            punct("=").parse_next(i)?;
            let v = alt((delimited(punct("("), set_value, punct(")")), set_value)).parse_next(i)?;
            Ok(ActionSyntax::Set(p, v))
        }
        "REMOVE" => Ok(ActionSyntax::Remove(p)),
        "ADD" => Ok(ActionSyntax::Add(p, kind(Kind::ValueRef).parse_next(i)?)),
        _ => Ok(ActionSyntax::Delete(p, kind(Kind::ValueRef).parse_next(i)?)),
    }
}

fn clause<'a>(i: &mut In<'_, 'a>) -> PResult<ClauseSyntax<'a>> {
    let word = any
        .verify_map(|t: Tok<'a>| {
            (t.kind == Kind::Name)
                .then(|| {
                    UPDATE_KEYWORDS
                        .iter()
                        .find(|k| t.text.eq_ignore_ascii_case(k))
                        .copied()
                })
                .flatten()
        })
        .parse_next(i)?;
    let actions = separated(1.., |i: &mut In<'_, 'a>| action(i, word), punct(",")).parse_next(i)?;
    Ok(ClauseSyntax {
        keyword: word,
        actions,
    })
}

/// Parse an update expression.
pub fn update<'a>(toks: &[Tok<'a>]) -> Result<Vec<ClauseSyntax<'a>>, usize> {
    run(toks, |i| repeat(1.., clause).parse_next(i))
}

/// Parse a projection expression.
pub fn projection<'a>(toks: &[Tok<'a>]) -> Result<Vec<PathSyntax<'a>>, usize> {
    run(toks, |i| {
        separated(1.., |i: &mut In<'_, 'a>| path(i, &[]), punct(",")).parse_next(i)
    })
}
