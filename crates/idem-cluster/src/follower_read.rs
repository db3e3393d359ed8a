//! Linearizable reads served by a follower (the read-index protocol).
//!
//! A follower's own state may lag the leader's, so reading it as it stands
//! is not linearizable. Forwarding every read to the leader is, but then the
//! leader reads, judges and sends back every record, for all the nodes.
//! Instead a follower asks the leader only *where* to read:
//!
//! 1. The follower sends [`crate::rpc::Request::ReadIndex`]. The leader confirms with a
//!    quorum that it still leads (its shared read round, started after the
//!    request arrived) and answers with the index of everything committed
//!    before that confirmation, and its time after it (a [`Stamp`] as its
//!    own reads use).
//! 2. The follower waits until it has applied that index, then reads its
//!    own state and judges it at the later of the leader's stamp and its own
//!    applied clock, which is never earlier than any entry it has applied.
//!
//! Why that is linearizable: the confirmation happened after the read began,
//! so every write that completed before the read began is at or below the
//! index, and the follower's state includes it. The state read is one that
//! existed at some moment between the confirmation and the answer, and the
//! time it is judged at is a leader's stamp from that span, no later than
//! the time the leader itself would have judged at. A lease can only look
//! alive a little longer from here, never end early.
//!
//! The reads waiting on one follower share the round trip: one task asks,
//! one request at a time, and a read never joins a request already sent
//! ([`ReadBarrier`]'s rule, for the same reason as on the leader). When the
//! follower cannot tell who leads, the leader's stamp comes from an older
//! term than what it has applied, or the stamp is further ahead of this
//! node's clock than the cluster allows, the read is refused (the caller
//! tries again or answers 503) rather than judged at a doubtful time.

use std::sync::Arc;
use std::time::Duration;

use idem_core::Stamp;
use idem_store::StateReader;
use openraft::type_config::async_runtime::WatchReceiver;

use crate::clock::ClusterClock;
use crate::error::ClusterError;
use crate::leadership::known_leader;
use crate::read_barrier::ReadBarrier;
use crate::rpc::{ReadIndex, Request, Response};
use crate::tasks::NodeTasks;
use crate::transport::{ask_leader, Transport};
use crate::types::{NodeId, Raft};

/// A follower's linearizable read points.
pub(crate) struct FollowerReads {
    reader: StateReader,
    /// Lets concurrent reads share the leader's answers.
    barrier: ReadBarrier<ReadIndex>,
}

/// What one round of the follower's barrier needs.
struct ReadIndexAsker {
    me: NodeId,
    raft: Raft,
    clock: Arc<ClusterClock>,
    transport: Arc<dyn Transport>,
    timeout: Duration,
}

impl FollowerReads {
    /// Starts the task (owned by `tasks`) that asks the leader for read
    /// indexes on behalf of this node's waiting reads.
    pub(crate) fn spawn(
        tasks: &NodeTasks,
        me: NodeId,
        raft: Raft,
        reader: StateReader,
        clock: Arc<ClusterClock>,
        transport: Arc<dyn Transport>,
        timeout: Duration,
    ) -> FollowerReads {
        let asker = Arc::new(ReadIndexAsker {
            me,
            raft,
            clock,
            transport,
            timeout,
        });
        let barrier = ReadBarrier::spawn(tasks, move || {
            let asker = asker.clone();
            async move { asker.ask().await }
        });
        FollowerReads { reader, barrier }
    }

    /// Waits until reads of this node's state are linearizable and returns
    /// the time to judge them at.
    pub(crate) async fn read_point(&self) -> Result<Stamp, ClusterError> {
        let ReadIndex { stamp, .. } = self.barrier.wait().await?;
        let applied = self.reader.applied_clock();
        match applied.advance(&stamp) {
            Ok(judged_at) => Ok(judged_at.now()),
            // Entries of a newer term are applied here: the leader that
            // answered has been replaced, so its time proves nothing.
            Err(_) => Err(ClusterError::NotLeader(None)),
        }
    }
}

impl ReadIndexAsker {
    /// One round of the follower's barrier: asks whoever leads now, then
    /// waits until this node has applied the index it answered.
    async fn ask(&self) -> Result<ReadIndex, ClusterError> {
        let Some((leader, addr)) = known_leader(&self.raft) else {
            return Err(ClusterError::NotLeader(None));
        };
        if leader == self.me {
            // Became leader meanwhile: the caller tries again, as leader.
            return Err(ClusterError::NotLeader(Some(leader)));
        }
        let answer = ask_leader(
            &*self.transport,
            Request::ReadIndex,
            &addr,
            true,
            self.timeout,
            |r| match r {
                Response::ReadIndex(result) => Ok(result),
                other => Err(Box::new(other)),
            },
        )
        .await?;
        if let Err(ahead) = self.clock.observe(answer.stamp.hlc) {
            return Err(ClusterError::Unavailable(format!(
                "the leader's read time is too far ahead: {ahead}"
            )));
        }
        self.wait_applied(answer.index).await?;
        Ok(answer)
    }

    /// Waits until this node has applied `index`.
    async fn wait_applied(&self, index: u64) -> Result<(), ClusterError> {
        let applied = |m: &openraft::RaftMetrics<_>| m.last_applied.map_or(0, |l| l.index);
        if applied(&self.raft.metrics().borrow_watched()) >= index {
            return Ok(());
        }
        self.raft
            .wait(Some(self.timeout))
            .metrics(|m| applied(m) >= index, "apply up to the read index")
            .await
            .map(|_| ())
            .map_err(|e| match e {
                openraft::metrics::WaitError::Timeout(..) => ClusterError::Timeout,
                other => ClusterError::Unavailable(other.to_string()),
            })
    }
}
