//! Aurora Global write forwarding on the DynamoDB endpoint: with `write_forwarding = true`, a
//! secondary passes a write request unchanged to the primary's endpoint (the credential scope
//! rewritten to the primary's region) and returns the primary's reply. The secondary sees the
//! write once it replicates back, after the link's lag. A forwarded request is never forwarded
//! again.

use std::{net::SocketAddr, time::Duration};

use meridian_dynamo::{DynamoError, ErrorKind};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Marks a request a secondary forwarded.
pub const FORWARDED_HEADER: &str = "x-meridian-forwarded-from";

/// Longest a forwarded request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest reply accepted from the primary, bytes.
const MAX_REPLY: usize = 64 * 1024 * 1024;

fn unavailable(primary: &str, why: impl std::fmt::Display) -> DynamoError {
    DynamoError::new(
        ErrorKind::ServiceUnavailable,
        format!("cannot forward the write to the primary {primary}: {why}"),
    )
}

/// Send `op` with `body` to the primary's endpoint at `addr`, as region `me`; its reply.
pub async fn forward(
    addr: SocketAddr,
    primary: &str,
    me: &str,
    target: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), DynamoError> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {target}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=meridian/20260101/{primary}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n{FORWARDED_HEADER}: {me}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut reply = Vec::new();
        (&mut s)
            .take(MAX_REPLY as u64)
            .read_to_end(&mut reply)
            .await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| unavailable(primary, format!("no reply within {TIMEOUT:?}")))?
        .map_err(|e| unavailable(primary, e))?;
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| unavailable(primary, "a malformed reply"))?;
    let status = std::str::from_utf8(&reply[..end])
        .ok()
        .and_then(|h| h.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unavailable(primary, "a reply without a status"))?;
    Ok((status, reply[end + 4..].to_vec()))
}
