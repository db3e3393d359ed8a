//! Cluster errors, typed; the HTTP edge maps them to status codes.

use idem_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no leader is available")]
    NoLeader,
    #[error("the request did not finish in time; it may or may not have been applied")]
    Timeout,
    #[error("leadership changed while the request was in flight; nothing was applied")]
    LeadershipChanged,
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("start-up: {0}")]
    Startup(String),
}
