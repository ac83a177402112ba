//! Client request counters by method and gRPC status code, lock-free (for metrics).

use std::sync::atomic::{AtomicU64, Ordering};

/// Client-facing methods counted by status code.
pub const METHODS: [&str; 4] = ["put", "get", "delete", "increment"];

/// gRPC status code names, indexed by code number.
pub const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Request counters: method × status code, lock-free.
#[derive(Debug)]
pub struct RequestCounters(pub(crate) [[AtomicU64; 17]; 4]);

impl Default for RequestCounters {
    fn default() -> Self {
        Self(std::array::from_fn(|_| {
            std::array::from_fn(|_| AtomicU64::new(0))
        }))
    }
}

impl RequestCounters {
    /// Count one request of `method` (index into [`METHODS`]) ending with `code`.
    pub fn count(&self, method: usize, code: tonic::Code) {
        let c = (code as usize).min(16);
        self.0[method.min(3)][c].fetch_add(1, Ordering::Relaxed);
    }
}
