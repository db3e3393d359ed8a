//! Membership changes: add a node (as a learner first, promoted to voter
//! once it has caught up) and remove one. Carried out by the leader; any
//! node forwards.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::node::ClusterNode;
use crate::rpc::{ForwardError, Request, Response};
use crate::types::{NodeAddr, NodeId};

/// How long adding a node may take (it may need a snapshot).
pub const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// Entries a learner may still lag behind when it is promoted.
const PROMOTE_WITHIN: u64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add `id` at `addr`: a learner first, a voter once caught up.
    Add { id: NodeId, addr: NodeAddr },
    /// Remove `id` from the cluster.
    Remove { id: NodeId },
}

impl ClusterNode {
    /// Changes the membership (on the leader, forwarded if need be) and
    /// returns once the new configuration is committed.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<(), ClusterError> {
        let local = || self.change_membership_as_leader(change.clone());
        let remote = |leader: NodeAddr| {
            let request = Request::Membership(change.clone());
            async move {
                self.ask_leader(request, &leader, false, MEMBERSHIP_TIMEOUT, |r| match r {
                    Response::Membership(result) => Ok(result),
                    other => Err(Box::new(other)),
                })
                .await
            }
        };
        self.on_leader(local, remote).await
    }

    pub(crate) async fn change_membership_as_leader(
        &self,
        change: MembershipChange,
    ) -> Result<(), ForwardError> {
        let raft = self.raft();
        let work = async {
            match change {
                MembershipChange::Add { id, addr } => {
                    raft.add_learner(id, addr, true)
                        .await
                        .map_err(ForwardError::from_raft)?;
                    self.wait_caught_up(id).await?;
                    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                        .await
                        .map_err(ForwardError::from_raft)?;
                }
                MembershipChange::Remove { id } => {
                    raft.change_membership(
                        ChangeMembers::RemoveVoters(BTreeSet::from([id])),
                        false,
                    )
                    .await
                    .map_err(ForwardError::from_raft)?;
                }
            }
            Ok(())
        };
        tokio::time::timeout(MEMBERSHIP_TIMEOUT, work)
            .await
            .map_err(|_| ForwardError::Timeout)?
    }

    /// Waits until the learner `id` has replicated close to the leader's log.
    async fn wait_caught_up(&self, id: NodeId) -> Result<(), ForwardError> {
        loop {
            let m = self.raft().metrics().borrow().clone();
            let Some(replication) = m.replication.as_ref() else {
                return Err(ForwardError::NotLeader(m.current_leader));
            };
            let matched = replication
                .get(&id)
                .cloned()
                .flatten()
                .map(|l| l.index)
                .unwrap_or(0);
            if matched + PROMOTE_WITHIN >= m.last_log_index.unwrap_or(0) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
