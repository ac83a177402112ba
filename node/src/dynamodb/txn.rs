//! One DynamoDB request's view of the region's replica, under its lock: reads of the local copy,
//! writes that are this region's writes (logged, replicated, settled by last-writer-wins).

use std::sync::Arc;

use meridian_core::{replica::WriteOp, store::Store};
use meridian_dynamo::{DynamoError, ErrorKind, ops::Txn};

use crate::{error::Error, state::Writer};

/// The replica as a DynamoDB operation sees it.
pub struct ReplicaTxn<'w, 'a> {
    /// The request's writer.
    pub writer: &'w mut Writer<'a>,
}

/// A refusal of the replica as a DynamoDB error. An Aurora Global secondary's refusal names the
/// primary; a pause or an RPO bound is a retryable 503.
pub fn dynamo_error(e: Error) -> DynamoError {
    let message = e.to_string();
    match e {
        Error::InvalidArgument(_)
        | Error::ConditionFailed(_)
        | Error::NotPrimary { .. }
        | Error::FailedPrecondition(_) => DynamoError::validation(message),
        Error::Frozen(_) | Error::Unavailable(_) | Error::RpoBound { .. } => {
            DynamoError::new(ErrorKind::ServiceUnavailable, message)
        }
        Error::Unauthenticated | Error::PeerUnauthenticated => {
            DynamoError::new(ErrorKind::MissingAuthenticationToken, message)
        }
        Error::WriteConflict(_) => DynamoError::new(ErrorKind::ReplicatedWriteConflict, message),
        Error::DataLoss(_) | Error::Internal(_) => {
            DynamoError::new(ErrorKind::InternalServerError, message)
        }
    }
}

/// Every live `(key, value)` of `store` under `prefix` (a [`Txn::scan`]).
pub fn scan_store(store: &Store, prefix: &str) -> Vec<(String, Arc<[u8]>)> {
    store
        .iter()
        .filter(|w| w.key().starts_with(prefix))
        .filter_map(|w| w.value().map(|v| (w.key().to_owned(), Arc::from(v))))
        .collect()
}

impl Txn for ReplicaTxn<'_, '_> {
    fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        self.writer
            .replica()
            .store()
            .get(key)
            .and_then(|w| w.value().map(Arc::from))
    }

    fn scan(&self, prefix: &str) -> Vec<(String, Arc<[u8]>)> {
        scan_store(self.writer.replica().store(), prefix)
    }

    fn put(&mut self, key: &str, value: Vec<u8>) -> Result<(), DynamoError> {
        self.writer
            .write(key, WriteOp::Put(Arc::from(value)))
            .map(|_| ())
            .map_err(dynamo_error)
    }

    fn delete(&mut self, key: &str) -> Result<(), DynamoError> {
        self.writer
            .write(key, WriteOp::Delete)
            .map(|_| ())
            .map_err(dynamo_error)
    }
}
