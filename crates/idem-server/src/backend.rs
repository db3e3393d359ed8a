//! What the HTTP API needs from the cluster, as a trait so that the API can
//! be tested against an in-memory backend and served by the real cluster.

use std::future::Future;

use idem_core::{Command, KeyId, Namespace, NamespacePolicy, Outcome, Record, Stamp};
use serde::Serialize;
use thiserror::Error;

/// A record as a linearizable read saw it, with the time of the read.
#[derive(Debug, Clone)]
pub struct RecordRead {
    /// `None`: absent or forgotten.
    pub record: Option<Record>,
    /// The leader's time when it read: expiry shown to the client is judged
    /// at this stamp.
    pub now: Stamp,
}

/// Why the cluster could not carry out a request. All of these are safe to
/// retry: nothing was applied, or the request was idempotent.
#[derive(Debug, Clone, Error)]
pub enum BackendError {
    /// No leader is known (an election is under way, or no majority).
    #[error("no leader is available; retry shortly")]
    NoLeader,
    /// The request did not finish in time; it may or may not have been
    /// applied (clients retry with the same key and token).
    #[error("the cluster did not answer in time; the request may or may not have been applied")]
    Timeout,
    /// The leader changed between stamping and committing, so the entry was
    /// refused by the state machine; nothing changed.
    #[error("leadership changed while the request was in flight; nothing was applied")]
    LeadershipChanged,
    /// The node is shutting down or its storage failed.
    #[error("this node cannot serve requests: {0}")]
    Unavailable(String),
}

/// Cluster status as `GET /v1/cluster` shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ClusterStatus {
    pub node_id: u64,
    pub state: String,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    /// The highest index replicated on a majority (known on the leader).
    pub commit_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    /// Index covered by the latest snapshot.
    pub snapshot_index: Option<u64>,
    /// The log is compacted (purged) up to this index.
    pub purged_index: Option<u64>,
    /// Log appends acknowledged since start, and the WAL syncs that made
    /// them durable (group commit: one sync can cover several appends).
    pub log_appends: u64,
    pub log_syncs: u64,
    pub members: Vec<MemberStatus>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MemberStatus {
    pub id: u64,
    pub raft_addr: String,
    pub http_addr: String,
    /// Index of the last entry known to be replicated to this member (leader
    /// only).
    pub matched_index: Option<u64>,
    /// Whether the member votes (false: a learner still catching up).
    pub voter: bool,
    /// Entries this member is behind the leader's log (leader only).
    pub lag: Option<u64>,
    /// Measured wall-clock offset of this member relative to this node, in
    /// milliseconds (positive: the member's clock is ahead).
    pub clock_offset_ms: Option<i64>,
}

/// A change to the cluster's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Add a node: it joins as a learner and becomes a voter once caught up.
    Add {
        id: u64,
        raft_addr: String,
        http_addr: String,
    },
    /// Remove a node from the cluster.
    Remove { id: u64 },
}

/// The cluster as the HTTP API sees it. Every method is linearizable: a
/// follower forwards to the leader itself.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Proposes a command through the log and returns its outcome once it is
    /// committed (fsynced on a majority) and applied.
    fn execute(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<Outcome, BackendError>> + Send;

    /// Linearizable read of one record.
    fn read_record(
        &self,
        id: KeyId,
    ) -> impl Future<Output = Result<RecordRead, BackendError>> + Send;

    /// Linearizable read of a namespace's policy (the cluster defaults for a
    /// namespace never configured).
    fn namespace_policy(
        &self,
        ns: Namespace,
    ) -> impl Future<Output = Result<NamespacePolicy, BackendError>> + Send;

    /// Where this node stands in the cluster.
    fn cluster_status(&self) -> impl Future<Output = ClusterStatus> + Send;

    /// Changes the membership; returns once the new configuration is
    /// committed.
    fn change_membership(
        &self,
        change: MemberChange,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Whether this node can serve requests now (a leader is known and this
    /// node has caught up).
    fn is_ready(&self) -> impl Future<Output = bool> + Send;
}
