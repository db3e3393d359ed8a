//! How a node reaches its peers: one call, one answer. In production that
//! is [`crate::TcpTransport`] (pooled TCP connections carrying bincode
//! frames); an in-process test supplies a transport of its own that
//! delivers, drops, delays or cuts messages as the test says, and hands
//! each delivered request to the receiving node's
//! [`crate::ClusterNode::serve_peer`].

use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::ClusterError;
use crate::rpc::{Request, Response};
use crate::types::NodeAddr;
use crate::wire::WireError;

/// Why a call got no answer. Only [`CallError::Unreachable`] means the
/// request was certainly not delivered; after the other two it may have
/// been, and acted on.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("peer {addr} unreachable: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("peer {addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("peer {addr}: {source}")]
    Wire { addr: String, source: WireError },
}

/// Carries requests to peers, addressed by their inter-node address.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` to the peer at `to` and waits for its answer, within
    /// `timeout` overall. `repeatable`: the request is safe to deliver twice
    /// (Raft's own RPCs, reads, probes; not forwarded commands), so the
    /// transport may resend it once on a connection that turned out dead.
    fn call<'a>(
        &'a self,
        to: &'a str,
        request: &'a Request,
        timeout: Duration,
        repeatable: bool,
    ) -> BoxFuture<'a, Result<Response, CallError>>;
}

/// Picks the expected answer out of a leader's response, or hands back a
/// response of another kind.
pub(crate) type PickAnswer<T> = fn(Response) -> Result<Result<T, ClusterError>, Box<Response>>;

/// Sends `request` to the leader at `to`. Only a leader that could not be
/// reached at all (nothing was sent) is reported as
/// [`ClusterError::NotLeader`], which callers may retry; a broken or
/// timed-out exchange may have been acted on.
pub(crate) async fn call_leader(
    transport: &dyn Transport,
    request: &Request,
    to: &NodeAddr,
    repeatable: bool,
    timeout: Duration,
) -> Result<Response, ClusterError> {
    match transport.call(&to.raft, request, timeout, repeatable).await {
        Ok(response) => Ok(response),
        Err(CallError::Unreachable { .. }) => Err(ClusterError::NotLeader(None)),
        Err(CallError::Timeout { .. }) => Err(ClusterError::Timeout),
        Err(e) => Err(ClusterError::Unavailable(e.to_string())),
    }
}

/// Sends one request to the leader at `to` and picks the expected answer
/// out of its response (`answer` hands any other response back).
pub(crate) async fn ask_leader<T>(
    transport: &dyn Transport,
    request: Request,
    to: &NodeAddr,
    repeatable: bool,
    timeout: Duration,
    answer: PickAnswer<T>,
) -> Result<T, ClusterError> {
    let response = call_leader(transport, &request, to, repeatable, timeout).await?;
    answer(response).unwrap_or_else(|other| {
        Err(ClusterError::Unavailable(format!(
            "unexpected answer {other:?}"
        )))
    })
}
