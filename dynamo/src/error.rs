//! DynamoDB's errors as the AWS SDKs parse them: an HTTP status, a `__type` naming the error
//! (`com.amazonaws.dynamodb.v20120810#ValidationException`) and a `message`, worded as DynamoDB
//! words it, so that code matching on them behaves as it would against AWS.

/// The kinds of error this endpoint answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A request that breaks a rule of the API (HTTP 400).
    Validation,
    /// A body that is not the JSON the operation expects (HTTP 400).
    Serialization,
    /// `X-Amz-Target` names no operation (HTTP 400).
    UnknownOperation,
    /// No table of that name (HTTP 400).
    ResourceNotFound,
    /// The table exists already, or is being deleted (HTTP 400).
    ResourceInUse,
    /// A `ConditionExpression` did not hold (HTTP 400).
    ConditionalCheckFailed,
    /// A transaction was cancelled; the reasons travel with it (HTTP 400).
    TransactionCanceled,
    /// Missing or malformed `Authorization` (HTTP 400).
    MissingAuthenticationToken,
    /// A signature that is not a SigV4 signature, or a scope naming another region (HTTP 400).
    InvalidSignature,
    /// The request's region cannot take it now (storage failed, writes paused) (HTTP 500/503).
    ServiceUnavailable,
    /// A bug or an internal failure (HTTP 500).
    InternalServerError,
    /// Multi-Region strong consistency: the item is being modified in another region
    /// (HTTP 400, retryable).
    ReplicatedWriteConflict,
}

impl ErrorKind {
    /// The name after the `#` of `__type`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::InternalServerError => "InternalServerError",
            ErrorKind::ReplicatedWriteConflict => "ReplicatedWriteConflictException",
        }
    }

    /// The `__type` prefix, as DynamoDB sends it: validation errors come from the service
    /// framework's validator, protocol errors from the framework itself (coral), the rest from
    /// DynamoDB.
    fn namespace(self) -> &'static str {
        match self {
            ErrorKind::Validation => "com.amazon.coral.validate#",
            ErrorKind::Serialization
            | ErrorKind::UnknownOperation
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::InvalidSignature
            | ErrorKind::ServiceUnavailable => "com.amazon.coral.service#",
            _ => "com.amazonaws.dynamodb.v20120810#",
        }
    }

    /// The HTTP status of the reply.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InternalServerError => 500,
            ErrorKind::ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

/// One error reply.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct DynamoError {
    /// What kind.
    pub kind: ErrorKind,
    /// The message, as DynamoDB words it.
    pub message: String,
    /// TransactionCanceledException: one reason per item of the transaction.
    pub cancellation_reasons: Vec<serde_json::Value>,
    /// ConditionalCheckFailedException with `ReturnValuesOnConditionCheckFailure: ALL_OLD`: the
    /// item as it was.
    pub item: Option<serde_json::Value>,
}

impl DynamoError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            cancellation_reasons: Vec::new(),
            item: None,
        }
    }

    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A SerializationException.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, message)
    }

    /// The ConditionalCheckFailedException of a failed `ConditionExpression`.
    pub fn conditional_check_failed() -> Self {
        Self::new(
            ErrorKind::ConditionalCheckFailed,
            "The conditional request failed",
        )
    }

    /// The full `__type`.
    pub fn type_name(&self) -> String {
        format!("{}{}", self.kind.namespace(), self.kind.name())
    }

    /// The JSON body of the reply.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "__type": self.type_name(),
            "message": self.message,
        });
        if let Some(item) = &self.item {
            body["Item"] = item.clone();
        }
        if !self.cancellation_reasons.is_empty() {
            body["CancellationReasons"] =
                serde_json::Value::Array(self.cancellation_reasons.clone());
        }
        body
    }
}

/// Result with DynamoDB's error.
pub type Result<T, E = DynamoError> = std::result::Result<T, E>;
