//! A layer in front of every gRPC service of a node: requests whose content type is not
//! `application/grpc…` are answered with HTTP 415 (Unsupported Media Type), as the gRPC over
//! HTTP/2 protocol asks of servers, instead of being decoded as gRPC; and a call whose method
//! takes one request message but whose body carries more is refused (INVALID_ARGUMENT) before
//! its handler runs — the gRPC runtime would apply the first and drop the rest silently.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;

use tonic::codegen::{Body, Service, http};

/// Most body frames of a refused request read before answering (reading a small body to its
/// end lets the client see a clean answer instead of a stream reset racing its upload; HTTP/2
/// flow control keeps each frame to the stream window).
const MAX_DRAIN_FRAMES: usize = 16;
/// Longest wait for a refused request's body.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The layer (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcOnlyLayer;

impl<S> tower_layer::Layer<S> for GrpcOnlyLayer {
    type Service = GrpcOnly<S>;
    fn layer(&self, inner: S) -> GrpcOnly<S> {
        GrpcOnly { inner }
    }
}

/// The service [`GrpcOnlyLayer`] wraps around the node's router.
#[derive(Clone, Debug)]
pub struct GrpcOnly<S> {
    inner: S,
}

/// Does a request carry a gRPC content type?
pub fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Read and drop up to [`MAX_DRAIN_FRAMES`] frames of `body`.
async fn drain<B: Body + Unpin>(mut body: B) {
    for _ in 0..MAX_DRAIN_FRAMES {
        match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(_)) => {}
            _ => return,
        }
    }
}

/// Methods whose request is a stream (every other method takes exactly one message).
const STREAMING_REQUESTS: &[&str] = &[
    "/meridian.v1.Replication/Pull",
    "/meridian.v1.Replication/Strong",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// A request body, passed through, or checked to hold at most one length-prefixed message.
pub struct RequestBody<B> {
    inner: B,
    /// `None`: a streaming method, passed through.
    count: Option<MessageCount>,
}

/// Where the body is in the gRPC framing: 5-byte header (flag, u32 length), then the message.
#[derive(Default)]
struct MessageCount {
    header: usize,
    length: [u8; 4],
    remaining: u64,
    messages: u32,
}

impl MessageCount {
    /// Walk `data`; `false` once a second message begins.
    fn feed(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = (self.remaining as usize).min(data.len());
                self.remaining -= n as u64;
                data = &data[n..];
                continue;
            }
            if self.header == 0 {
                self.messages += 1;
                if self.messages > 1 {
                    return false;
                }
            }
            if self.header > 0 {
                self.length[self.header - 1] = data[0];
            }
            self.header += 1;
            data = &data[1..];
            if self.header == 5 {
                self.header = 0;
                self.remaining = u64::from(u32::from_be_bytes(self.length));
            }
        }
        true
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = Bytes;
    type Error = tonic::codegen::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(count), Some(data)) = (this.count.as_mut(), frame.data_ref())
                    && !count.feed(data)
                {
                    return Poll::Ready(Some(Err(Box::new(tonic::Status::invalid_argument(
                        "this method takes exactly one request message; the call carried more",
                    )))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<S, B> Service<http::Request<B>> for GrpcOnly<S>
where
    S: Service<http::Request<RequestBody<B>>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if !is_grpc(req.headers()) {
            return Box::pin(async move {
                // Bounded in time too: a body that never ends does not hold the answer back.
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain(req.into_body())).await;
                let mut refused = http::Response::new(tonic::body::Body::default());
                *refused.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
                Ok(refused)
            });
        }
        let streaming = STREAMING_REQUESTS.contains(&req.uri().path());
        let req = req.map(|inner| RequestBody {
            inner,
            count: (!streaming).then(MessageCount::default),
        });
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32) -> Vec<u8> {
        let mut f = vec![0u8];
        f.extend(len.to_be_bytes());
        f.extend(std::iter::repeat_n(7u8, len as usize));
        f
    }

    #[test]
    fn one_message_in_any_chunking_passes_and_a_second_is_caught() {
        let one = frame(300);
        for split in [1, 3, 5, 6, 200, 305] {
            let mut c = MessageCount::default();
            assert!(
                one.chunks(split).all(|chunk| c.feed(chunk)),
                "split {split}"
            );
        }
        let mut two = frame(10);
        two.extend(frame(0));
        for split in [1, 4, 15, 16] {
            let mut c = MessageCount::default();
            assert!(
                !two.chunks(split).all(|chunk| c.feed(chunk)),
                "split {split}"
            );
        }
        let mut empty = MessageCount::default();
        assert!(empty.feed(&frame(0)), "an empty message is one message");
    }
}
