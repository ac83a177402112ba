//! The tokens of DynamoDB's expression languages, and the text of its syntax errors.
//!
//! DynamoDB's lexer knows: names (`[A-Za-z][A-Za-z0-9_]*`), name placeholders (`#` and one or
//! more of `[A-Za-z0-9_]`), value placeholders (`:` likewise), list indexes (digits), and the
//! punctuation `= <> < <= > >= ( ) [ ] , . + -`. Anything else is a token of its own that no
//! rule accepts, so it ends up in a syntax error, as DynamoDB reports it:
//! `Syntax error; token: "<token>", near: "<previous token … next token>"`.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bare name: an attribute, a keyword or a function.
    Name,
    /// `#name`.
    NameRef,
    /// `:value`.
    ValueRef,
    /// Digits (a list index).
    Digits,
    /// Punctuation.
    Punct,
    /// A character no rule accepts (or a lone `#` / `:`).
    Unknown,
}

/// One token: its kind, its text and where it starts in the expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok<'a> {
    /// What it is.
    pub kind: Kind,
    /// Its text.
    pub text: &'a str,
    /// Byte offset of its first character.
    pub start: usize,
}

impl Tok<'_> {
    /// Byte offset just past it.
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }
}

fn is_part(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Split `src` into tokens (whitespace separates them and is dropped).
pub fn tokens(src: &str) -> Vec<Tok<'_>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let run = |from: usize| {
            let mut j = from;
            while j < bytes.len() && is_part(bytes[j]) {
                j += 1;
            }
            j
        };
        let (kind, end) = match c {
            b'a'..=b'z' | b'A'..=b'Z' => (Kind::Name, run(i + 1)),
            b'0'..=b'9' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                (Kind::Digits, j)
            }
            b'#' | b':' => {
                let j = run(i + 1);
                let kind = match (j > i + 1, c) {
                    (false, _) => Kind::Unknown,
                    (true, b'#') => Kind::NameRef,
                    (true, _) => Kind::ValueRef,
                };
                (kind, j)
            }
            b'<' if matches!(bytes.get(i + 1), Some(b'>' | b'=')) => (Kind::Punct, i + 2),
            b'>' if bytes.get(i + 1) == Some(&b'=') => (Kind::Punct, i + 2),
            b'=' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b',' | b'.' | b'+' | b'-' => {
                (Kind::Punct, i + 1)
            }
            _ => {
                // One character, however many bytes it takes.
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                (Kind::Unknown, i + len)
            }
        };
        out.push(Tok {
            kind,
            text: &src[start..end],
            start,
        });
        i = end;
    }
    out
}

/// DynamoDB's words for a syntax error at token `at` of `toks` (`toks.len()` = the end).
pub fn syntax_error(src: &str, toks: &[Tok<'_>], at: usize) -> String {
    let token = toks.get(at).map_or("<EOF>", |t| t.text);
    let from = at
        .checked_sub(1)
        .and_then(|p| toks.get(p))
        .or(toks.get(at))
        .map_or(src.len(), |t| t.start);
    let to = toks
        .get(at + 1)
        .or(toks.get(at))
        .or(toks.last())
        .map_or(src.len(), Tok::end)
        .max(from);
    format!(
        "Syntax error; token: \"{token}\", near: \"{}\"",
        crate::value::excerpt(&src[from..to])
    )
}

/// How deeply parentheses nest in `toks` (bounds the parser's recursion).
pub fn paren_depth(toks: &[Tok<'_>]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for t in toks {
        match t.text {
            "(" if t.kind == Kind::Punct => {
                depth += 1;
                max = max.max(depth);
            }
            ")" if t.kind == Kind::Punct => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
