//! What the HTTP API needs from the cluster, as a trait so that the API can
//! be tested against an in-memory backend and served by the real cluster.

use std::future::Future;
use std::time::Duration;

use idem_core::{
    ApiKeyId, ApiKeyRecord, AuthSecret, Command, KeyId, Namespace, NamespacePolicy, NamespaceQuota,
    NamespaceUsage, Outcome, Record, Reserve, Stamp,
};

/// The cluster's own types: its one error type (whether a failed request
/// can have been applied), its status, a membership change.
pub use idem_cluster::{ClusterError, ClusterStatus, MemberStatus, MembershipChange};

/// A record as a linearizable read saw it, with the time of the read.
#[derive(Debug, Clone)]
pub struct RecordRead {
    /// `None`: absent or forgotten.
    pub record: Option<Record>,
    /// The leader's time when it read: expiry shown to the client is judged
    /// at this stamp.
    pub now: Stamp,
}

/// What authenticating an API key needs: the key's record and the cluster's
/// auth secret, as one node's state held them at `now_ms` (cluster time).
#[derive(Debug, Clone)]
pub struct AuthView {
    pub key: Option<ApiKeyRecord>,
    pub secret: Option<AuthSecret>,
    pub now_ms: u64,
}

/// How current an [`AuthView`] must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// This node's own state, as far as it has applied: no round trip, but
    /// it may not have applied a key created or revoked just now.
    Local,
    /// A linearizable read: everything acknowledged before it is seen.
    Linearizable,
}

/// The cluster's auth secret (`None` until the bootstrap is applied) and
/// the cluster time, as fresh as asked: an [`AuthView`] of any key id, of
/// which only the secret and the time are wanted.
pub async fn auth_secret<B: Backend>(
    backend: &B,
    freshness: Freshness,
) -> Result<(Option<AuthSecret>, u64), ClusterError> {
    let view = backend
        .auth_view(ApiKeyId::from_bytes([0; 8]), freshness)
        .await?;
    Ok((view.secret, view.now_ms))
}

/// The cluster as the HTTP API sees it. Every method is linearizable: a
/// follower forwards to the leader itself.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Proposes a command through the log and returns its outcome once it is
    /// committed (fsynced on a majority) and applied.
    fn execute(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<Outcome, ClusterError>> + Send;

    /// Linearizable read of one record, made with API key `by` (refused
    /// unless the key is in force at the read's linearization point).
    fn read_record(
        &self,
        id: KeyId,
        by: Option<ApiKeyId>,
    ) -> impl Future<Output = Result<RecordRead, ClusterError>> + Send;

    /// Linearizable read of a namespace's policy (the cluster defaults for a
    /// namespace never configured), made with API key `by`.
    fn namespace_policy(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> impl Future<Output = Result<NamespacePolicy, ClusterError>> + Send;

    /// Linearizable read of a namespace's quota and what it holds, made with
    /// API key `by`.
    fn namespace_quota(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> impl Future<Output = Result<(NamespaceQuota, NamespaceUsage), ClusterError>> + Send;

    /// The namespace's quota as this node has applied it (for the request
    /// rate, which each node enforces on what it serves).
    fn local_quota(&self, ns: &Namespace) -> Result<NamespaceQuota, ClusterError>;

    /// The state authenticating API key `id` needs, as fresh as asked.
    fn auth_view(
        &self,
        id: ApiKeyId,
        freshness: Freshness,
    ) -> impl Future<Output = Result<AuthView, ClusterError>> + Send;

    /// Linearizable read of every API key, revoked ones too.
    fn api_keys(&self) -> impl Future<Output = Result<Vec<ApiKeyRecord>, ClusterError>> + Send;

    /// Where this node stands in the cluster.
    fn cluster_status(&self) -> impl Future<Output = ClusterStatus> + Send;

    /// Changes the membership; returns once the new configuration is
    /// committed.
    fn change_membership(
        &self,
        change: MembershipChange,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Whether this node can serve requests now (a leader is known and this
    /// node has caught up).
    fn is_ready(&self) -> impl Future<Output = bool> + Send;

    /// A reserve that, while another attempt has the key in progress, waits
    /// up to `wait` for the answer to change: the replay, a grant, or (when
    /// the time is up, or the node cannot hold another waiter) the 409 of
    /// that moment (`idem_cluster::waiting`).
    fn reserve_waiting(
        &self,
        command: Reserve,
        by: Option<ApiKeyId>,
        wait: Duration,
    ) -> impl Future<Output = Result<Outcome, ClusterError>> + Send;
}
