//! The node's errors: the core's [`Error`] (everything a replica or its shell refuses), and its
//! mapping to gRPC status codes — the only place that mapping is made.

use tonic::Status;

pub use meridian_core::error::{
    Error, MAX_MESSAGE_CHARS, Result, check_key, check_stored_key, check_stored_value, check_value,
    truncate, truncate_to,
};

/// The gRPC status of `e`, its message cut to [`MAX_MESSAGE_CHARS`].
pub fn status(e: Error) -> Status {
    let msg = truncate_to(&e.to_string(), MAX_MESSAGE_CHARS);
    match e {
        Error::InvalidArgument(_) => Status::invalid_argument(msg),
        Error::ConditionFailed(_)
        | Error::NotPrimary { .. }
        | Error::RpoBound { .. }
        | Error::FailedPrecondition(_) => Status::failed_precondition(msg),
        Error::Frozen(_) | Error::Unavailable(_) => Status::unavailable(msg),
        Error::Unauthenticated | Error::PeerUnauthenticated => Status::unauthenticated(msg),
        Error::WriteConflict(_) => Status::aborted(msg),
        Error::DataLoss(_) => Status::data_loss(msg),
        Error::Internal(_) => Status::internal(msg),
    }
}

/// An error as a gRPC status ([`status`]), for `?` in handlers: `.map_err(status)?` spelt
/// shorter.
pub trait ToStatus {
    /// The converted value.
    type Out;
    /// `self` with its error mapped by [`status`].
    fn to_status(self) -> Self::Out;
}

impl ToStatus for Error {
    type Out = Status;
    fn to_status(self) -> Status {
        status(self)
    }
}

impl<T> ToStatus for Result<T> {
    type Out = Result<T, Status>;
    fn to_status(self) -> Result<T, Status> {
        self.map_err(status)
    }
}
