//! The client library's one error type. A node's gRPC status enters it in one place
//! ([`From<tonic::Status>`]); everything else is the caller's input ([`Error::Invalid`]), a
//! cluster that did not do what a step needed ([`Error::Failed`]), or an I/O, JSON or cluster
//! file error. [`Error::Context`] says what was being done, as `anyhow`'s context did: the
//! chain of sources prints as `context: cause: …` with `{:#}` in `anyhow` and with
//! [`Error::chain`] here.

use std::time::Duration;

/// The client library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the client library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node answered a call with an error status (or the call failed on the way).
    #[error(transparent)]
    Rpc(#[from] tonic::Status),
    /// A named call at a named region failed with this status (the control plane's errors).
    #[error("{call} at {region}: {:?}: {}", .status.code(), .status.message())]
    Call {
        /// The call (`status`, `freeze`, `set role`, …).
        call: &'static str,
        /// The region called.
        region: String,
        /// What the node answered.
        status: tonic::Status,
    },
    /// A named call at a named region got no answer in time.
    #[error("{call} at {region}: no answer within {timeout:?}")]
    Timeout {
        /// The call.
        call: &'static str,
        /// The region called.
        region: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// Bad input: a flag, a workload text, a history, a region name.
    #[error("{0}")]
    Invalid(String),
    /// The cluster did not do what a step needed (not reachable, did not settle, …).
    #[error("{0}")]
    Failed(String),
    /// What was being done when `source` happened.
    #[error("{context}")]
    Context {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A file or process could not be read, written or started.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// JSON that could not be written or read.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A cluster file that does not parse or check.
    #[error(transparent)]
    Config(#[from] meridian_core::config::ConfigError),
    /// An address that is not a valid endpoint.
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    /// A task of the load generator panicked or was cancelled.
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
}

impl Error {
    /// The status of a failed call, when this error is one (and not wrapped in context).
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Error::Rpc(s) => Some(s),
            _ => None,
        }
    }

    /// The whole chain of causes, `context: cause: …` (what `{:#}` prints with `anyhow`).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text += ": ";
            text += &c.to_string();
            cause = c.source();
        }
        text
    }

    /// This error with what was being done around it.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// Context for results and options, as `anyhow::Context` gives: `.context("…")`, `.with_context(|| …)`.
pub trait ResultExt<T> {
    /// Say what was being done.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// Say what was being done, built only on error.
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

/// A missing value is a failure that says what was missing.
impl<T> ResultExt<T> for Option<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.ok_or_else(|| Error::Failed(context.into()))
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::Failed(context().into()))
    }
}

/// `return Err(Error::Failed(format!(…)))`.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::error::Error::Failed(format!($($t)*)))
    };
}

/// `return Err(Error::Invalid(format!(…)))`.
macro_rules! invalid {
    ($($t:tt)*) => {
        return Err($crate::error::Error::Invalid(format!($($t)*)))
    };
}

pub(crate) use {bail, invalid};
