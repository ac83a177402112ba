//! A layer in front of every gRPC service of a node: requests whose content type is not
//! `application/grpc…` are answered with HTTP 415 (Unsupported Media Type), as the gRPC over
//! HTTP/2 protocol asks of servers, instead of being decoded as gRPC.

use std::task::{Context, Poll};

use tonic::codegen::{Service, http};

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

impl<S, B> Service<http::Request<B>> for GrpcOnly<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
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
            let mut refused = http::Response::new(tonic::body::Body::default());
            *refused.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Box::pin(async move { Ok(refused) });
        }
        Box::pin(self.inner.call(req))
    }
}
