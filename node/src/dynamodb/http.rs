//! The DynamoDB endpoint's HTTP server: `POST /` with `X-Amz-Target: DynamoDB_20120810.Op` and
//! an `application/x-amz-json-1.0` body, answered with the operation's JSON (or DynamoDB's
//! error shape: HTTP 400/500, `__type`, `message`) and the `x-amzn-RequestId` and `x-amz-crc32`
//! headers the SDKs read.
//!
//! Signatures are not verified (as DynamoDB Local and dynalite do not): any well-formed SigV4
//! `Authorization` header is accepted, but its credential scope must name this node's region —
//! a client configured for another region is refused with a message naming both. An Aurora
//! Global secondary with write forwarding on passes write operations to the primary. In a
//! strong cluster every operation runs as [`strong`] says.

use std::net::SocketAddr;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use meridian_dynamo::{DynamoError, ErrorKind, ops};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{
    forward::{self, FORWARDED_HEADER},
    strong,
    txn::{ReplicaTxn, dynamo_error},
};
use crate::{service::Node, state::NodeState};
use meridian_core::replica::Mode;

/// Largest request body, bytes (DynamoDB's own limit is 16 MB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The target prefix of every operation.
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// Serve the endpoint on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    node: Node,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(node);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// The region a SigV4 `Authorization` header's credential scope names.
fn signed_region(auth: &str) -> Result<&str, DynamoError> {
    let malformed = || {
        DynamoError::new(
            ErrorKind::InvalidSignature,
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters of AWS4-HMAC-SHA256",
        )
    };
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(malformed)?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))
        .ok_or_else(malformed)?;
    if !rest.contains("Signature=") || !rest.contains("SignedHeaders=") {
        return Err(malformed());
    }
    // AKID/DATE/REGION/SERVICE/aws4_request
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [_, _, region, _, "aws4_request"] if !region.is_empty() => Ok(region),
        _ => Err(malformed()),
    }
}

fn check_auth(headers: &HeaderMap, region: &str) -> Result<(), DynamoError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(DynamoError::new(
            ErrorKind::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        ));
    };
    let auth = auth.to_str().map_err(|_| {
        DynamoError::new(
            ErrorKind::InvalidSignature,
            "The Authorization header is not ASCII",
        )
    })?;
    let signed = signed_region(auth)?;
    if signed != region {
        return Err(DynamoError::new(
            ErrorKind::InvalidSignature,
            format!(
                "Credential should be scoped to a valid region: this endpoint is region {region}, the request was signed for region {}",
                meridian_dynamo::value::excerpt(signed)
            ),
        ));
    }
    Ok(())
}

async fn handle(State(node): State<Node>, headers: HeaderMap, body: Bytes) -> Response {
    match execute(&node, &headers, &body).await {
        Ok(Reply::Json(v)) => reply(StatusCode::OK, &v),
        Ok(Reply::Forwarded(status, bytes)) => raw_reply(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            bytes,
        ),
        Err(e) => reply(
            StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body(),
        ),
    }
}

/// What a request is answered with.
enum Reply {
    /// This node's own reply.
    Json(Value),
    /// The primary's reply to a forwarded write: status and body, passed on unchanged.
    Forwarded(u16, Vec<u8>),
}

/// The primary's name and endpoint when this node is an Aurora Global secondary that forwards
/// writes (and the request was not forwarded to it already).
fn forward_to(state: &NodeState, headers: &HeaderMap) -> Option<(String, SocketAddr)> {
    if !state.opts.cluster.write_forwarding || headers.contains_key(FORWARDED_HEADER) {
        return None;
    }
    let primary = {
        let replica = state.replica();
        let role = replica.role();
        role.primary
            .filter(|p| role.mode == Mode::AuroraGlobal && *p != state.region)?
    };
    let name = state.regions.name(primary).to_owned();
    let addr = state.opts.cluster.region(&name)?.dynamodb?;
    Some((name, addr))
}

async fn execute(node: &Node, headers: &HeaderMap, body: &[u8]) -> Result<Reply, DynamoError> {
    let state = &node.state;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
        return Err(DynamoError::new(
            ErrorKind::UnknownOperation,
            if target.is_empty() {
                "Missing the X-Amz-Target header: expected DynamoDB_20120810.<Operation>".to_owned()
            } else {
                format!(
                    "Unknown operation {}: expected DynamoDB_20120810.<Operation>",
                    meridian_dynamo::value::excerpt(target)
                )
            },
        ));
    };
    check_auth(headers, state.region_name())?;
    if ops::is_write(op)
        && let Some((primary, addr)) = forward_to(state, headers)
    {
        let (status, bytes) =
            forward::forward(addr, &primary, state.region_name(), target, body).await?;
        state.count_forwarded();
        return Ok(Reply::Forwarded(status, bytes));
    }
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        DynamoError::serialization(format!("The request body is not valid JSON: {e}"))
    })?;
    let witness = state
        .opts
        .cluster
        .regions
        .iter()
        .find(|r| r.witness)
        .map(|r| r.name.as_str());
    let ctx = ops::Context {
        region: state.region_name(),
        regions: state.regions.names(),
        now_s: meridian_core::clock::now_us() as f64 / 1e6,
        strong: state.strong.is_some(),
        witness,
    };
    if state.strong.is_some() {
        return strong::execute(node, op, &body, &ctx)
            .await
            .map(Reply::Json);
    }
    state
        .transact(|writer| ops::run(op, &body, &ctx, &mut ReplicaTxn { writer }))
        .await
        .map_err(dynamo_error)?
        .map(Reply::Json)
}

fn reply(status: StatusCode, body: &Value) -> Response {
    raw_reply(
        status,
        serde_json::to_vec(body).expect("JSON values encode"),
    )
}

fn raw_reply(status: StatusCode, bytes: Vec<u8>) -> Response {
    let crc = crc32fast::hash(&bytes);
    let mut r = (status, bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()) {
        h.insert("x-amzn-requestid", v);
    }
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    r
}
