//! A lean HTTP/1.1 client for the DynamoDB figures: one keep-alive connection per task, a
//! request written in one piece, a reply read by its `Content-Length`. No signing (the
//! endpoints under test do not verify signatures; the header only carries the region), no
//! JSON parsing of replies beyond the status line: the client's own cost stays small and equal
//! for every server it is pointed at.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Status;

/// One keep-alive connection to a DynamoDB endpoint.
pub struct Connection {
    addr: SocketAddr,
    region: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// A connection (opened at the first request) to `addr`, signing for `region`.
    pub fn new(addr: SocketAddr, region: &str) -> Self {
        Self {
            addr,
            region: region.to_owned(),
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Send operation `op` with `body`; the reply's status and body.
    pub async fn call(&mut self, op: &str, body: &[u8]) -> Result<(u16, Vec<u8>), Status> {
        let io = |e: std::io::Error| Status::unavailable(e.to_string());
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await.map_err(io)?;
            s.set_nodelay(true).map_err(io)?;
            self.stream = Some(s);
        }
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.{op}\r\nX-Amz-Date: 20261201T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=bench/20261201/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.region,
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        let result = self.exchange(&req).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, req: &[u8]) -> Result<(u16, Vec<u8>), Status> {
        let io = |e: std::io::Error| Status::unavailable(e.to_string());
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(req).await.map_err(io)?;
        self.buf.clear();
        let (status, body_start, len) = loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                return Err(Status::unavailable("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .map_err(|_| Status::internal("reply head is not UTF-8"))?;
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Status::internal("no status line"))?;
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| Status::internal("no Content-Length"))?;
                break (status, end + 4, len);
            }
        };
        while self.buf.len() < body_start + len {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                return Err(Status::unavailable("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[body_start..body_start + len].to_vec()))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
