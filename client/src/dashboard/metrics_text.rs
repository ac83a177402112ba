//! Reads per region, from the node's Prometheus page (`meridian_requests_total` with
//! `method="get"`, summed over status codes): the one figure the dashboard needs that
//! `Admin/Status` does not carry. A plain HTTP/1.0 GET on loopback, bounded in time and size,
//! and a parser for the lines it needs.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::error::{Result, bail};

/// Largest metrics page read.
const MAX_PAGE_BYTES: u64 = 4 * 1024 * 1024;

/// The reads a node served since it started, from its metrics page (None: the page has no
/// such series).
pub fn reads_total(page: &str) -> Option<u64> {
    let mut found = false;
    let mut total = 0u64;
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("meridian_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        if !labels.split(',').any(|l| l.trim() == "method=\"get\"") {
            continue;
        }
        if let Ok(v) = value.trim().parse::<f64>() {
            found = true;
            total += v as u64;
        }
    }
    found.then_some(total)
}

/// `GET /metrics` at `addr`, within `timeout`.
pub async fn fetch(addr: SocketAddr, timeout: Duration) -> Result<String> {
    let get = async {
        let mut stream = TcpStream::connect(addr).await?;
        let req = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let mut body = Vec::new();
        stream.take(MAX_PAGE_BYTES).read_to_end(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    let bytes = match tokio::time::timeout(timeout, get).await {
        Ok(r) => r?,
        Err(_) => bail!("metrics at {addr}: no answer within {timeout:?}"),
    };
    let text = String::from_utf8_lossy(&bytes);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_owned())
        }
        _ => bail!("metrics at {addr}: not a 200 answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_the_get_requests_of_every_status_code() {
        let page = "# HELP meridian_requests Client requests\n\
            # TYPE meridian_requests counter\n\
            meridian_requests_total{region=\"a\",method=\"put\",code=\"OK\"} 7\n\
            meridian_requests_total{region=\"a\",method=\"get\",code=\"OK\"} 40\n\
            meridian_requests_total{region=\"a\",method=\"get\",code=\"NotFound\"} 2\n\
            meridian_writes_local_total{region=\"a\"} 7\n";
        assert_eq!(reads_total(page), Some(42));
        assert_eq!(reads_total("meridian_items{region=\"a\"} 3\n"), None);
    }
}
