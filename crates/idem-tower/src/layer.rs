//! The tower face: `IdempotencyLayer` wraps any `tower` service whose
//! request and response bodies can be built from `Bytes` (axum's `Body`,
//! `http_body_util::Full`). Unguarded requests go through untouched and
//! unbuffered; guarded ones are read whole (to fingerprint), answered by
//! the [`Guard`], and their upstream is the wrapped service, called at most
//! once.

use std::fmt::Display;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::read_body;
use crate::guard::Guard;
use crate::metrics::GuardOutcome;
use crate::stored::UpstreamResponse;
use crate::upstream::UpstreamFailure;

/// Guards the wrapped service with idempotency keys.
#[derive(Clone)]
pub struct IdempotencyLayer {
    guard: Guard,
}

impl IdempotencyLayer {
    pub fn new(guard: Guard) -> Self {
        IdempotencyLayer { guard }
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            guard: self.guard.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct IdempotencyService<S> {
    guard: Guard,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqB, ResB> Service<Request<ReqB>> for IdempotencyService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Display + Send + 'static,
    ReqB: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    ReqB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResB: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    ResB::Error: Display,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        // The service that was made ready goes with this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        if !guard.config().guards(req.method()) {
            req.headers_mut().remove(&guard.config().token_header);
            guard.metrics.count(GuardOutcome::Bypassed);
            return Box::pin(inner.call(req));
        }
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match read_body(body, guard.config().max_request_bytes).await {
                Ok(b) => b,
                Err(why) => return Ok(into_body(guard.refuse(&why))),
            };
            let req = Request::from_parts(parts, body);
            let upstream = move |req: Request<Bytes>| async move {
                let (parts, body) = req.into_parts();
                let req = Request::from_parts(parts, ReqB::from(body));
                poll_fn(|cx| inner.poll_ready(cx))
                    .await
                    .map_err(|e| UpstreamFailure::NotSent(e.to_string()))?;
                let response = inner
                    .call(req)
                    .await
                    .map_err(|e| UpstreamFailure::MaybeSent(e.to_string()))?;
                let (parts, body) = response.into_parts();
                let body = body
                    .collect()
                    .await
                    .map_err(|e| UpstreamFailure::MaybeSent(format!("reading the answer: {e}")))?
                    .to_bytes();
                Ok(UpstreamResponse {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                })
            };
            Ok(into_body(guard.handle(req, upstream).await))
        })
    }
}

fn into_body<B: From<Bytes>>(r: Response<Bytes>) -> Response<B> {
    r.map(B::from)
}
