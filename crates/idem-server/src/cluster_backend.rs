//! The real cluster behind the HTTP API.

use idem_cluster::{ClusterError, ClusterNode, MembershipChange, NodeAddr, ReadReply, ReadRequest};
use idem_core::{Command, KeyId, Namespace, NamespacePolicy, Outcome};

use crate::backend::{
    Backend, BackendError, ClusterStatus, MemberChange, MemberStatus, RecordRead,
};

#[derive(Clone)]
pub struct ClusterBackend {
    node: ClusterNode,
}

impl ClusterBackend {
    pub fn new(node: ClusterNode) -> Self {
        ClusterBackend { node }
    }

    pub fn node(&self) -> &ClusterNode {
        &self.node
    }
}

fn backend_error(e: ClusterError) -> BackendError {
    match e {
        ClusterError::NoLeader => BackendError::NoLeader,
        ClusterError::Timeout => BackendError::Timeout,
        ClusterError::LeadershipChanged => BackendError::LeadershipChanged,
        other => BackendError::Unavailable(other.to_string()),
    }
}

fn unexpected(reply: ReadReply) -> BackendError {
    BackendError::Unavailable(format!("unexpected read reply {reply:?}"))
}

impl Backend for ClusterBackend {
    async fn execute(&self, command: Command) -> Result<Outcome, BackendError> {
        self.node.execute(command).await.map_err(backend_error)
    }

    async fn read_record(&self, id: KeyId) -> Result<RecordRead, BackendError> {
        match self
            .node
            .read(ReadRequest::Record(id))
            .await
            .map_err(backend_error)?
        {
            ReadReply::Record { record, now } => Ok(RecordRead { record, now }),
            other => Err(unexpected(other)),
        }
    }

    async fn namespace_policy(&self, ns: Namespace) -> Result<NamespacePolicy, BackendError> {
        match self
            .node
            .read(ReadRequest::Policy(ns))
            .await
            .map_err(backend_error)?
        {
            ReadReply::Policy(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    async fn cluster_status(&self) -> ClusterStatus {
        let s = self.node.status();
        ClusterStatus {
            node_id: s.id,
            state: s.state,
            leader: s.leader,
            term: s.term,
            last_log_index: s.last_log_index,
            commit_index: s.commit_index,
            last_applied_index: s.last_applied_index,
            snapshot_index: s.snapshot_index,
            purged_index: s.purged_index,
            log_appends: s.log_appends,
            log_syncs: s.log_syncs,
            members: s
                .members
                .into_iter()
                .map(|m| MemberStatus {
                    id: m.id,
                    raft_addr: m.addr.raft,
                    http_addr: m.addr.http,
                    matched_index: m.matched_index,
                    voter: m.voter,
                    lag: m.lag,
                    clock_offset_ms: m.clock_offset_ms,
                })
                .collect(),
        }
    }

    async fn change_membership(&self, change: MemberChange) -> Result<(), BackendError> {
        let change = match change {
            MemberChange::Add {
                id,
                raft_addr,
                http_addr,
            } => MembershipChange::Add {
                id,
                addr: NodeAddr {
                    raft: raft_addr,
                    http: http_addr,
                },
            },
            MemberChange::Remove { id } => MembershipChange::Remove { id },
        };
        self.node
            .change_membership(change)
            .await
            .map_err(backend_error)
    }

    async fn is_ready(&self) -> bool {
        self.node.is_ready()
    }
}
