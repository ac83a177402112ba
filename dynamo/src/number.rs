//! DynamoDB numbers: decimal, at most 38 significant digits, magnitudes from 1E-130 to
//! 9.9999999999999999999999999999999999999E+125 (and zero), exact addition and subtraction.
//!
//! A [`Number`] is kept normalised — sign, significant digits without leading or trailing zeros,
//! and the power of ten of the last digit — so equal numbers are equal values (`1.50` = `1.5`,
//! `1e2` = `100`, `-0` = `0`), ordering is numeric, and the text given back is canonical (plain
//! notation, as DynamoDB returns it: `100`, `0.001`, `-17400000`).

use std::{cmp::Ordering, fmt, str::FromStr};

use crate::error::{DynamoError, Result};

/// Most significant digits.
pub const MAX_DIGITS: usize = 38;
/// Largest power of ten of a leading digit.
pub const MAX_EXPONENT: i64 = 125;
/// Smallest power of ten of a leading digit.
pub const MIN_EXPONENT: i64 = -130;

/// A DynamoDB number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits (0..=9), most significant first; empty for zero.
    digits: Vec<u8>,
    /// The power of ten of the last digit.
    scale: i64,
}

/// The error for a string that is not a number.
fn not_numeric(s: &str) -> DynamoError {
    DynamoError::validation(format!(
        "The parameter cannot be converted to a numeric value: {}",
        crate::value::excerpt(s)
    ))
}

/// The error for a result outside the range, or (as DynamoDB reports it) too precise.
pub fn overflow() -> DynamoError {
    DynamoError::validation(
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    )
}

fn underflow() -> DynamoError {
    DynamoError::validation(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range",
    )
}

fn too_precise() -> DynamoError {
    DynamoError::validation("Attempting to store more than 38 significant digits in a Number")
}

impl Number {
    /// Zero.
    pub fn zero() -> Self {
        Self {
            negative: false,
            digits: Vec::new(),
            scale: 0,
        }
    }

    /// Is this zero?
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Build from raw parts, normalised; `None` when out of range or too precise.
    fn normalised(negative: bool, mut digits: Vec<u8>, mut scale: i64) -> Result<Self> {
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        while digits.last() == Some(&0) {
            digits.pop();
            scale += 1;
        }
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        let exponent = scale + digits.len() as i64 - 1;
        if exponent > MAX_EXPONENT {
            return Err(overflow());
        }
        if exponent < MIN_EXPONENT {
            return Err(underflow());
        }
        if digits.len() > MAX_DIGITS {
            return Err(too_precise());
        }
        Ok(Self {
            negative,
            digits,
            scale,
        })
    }

    /// The power of ten of the leading digit (zero: 0).
    fn exponent(&self) -> i64 {
        self.scale + self.digits.len() as i64 - 1
    }

    /// `self + other`, exact; an error when the result needs more than 38 digits or leaves
    /// the range (DynamoDB calls both an overflow).
    pub fn checked_add(&self, other: &Number) -> Result<Number> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        let scale = self.scale.min(other.scale);
        let a = self.aligned(scale);
        let b = other.aligned(scale);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match cmp_digits(&a, &b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        Number::normalised(negative, digits, scale).map_err(|_| overflow())
    }

    /// `self - other` (see [`Number::checked_add`]).
    pub fn checked_sub(&self, other: &Number) -> Result<Number> {
        self.checked_add(&other.negated())
    }

    /// `-self`.
    pub fn negated(&self) -> Number {
        let mut n = self.clone();
        n.negative = !n.is_zero() && !n.negative;
        n
    }

    /// The digits as an integer at `scale` (≤ own scale), most significant first.
    fn aligned(&self, scale: i64) -> Vec<u8> {
        let mut d = self.digits.clone();
        d.extend(std::iter::repeat_n(0, (self.scale - scale) as usize));
        d
    }
}

fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip_leading(a), strip_leading(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_leading(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|x| **x == 0).count();
    &d[n..]
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = vec![0u8; n + 1];
    let mut carry = 0u8;
    for i in 0..n {
        let x = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let y = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = x + y + carry;
        out[n - i] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    out
}

/// `a - b` for `a >= b`.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let y = if i < b.len() {
            b[b.len() - 1 - i] as i8
        } else {
            0
        };
        let idx = a.len() - 1 - i;
        let mut d = out[idx] as i8 - y - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[idx] = d as u8;
    }
    out
}

impl FromStr for Number {
    type Err = DynamoError;

    /// Parse DynamoDB's number syntax: an optional sign, digits with an optional point (at least
    /// one digit), an optional exponent. No spaces, no `NaN` or `Infinity`.
    fn from_str(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let mut digits = Vec::new();
        let mut scale: i64 = 0;
        let mut seen_digit = false;
        let mut seen_point = false;
        while i < bytes.len() {
            match bytes[i] {
                c @ b'0'..=b'9' => {
                    seen_digit = true;
                    if digits.is_empty() && c == b'0' {
                        // Leading zero: nothing to keep (but it still moves the scale after a point).
                    } else {
                        digits.push(c - b'0');
                    }
                    if seen_point {
                        scale -= 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return Err(not_numeric(s)),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(not_numeric(s));
        }
        // Leading zeros after the point were skipped without a digit kept: the scale counted them,
        // which is right (0.001 = 1 × 10^-3).
        if i < bytes.len() {
            // Exponent.
            i += 1;
            let mut exp_negative = false;
            match bytes.get(i) {
                Some(b'-') => {
                    exp_negative = true;
                    i += 1;
                }
                Some(b'+') => i += 1,
                _ => {}
            }
            if i >= bytes.len() {
                return Err(not_numeric(s));
            }
            let mut exp: i64 = 0;
            for &c in &bytes[i..] {
                if !c.is_ascii_digit() {
                    return Err(not_numeric(s));
                }
                exp = exp.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            }
            // Bounded far beyond the range, so the sum below cannot overflow.
            let exp = exp.min(1 << 40);
            scale += if exp_negative { -exp } else { exp };
        }
        Number::normalised(negative, digits, scale)
    }
}

impl fmt::Display for Number {
    /// Plain notation, no exponent, no redundant zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let digits: String = self.digits.iter().map(|d| (b'0' + d) as char).collect();
        if self.scale >= 0 {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', self.scale as usize));
        } else {
            let point = self.digits.len() as i64 + self.scale;
            if point > 0 {
                out.push_str(&digits[..point as usize]);
                out.push('.');
                out.push_str(&digits[point as usize..]);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-point) as usize));
                out.push_str(&digits);
            }
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let magnitude = self
            .exponent()
            .cmp(&other.exponent())
            .then_with(|| self.digits.cmp(&other.digits));
        if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests;
