//! A layer in front of every gRPC service of a node: requests whose content type is not
//! `application/grpc…` are answered with HTTP 415 (Unsupported Media Type), as the gRPC over
//! HTTP/2 protocol asks of servers, instead of being decoded as gRPC.

use std::task::{Context, Poll};

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

impl<S, B> Service<http::Request<B>> for GrpcOnly<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + Send + Unpin + 'static,
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
        Box::pin(self.inner.call(req))
    }
}
