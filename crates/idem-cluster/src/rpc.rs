//! The messages nodes exchange: Raft's own RPCs, forwarded client requests,
//! and clock probes.

use idem_core::{Command, KeyId, Namespace, NamespacePolicy, Outcome, Record, Stamp};
use openraft::error::{ForwardToLeader, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::types::{IdemTypes, NodeAddr, NodeId};

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    AppendEntries(AppendEntriesRequest<IdemTypes>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<IdemTypes>),
    /// A follower hands its clients' commands to the leader (one or more,
    /// carried out concurrently, answered in order).
    Forward(Vec<Command>),
    /// A follower asks the leader where a linearizable read may be served
    /// (see [`crate::follower_read`]).
    ReadIndex,
    /// A follower hands a membership change to the leader.
    Membership(crate::membership::MembershipChange),
    /// What time does your wall clock say?
    ClockProbe,
}

/// The leader's answer to [`Request::ReadIndex`]: after confirming with a
/// quorum that it still leads, everything committed is at or below `index`,
/// and `stamp` is the leader's time after that confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadIndex {
    pub index: u64,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReadRequest {
    Record(KeyId),
    Policy(Namespace),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReadReply {
    Record { record: Option<Record>, now: Stamp },
    Policy(NamespacePolicy),
}

/// Why a forwarded request failed on the node it was sent to.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum ForwardError {
    #[error("not the leader (leader hint: {0:?})")]
    NotLeader(Option<NodeId>),
    #[error("leadership changed while the request was in flight")]
    LeadershipChanged,
    #[error("timed out")]
    Timeout,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A read of this node's own state failed: unavailable (a client may try
/// again).
impl From<idem_store::StoreError> for ForwardError {
    fn from(e: idem_store::StoreError) -> Self {
        ForwardError::Unavailable(e.to_string())
    }
}

impl ForwardError {
    /// An error of an openraft call made as leader (a write, a quorum
    /// check, a membership change): "not the leader" with openraft's hint
    /// when it says so, otherwise unavailable.
    pub(crate) fn from_raft<E>(e: RaftError<NodeId, E>) -> Self
    where
        E: openraft::TryAsRef<ForwardToLeader<NodeId, NodeAddr>> + std::error::Error,
    {
        match e.forward_to_leader::<NodeAddr>() {
            Some(f) => ForwardError::NotLeader(f.leader_id),
            None => ForwardError::Unavailable(e.to_string()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Forward(Vec<Result<Outcome, ForwardError>>),
    ReadIndex(Result<ReadIndex, ForwardError>),
    Membership(Result<(), ForwardError>),
    ClockProbe {
        wall_ms: u64,
    },
    /// The receiver will not process this message (e.g. the sender's clock
    /// is too far ahead); the text says why.
    Refused(String),
}
