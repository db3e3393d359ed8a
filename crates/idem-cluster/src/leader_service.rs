//! What this node does as leader, for its own clients and for followers:
//! carries out commands (a reserve that changes nothing by a linearizable
//! read, everything else through the log), gives linearizable read points
//! (under the leader lease without a round, otherwise by a shared quorum
//! round), changes the membership, and decides whether to refuse votes.

use std::sync::Arc;
use std::time::Duration;

use idem_core::{Command, Outcome};
use idem_store::StateReader;
use openraft::type_config::async_runtime::WatchReceiver;
use openraft::ServerState;

use crate::clock::ClusterClock;
use crate::error::ClusterError;
use crate::leader_lease::LeaderLease;
use crate::local_reads::reserve_by_read;
use crate::proposer::Proposer;
use crate::read_barrier::ReadBarrier;
use crate::rpc::{MembershipChange, ReadIndex};
use crate::tasks::NodeTasks;
use crate::types::{NodeId, Raft, Vote};

pub(crate) struct LeaderService {
    id: NodeId,
    raft: Raft,
    reader: StateReader,
    clock: Arc<ClusterClock>,
    lease: Arc<LeaderLease>,
    proposer: Proposer,
    /// Lets concurrent linearizable reads share quorum rounds; a round's
    /// value is its read index.
    read_barrier: ReadBarrier<u64>,
    /// The planted bug: a leader that votes while it trusts its lease.
    votes_under_lease: bool,
}

/// What the leader side is made of.
pub(crate) struct LeaderParts {
    pub id: NodeId,
    pub raft: Raft,
    pub reader: StateReader,
    pub clock: Arc<ClusterClock>,
    pub lease: Arc<LeaderLease>,
    pub proposer: Proposer,
    pub request_timeout: Duration,
    pub votes_under_lease: bool,
}

impl LeaderService {
    /// Starts the task (owned by `tasks`) that runs the shared quorum rounds.
    pub(crate) fn spawn(tasks: &NodeTasks, parts: LeaderParts) -> LeaderService {
        let (raft, timeout) = (parts.raft.clone(), parts.request_timeout);
        let read_barrier =
            ReadBarrier::spawn(tasks, move || confirm_leadership(raft.clone(), timeout));
        LeaderService {
            id: parts.id,
            raft: parts.raft,
            reader: parts.reader,
            clock: parts.clock,
            lease: parts.lease,
            proposer: parts.proposer,
            read_barrier,
            votes_under_lease: parts.votes_under_lease,
        }
    }

    /// Carries out a command on the leader. A reserve that would leave the
    /// record unchanged (a replay, in progress, a mismatch) is answered by a
    /// linearizable read; everything else is stamped and proposed.
    pub(crate) async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        if let (by, Command::Reserve(reserve)) = command.parts() {
            let read_point = || async { Ok(self.read_point().await?.stamp) };
            if let Some(answer) = reserve_by_read(&self.reader, reserve, by, read_point).await? {
                return Ok(answer);
            }
        }
        self.proposer.propose(command).await
    }

    /// Confirms leadership (under the lease, or by a shared quorum round)
    /// and returns the read index with a fresh stamp taken after the
    /// confirmation, never earlier than what has been applied. The leader's
    /// own reads use it, and so does its answer to a follower's
    /// [`crate::rpc::Request::ReadIndex`].
    pub(crate) async fn read_point(&self) -> Result<ReadIndex, ClusterError> {
        let index = self.linearizable_barrier().await?;
        let applied = self.reader.applied_clock();
        let stamp = self
            .clock
            .read_stamp(applied)
            .map_err(|no| no.into_error(None))?;
        Ok(ReadIndex { index, stamp })
    }

    /// Confirms that this node still leads, with the local state machine
    /// applied far enough that reads of the local state are linearizable,
    /// and returns the read index (everything answered so far is applied at
    /// or below it). Under the leader lease that needs no round (see
    /// [`crate::leader_lease`]); otherwise it is a quorum round, shared by
    /// concurrent callers (see [`crate::read_barrier`]).
    async fn linearizable_barrier(&self) -> Result<u64, ClusterError> {
        if let Some(index) = self.lease_read_index() {
            return Ok(index);
        }
        self.read_barrier.wait().await
    }

    /// The read index, if this node leads and holds the lease and has
    /// applied an entry of its own term (so also everything earlier leaders
    /// committed); `None` when a quorum round is needed.
    fn lease_read_index(&self) -> Option<u64> {
        let vote = self.leads_under_lease()?;
        self.reader
            .applied_log_id()
            .filter(|log_id| log_id.leader_id == *vote.leader_id())
            .map(|log_id| log_id.index)
    }

    /// This node's vote, if it leads and holds the leader lease.
    fn leads_under_lease(&self) -> Option<Vote> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if m.state != ServerState::Leader {
            return None;
        }
        let config = m.membership_config.membership().get_joint_config();
        self.lease.holds(self.id, &m.vote, config).then_some(m.vote)
    }

    /// Whether this node refuses to vote for anyone: it started less than
    /// an election timeout ago (it may have acknowledged a leader just
    /// before it stopped), or it leads under the lease.
    pub(crate) fn refuses_votes(&self) -> Option<&'static str> {
        if self.votes_under_lease {
            return None;
        }
        if self.lease.starting() {
            Some("this node has just started")
        } else if self.leads_under_lease().is_some() {
            Some("this node leads, and its lease holds")
        } else {
            None
        }
    }

    /// Changes the membership; this node must be the leader.
    pub(crate) async fn change_membership(
        &self,
        change: MembershipChange,
    ) -> Result<(), ClusterError> {
        crate::membership::change_as_leader(&self.raft, change).await
    }
}

/// One quorum round: confirms that this node still leads and waits until it
/// has applied everything committed before the confirmation, whose index it
/// returns.
async fn confirm_leadership(raft: Raft, timeout: Duration) -> Result<u64, ClusterError> {
    match tokio::time::timeout(
        timeout,
        raft.ensure_linearizable(openraft::raft::ReadPolicy::ReadIndex),
    )
    .await
    {
        Err(_) => Err(ClusterError::Timeout),
        Ok(Err(e)) => Err(ClusterError::from_raft(e)),
        Ok(Ok(read_log_id)) => Ok(read_log_id.index()),
    }
}
