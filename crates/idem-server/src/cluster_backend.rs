//! The real cluster behind the HTTP API.

use idem_cluster::{ClusterNode, ReadReply, ReadRequest};
use std::time::Duration;

use idem_core::{Command, KeyId, Namespace, NamespacePolicy, Outcome, Reserve};

use crate::backend::{Backend, ClusterError, ClusterStatus, MembershipChange, RecordRead};

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

fn unexpected(reply: ReadReply) -> ClusterError {
    ClusterError::Unavailable(format!("unexpected read reply {reply:?}"))
}

impl Backend for ClusterBackend {
    async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        self.node.execute(command).await
    }

    async fn read_record(&self, id: KeyId) -> Result<RecordRead, ClusterError> {
        match self.node.read(ReadRequest::Record(id)).await? {
            ReadReply::Record { record, now } => Ok(RecordRead { record, now }),
            other => Err(unexpected(other)),
        }
    }

    async fn namespace_policy(&self, ns: Namespace) -> Result<NamespacePolicy, ClusterError> {
        match self.node.read(ReadRequest::Policy(ns)).await? {
            ReadReply::Policy(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    async fn cluster_status(&self) -> ClusterStatus {
        self.node.status()
    }

    async fn change_membership(&self, change: MembershipChange) -> Result<(), ClusterError> {
        self.node.change_membership(change).await
    }

    async fn is_ready(&self) -> bool {
        self.node.is_ready()
    }

    async fn reserve_waiting(
        &self,
        command: Reserve,
        wait: Duration,
    ) -> Result<Outcome, ClusterError> {
        self.node.reserve_waiting(command, wait).await
    }
}
