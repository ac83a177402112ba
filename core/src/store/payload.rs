//! A write's key and value, in one heap allocation.
//!
//! Every key's current write (and every write of the own log) holds one, so it is laid out
//! to cost one allocation and one pointer: a header, the key's bytes, then the value's. The
//! header is `key length × 2 + (1 if a value follows)` as a LEB128 varint (one byte for keys
//! under 64 bytes, two under 8 KiB). A tombstone has no value; a put of an empty value has
//! one, of length 0.

use std::fmt;

/// Key and value (or tombstone) of a write.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Box<[u8]>);

/// The header's bytes for `header`.
fn varint(mut header: u64, out: &mut Vec<u8>) {
    while header >= 0x80 {
        out.push((header as u8) | 0x80);
        header >>= 7;
    }
    out.push(header as u8);
}

impl Payload {
    /// The payload of a write of `key`: `Some(value)` for a put, `None` for a tombstone.
    pub fn new(key: &str, value: Option<&[u8]>) -> Self {
        let header = ((key.len() as u64) << 1) | u64::from(value.is_some());
        let header_len = (u64::BITS - header.leading_zeros()).div_ceil(7).max(1) as usize;
        let body = key.len() + value.map_or(0, <[u8]>::len);
        // Exactly the length: `into_boxed_slice` then keeps the allocation as it is.
        let mut bytes = Vec::with_capacity(header_len + body);
        varint(header, &mut bytes);
        debug_assert_eq!(bytes.len(), header_len);
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(value.unwrap_or_default());
        Self(bytes.into_boxed_slice())
    }

    /// Where the key starts, where it ends, and whether a value follows.
    fn layout(&self) -> (usize, usize, bool) {
        let (mut header, mut shift, mut start) = (0u64, 0, 0);
        for b in self.0.iter() {
            header |= u64::from(b & 0x7f) << shift;
            shift += 7;
            start += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = start + (header >> 1) as usize;
        (start, end, header & 1 == 1)
    }

    /// The key's bytes (UTF-8).
    pub fn key_bytes(&self) -> &[u8] {
        let (start, end, _) = self.layout();
        &self.0[start..end]
    }

    /// The key.
    pub fn key(&self) -> &str {
        // Built from a `&str`, and the bytes are never changed.
        std::str::from_utf8(self.key_bytes()).expect("a payload's key is UTF-8")
    }

    /// The value, or `None` for a tombstone.
    pub fn value(&self) -> Option<&[u8]> {
        let (_, end, put) = self.layout();
        put.then(|| &self.0[end..])
    }

    /// Bytes allocated on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("key", &self.key())
            .field("value", &self.value())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_allocation_with_a_short_header() {
        let p = Payload::new("mem/0000000001", Some(&[7; 100]));
        assert_eq!(p.heap_bytes(), 1 + 14 + 100);
        assert_eq!(std::mem::size_of::<Payload>(), 16);
        assert_eq!(p.key(), "mem/0000000001");
        assert_eq!(p.value(), Some(&[7u8; 100][..]));
    }

    #[test]
    fn tombstones_and_empty_values_differ() {
        let t = Payload::new("k", None);
        let e = Payload::new("k", Some(b""));
        assert_eq!(t.value(), None);
        assert_eq!(e.value(), Some(&b""[..]));
        assert_ne!(t, e);
        assert_eq!(Payload::new("", None).key(), "");
    }

    proptest! {
        /// Any key and value read back as written, whatever the header's length.
        #[test]
        fn reads_back_what_was_written(key in "\\PC{0,3}|\\PC{60,70}|[a-z]{8000,8300}", value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))) {
            let p = Payload::new(&key, value.as_deref());
            prop_assert_eq!(p.key(), key.as_str());
            prop_assert_eq!(p.key_bytes(), key.as_bytes());
            prop_assert_eq!(p.value(), value.as_deref());
        }
    }
}
