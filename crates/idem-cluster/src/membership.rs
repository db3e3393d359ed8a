//! Membership changes, carried out by the leader: add a node (as a learner
//! first, promoted to voter once it has caught up) and remove one.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ChangeMembers;

use crate::error::ClusterError;
use crate::rpc::MembershipChange;
use crate::types::{NodeId, Raft};

/// How long adding a node may take (it may need a snapshot).
pub const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// Entries a learner may still lag behind when it is promoted.
const PROMOTE_WITHIN: u64 = 100;

/// Carries out `change` on this node, which must lead; returns once the new
/// configuration is committed.
pub(crate) async fn change_as_leader(
    raft: &Raft,
    change: MembershipChange,
) -> Result<(), ClusterError> {
    let work = async {
        match change {
            MembershipChange::Add { id, addr } => {
                raft.add_learner(id, addr, true)
                    .await
                    .map_err(ClusterError::from_raft)?;
                wait_caught_up(raft, id).await?;
                raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                    .await
                    .map_err(ClusterError::from_raft)?;
            }
            MembershipChange::Remove { id } => {
                raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                    .await
                    .map_err(ClusterError::from_raft)?;
            }
        }
        Ok(())
    };
    tokio::time::timeout(MEMBERSHIP_TIMEOUT, work)
        .await
        .map_err(|_| ClusterError::Timeout)?
}

/// Waits until the learner `id` has replicated close to the leader's log.
async fn wait_caught_up(raft: &Raft, id: NodeId) -> Result<(), ClusterError> {
    loop {
        let m = raft.metrics().borrow().clone();
        let Some(replication) = m.replication.as_ref() else {
            return Err(ClusterError::NotLeader(m.current_leader));
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
