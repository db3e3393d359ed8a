//! Membership changes, carried out by the leader: add a node (as a learner
//! first, promoted to voter once it has caught up) and remove one.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::type_config::async_runtime::WatchReceiver;
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
///
/// "Not the leader" is passed on only where nothing can have been applied:
/// for the learner's entry (one entry, which openraft refuses at once or
/// removes from the log). Adding a voter or removing one is two entries
/// (joint, then final), and a learner may already be added before the
/// promotion fails, so a lost leadership after that first step is
/// [`ClusterError::Unavailable`]: the change may be partly applied.
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
                wait_caught_up(raft, id).await.map_err(maybe_applied)?;
                raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                    .await
                    .map_err(|e| maybe_applied(ClusterError::from_raft(e)))?;
            }
            MembershipChange::Remove { id } => {
                raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                    .await
                    .map_err(|e| maybe_applied(ClusterError::from_raft(e)))?;
            }
        }
        Ok(())
    };
    tokio::time::timeout(MEMBERSHIP_TIMEOUT, work)
        .await
        .map_err(|_| ClusterError::Timeout)?
}

/// An error after a step of a membership change may have been committed:
/// never "certainly not applied".
fn maybe_applied(e: ClusterError) -> ClusterError {
    if e.certainly_not_applied() {
        ClusterError::Unavailable(format!(
            "{e}, after part of the membership change may have been committed; \
             look at the members before trying again"
        ))
    } else {
        e
    }
}

/// Waits until the learner `id` has replicated close to the leader's log.
async fn wait_caught_up(raft: &Raft, id: NodeId) -> Result<(), ClusterError> {
    loop {
        let m = raft.metrics().borrow_watched().clone();
        let Some(replication) = m.replication.as_ref() else {
            return Err(ClusterError::NotLeader(m.current_leader));
        };
        // A learner that has not acknowledged any entry yet (unreachable,
        // or refused at TLS or by its cluster id) is not caught up, however
        // short the log: promoting it would add a voter that cannot vote.
        let matched = replication.get(&id).cloned().flatten().map(|l| l.index);
        if let Some(matched) = matched {
            if matched + PROMOTE_WITHIN >= m.last_log_index.unwrap_or(0) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
