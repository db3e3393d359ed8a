//! The upstream as the guard sees it: one call per request (an `FnOnce`,
//! so it is made at most once), and how it can fail, as the guard must
//! know it: whether the request left.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::Request;

use crate::stored::UpstreamResponse;

/// What the upstream call returns.
pub(crate) type UpstreamAnswer =
    Pin<Box<dyn Future<Output = Result<UpstreamResponse, UpstreamFailure>> + Send>>;

/// The upstream call for one request.
pub(crate) type Upstream = Box<dyn FnOnce(Request<Bytes>) -> UpstreamAnswer + Send>;

/// Why the upstream gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    /// The request never reached it (the connection was refused): nothing
    /// ran, a retry is safe.
    #[error("the upstream could not be reached: {0}")]
    NotSent(String),
    /// The request may have reached it (the connection broke, or no answer
    /// could be read): its outcome is unknown.
    #[error("the upstream's answer was lost: {0}")]
    MaybeSent(String),
}
