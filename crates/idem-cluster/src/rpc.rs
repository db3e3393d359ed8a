//! The messages nodes exchange: Raft's own RPCs, forwarded client requests,
//! read-index requests, membership changes and clock probes. They are the
//! inter-node wire format (bincode, in [`crate::wire`] frames): a variant
//! is added at the end of its enum, never in between.

use idem_core::{
    ApiKeyId, ApiKeyRecord, AuthSecret, Command, KeyId, Namespace, NamespacePolicy, Outcome,
    Record, Stamp,
};
use openraft::error::RaftError;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::types::{IdemTypes, NodeAddr, NodeId, Vote};

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    AppendEntries(AppendEntriesRequest<IdemTypes>),
    Vote(VoteRequest<IdemTypes>),
    /// One piece of a snapshot the leader sends (see `snapshot_transfer`).
    InstallSnapshot(SnapshotChunk),
    /// A follower hands its clients' commands to the leader (one or more,
    /// carried out concurrently, answered in order).
    Forward(Vec<Command>),
    /// A follower asks the leader where a linearizable read may be served
    /// (see the `follower_read` module).
    ReadIndex,
    /// A follower hands a membership change to the leader.
    Membership(MembershipChange),
    /// What time does your wall clock say?
    ClockProbe,
}

/// A piece of the leader's snapshot: `data` belongs at `offset` of the
/// snapshot file described by `meta`; the last piece has `done`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotChunk {
    /// The leader's vote, as Raft's snapshot install takes it.
    pub vote: Vote,
    pub meta: idem_store::SnapshotMeta<NodeAddr>,
    pub offset: u64,
    pub data: Vec<u8>,
    pub done: bool,
}

/// The leader's answer to [`Request::ReadIndex`]: after confirming with a
/// quorum that it still leads, everything committed is at or below `index`,
/// and `stamp` is the leader's time after that confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadIndex {
    pub index: u64,
    pub stamp: Stamp,
}

/// A linearizable read of this node's state (never sent between nodes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReadRequest {
    Record(KeyId),
    Policy(Namespace),
    /// What authenticating a key needs: its record and the auth secret.
    Auth(ApiKeyId),
    /// Every API key the cluster knows.
    ApiKeys,
    /// A namespace's quota and what it holds.
    Quota(Namespace),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReadReply {
    Record {
        record: Option<Record>,
        now: Stamp,
    },
    Policy(NamespacePolicy),
    Auth {
        key: Option<ApiKeyRecord>,
        secret: Option<AuthSecret>,
        now: Stamp,
    },
    ApiKeys(Vec<ApiKeyRecord>),
    Quota {
        quota: idem_core::NamespaceQuota,
        usage: idem_core::NamespaceUsage,
    },
}

/// A change of the cluster's membership. Carried out by the leader; any
/// node forwards it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add `id` at `addr`: a learner first, a voter once caught up.
    Add { id: NodeId, addr: NodeAddr },
    /// Remove `id` from the cluster.
    Remove { id: NodeId },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    AppendEntries(Result<AppendEntriesResponse<IdemTypes>, RaftError<IdemTypes>>),
    Vote(Result<VoteResponse<IdemTypes>, RaftError<IdemTypes>>),
    /// A piece was taken (`None`: send the next), or the whole snapshot was
    /// installed (Raft's answer), or refused (why).
    InstallSnapshot(Result<Option<SnapshotResponse<IdemTypes>>, String>),
    Forward(Vec<Result<Outcome, ClusterError>>),
    ReadIndex(Result<ReadIndex, ClusterError>),
    Membership(Result<(), ClusterError>),
    ClockProbe {
        wall_ms: u64,
    },
    /// The receiver will not process this message (e.g. the sender's clock
    /// is too far ahead); the text says why.
    Refused(String),
}
