//! The cluster's errors. [`ClusterError`] is the one type at the crate's
//! boundary (the server maps it to HTTP once, at its edge) and also what a
//! leader answers a forwarding follower, so it travels between nodes. What
//! matters to a caller is whether the request can have been applied:
//! [`ClusterError::certainly_not_applied`] tells.
//!
//! [`StartError`] is what keeps a node from starting.

use serde::{Deserialize, Serialize};

use crate::types::NodeId;

/// Why a request was not carried out. The variants and their order are part
/// of the inter-node wire format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ClusterError {
    /// No leader took the request: none is known or reachable, or the node
    /// asked does not lead (with a hint of who does). Nothing was applied.
    #[error("no leader is available (leader hint: {0:?}); nothing was applied")]
    NotLeader(Option<NodeId>),
    /// The entry was stamped in a term that ended before it was applied;
    /// the state machine refused it. Nothing was applied.
    #[error("leadership changed while the request was in flight; nothing was applied")]
    LeadershipChanged,
    /// The request did not finish in time; it may or may not have been
    /// applied.
    #[error("the request did not finish in time; it may or may not have been applied")]
    Timeout,
    /// The node cannot serve (its storage failed, it is stopping, an
    /// exchange with the leader broke): a write may or may not have been
    /// applied.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The API key the request was made with is not in force at the
    /// request's linearization point (revoked, expired or unknown there).
    /// Nothing was applied.
    #[error("the API key is not in force: {0}")]
    KeyNotInForce(idem_core::NotAuthenticated),
}

impl ClusterError {
    /// Whether the request certainly had no effect, so that trying it again
    /// anywhere is safe. Otherwise (a timeout, a broken exchange) it may
    /// have been applied, and only an idempotent retry (the same key and
    /// token) is safe.
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            ClusterError::NotLeader(_)
            | ClusterError::LeadershipChanged
            | ClusterError::KeyNotInForce(_) => true,
            ClusterError::Timeout | ClusterError::Unavailable(_) => false,
        }
    }

    /// An error of an openraft call made as leader (a write, a quorum
    /// check, a membership change): "not the leader" with openraft's hint
    /// when it says so (openraft answers that only for a write it did not
    /// keep: refused at once, or truncated from the log), otherwise
    /// unavailable.
    pub(crate) fn from_raft<E>(e: openraft::error::RaftError<crate::types::IdemTypes, E>) -> Self
    where
        E: openraft::TryAsRef<openraft::error::ForwardToLeader<crate::types::IdemTypes>>
            + std::error::Error,
    {
        match e.forward_to_leader() {
            Some(f) => ClusterError::NotLeader(f.leader_id),
            None => ClusterError::Unavailable(e.to_string()),
        }
    }
}

/// A read of this node's own state failed: unavailable (a client may try
/// again).
impl From<idem_store::StoreError> for ClusterError {
    fn from(e: idem_store::StoreError) -> Self {
        ClusterError::Unavailable(e.to_string())
    }
}

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be opened, or is corrupt.
    #[error("storage: {0}")]
    Store(#[from] idem_store::StoreError),
    /// The configuration, the listener or Raft refused.
    #[error("{0}")]
    Refused(String),
}
