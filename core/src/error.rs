//! The core's one error type: everything a replica can refuse or fail at, in words a client can
//! act on. The node maps it to gRPC status codes in one place (`meridian-node`'s `error.rs`).

/// Largest key, bytes (as DynamoDB's partition + sort key budget).
pub const MAX_KEY_BYTES: usize = 2048;
/// Largest value, bytes (DynamoDB's 400 KB item limit).
pub const MAX_VALUE_BYTES: usize = 400 * 1024;

/// Largest key a replica stores, bytes: the gRPC API's keys ([`MAX_KEY_BYTES`]) and the storage
/// keys of DynamoDB items (table name and key attributes, quoted), whose own limits the
/// DynamoDB endpoint enforces.
pub const MAX_STORED_KEY_BYTES: usize = 20 * 1024;

/// Largest value a replica stores, bytes: a DynamoDB item of 400 KB as the endpoint encodes it.
pub const MAX_STORED_VALUE_BYTES: usize = 1024 * 1024;

/// Everything a node can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed (empty key, oversize value, unknown region, bad setting...).
    #[error("{0}")]
    InvalidArgument(String),
    /// A write condition did not hold in this region.
    #[error("condition failed: {0}")]
    ConditionFailed(String),
    /// Aurora Global mode: this region is a read-only secondary.
    #[error(
        "region {region} is a read-only secondary; the primary is {primary} (write there, or enable write forwarding)"
    )]
    NotPrimary {
        /// This region.
        region: String,
        /// The current primary.
        primary: String,
    },
    /// Aurora Global mode: writes are paused (switchover in progress, or frozen by an admin).
    #[error("writes are paused at {0}: switchover in progress")]
    Frozen(String),
    /// Aurora Global mode: the RPO bound is exceeded; commits are refused until a secondary catches up.
    #[error(
        "RPO bound exceeded: no secondary is within {bound_ms} ms of the primary (closest is {behind_ms} ms behind)"
    )]
    RpoBound {
        /// The configured bound.
        bound_ms: u64,
        /// How far behind the closest secondary is.
        behind_ms: u64,
    },
    /// A peer or the primary could not be reached.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Multi-Region strong consistency: the item is being modified in another region (or by
    /// another request here); the write was committed nowhere. Retryable.
    #[error("ReplicatedWriteConflict: {0}")]
    WriteConflict(String),
    /// The admin token is missing or wrong.
    #[error("admin token missing or wrong")]
    Unauthenticated,
    /// A replication or anti-entropy call without the cluster secret.
    #[error(
        "peer calls need the cluster secret (`secret` in the cluster file or MERIDIAN_CLUSTER_SECRET)"
    )]
    PeerUnauthenticated,
    /// A precondition of an admin operation does not hold (e.g. switchover to the primary).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A peer sent something that cannot be applied (a forged or corrupt replicated write).
    #[error("{0}")]
    DataLoss(String),
    /// A bug or an internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Most characters of hostile input echoed in a message.
pub const MAX_ECHO_CHARS: usize = 200;

/// Most characters of any error message sent to a client (a grpc-message header that large
/// still travels; beyond it clients see "stream removed" instead of the error).
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// `s` cut to [`MAX_ECHO_CHARS`] characters, with "…" when cut: for echoing input in errors.
pub fn truncate(s: &str) -> String {
    truncate_to(s, MAX_ECHO_CHARS)
}

/// `s` cut to `max` characters, with "…" when cut.
pub fn truncate_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

/// Result with the core's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Check a key of the gRPC API: non-empty, at most [`MAX_KEY_BYTES`].
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

/// Check a value of the gRPC API: at most [`MAX_VALUE_BYTES`].
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid(format!(
            "value is {} bytes; the limit is {MAX_VALUE_BYTES} (400 KiB)",
            value.len()
        )));
    }
    Ok(())
}

/// Check a key a replica stores or receives: non-empty, at most [`MAX_STORED_KEY_BYTES`].
pub fn check_stored_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("key must not be empty"));
    }
    if key.len() > MAX_STORED_KEY_BYTES {
        return Err(Error::invalid(format!(
            "key is {} bytes; a replica stores at most {MAX_STORED_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

/// Check a value a replica stores or receives: at most [`MAX_STORED_VALUE_BYTES`].
pub fn check_stored_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_STORED_VALUE_BYTES {
        return Err(Error::invalid(format!(
            "value is {} bytes; a replica stores at most {MAX_STORED_VALUE_BYTES}",
            value.len()
        )));
    }
    Ok(())
}
