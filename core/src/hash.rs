//! The hashes anti-entropy compares: a key's bucket, and a write's hash (over key, write id and
//! version), XOR-combined per bucket. The store keeps its digest up to date with them as writes
//! apply; [`crate::digest`] compares digests.

use crate::store::Write;

/// Buckets of a digest.
pub const BUCKETS: u32 = 1024;

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The bucket of `key`.
pub fn bucket_of(key: &str, buckets: u32) -> u32 {
    bucket_of_bytes(key.as_bytes(), buckets)
}

/// The bucket of the key whose bytes are `key`.
pub fn bucket_of_bytes(key: &[u8], buckets: u32) -> u32 {
    (fnv(key, 0xcbf2_9ce4_8422_2325) % u64::from(buckets.max(1))) as u32
}

/// A write's hash: two regions holding the same write of a key hash it alike.
pub fn item_hash(w: &Write) -> u64 {
    let h = fnv(w.payload.key_bytes(), 0xcbf2_9ce4_8422_2325);
    let h = fnv(w.id.as_bytes(), h);
    // The version too: two writes that share a (client-chosen) id still differ.
    let h = fnv(&w.version.timestamp.physical_us.to_le_bytes(), h);
    let h = fnv(&w.version.timestamp.logical.to_le_bytes(), h);
    let h = fnv(&(w.version.region.index() as u64).to_le_bytes(), h);
    // Finalise (splitmix) so XOR-combining stays well mixed.
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
