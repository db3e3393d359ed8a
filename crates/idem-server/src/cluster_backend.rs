//! The real cluster behind the HTTP API.

use idem_cluster::{ClusterNode, ReadReply, ReadRequest};
use std::time::Duration;

use idem_core::{
    ApiKeyId, ApiKeyRecord, Command, KeyId, Namespace, NamespacePolicy, NamespaceQuota,
    NamespaceUsage, Outcome, Reserve,
};

use crate::backend::{
    AuthView, Backend, ClusterError, ClusterStatus, Freshness, MembershipChange, RecordRead,
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

fn unexpected(reply: ReadReply) -> ClusterError {
    ClusterError::Unavailable(format!("unexpected read reply {reply:?}"))
}

impl Backend for ClusterBackend {
    async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        self.node.execute(command).await
    }

    async fn read_record(
        &self,
        id: KeyId,
        by: Option<ApiKeyId>,
    ) -> Result<RecordRead, ClusterError> {
        match self.node.read(ReadRequest::Record(id), by.as_ref()).await? {
            ReadReply::Record { record, now } => Ok(RecordRead { record, now }),
            other => Err(unexpected(other)),
        }
    }

    async fn namespace_policy(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> Result<NamespacePolicy, ClusterError> {
        match self.node.read(ReadRequest::Policy(ns), by.as_ref()).await? {
            ReadReply::Policy(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    async fn namespace_quota(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> Result<(NamespaceQuota, NamespaceUsage), ClusterError> {
        match self.node.read(ReadRequest::Quota(ns), by.as_ref()).await? {
            ReadReply::Quota { quota, usage } => Ok((quota, usage)),
            other => Err(unexpected(other)),
        }
    }

    fn local_quota(&self, ns: &Namespace) -> Result<NamespaceQuota, ClusterError> {
        self.node.local_quota(ns)
    }

    async fn auth_view(
        &self,
        id: ApiKeyId,
        freshness: Freshness,
    ) -> Result<AuthView, ClusterError> {
        let (key, secret, now) = match freshness {
            Freshness::Local => self.node.local_auth(&id)?,
            Freshness::Linearizable => match self.node.read(ReadRequest::Auth(id), None).await? {
                ReadReply::Auth { key, secret, now } => (key, secret, now),
                other => return Err(unexpected(other)),
            },
        };
        Ok(AuthView {
            key,
            secret,
            now_ms: now.hlc.wall_ms,
        })
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, ClusterError> {
        match self.node.read(ReadRequest::ApiKeys, None).await? {
            ReadReply::ApiKeys(keys) => Ok(keys),
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
        by: Option<ApiKeyId>,
        wait: Duration,
    ) -> Result<Outcome, ClusterError> {
        self.node.reserve_waiting(command, by, wait).await
    }
}
