//! The Raft types this store works with. The cluster crate declares the
//! concrete openraft type config; any config with these types fits.
//!
//! Leader ids, log ids and votes are concrete (openraft's "advanced" leader
//! id: a term and a node, the one it has always used), so that the store's
//! own metadata (applied log id, vote) needs no type parameter.

use idem_core::{Outcome, StampedBatch};
use openraft::RaftTypeConfig;

pub type NodeId = u64;
pub type Term = u64;

/// A leader: the term it was elected in and its node. Also the leader part
/// of a log id (a leader of this kind is committed as it is).
pub type LeaderId = openraft::impls::leader_id_adv::LeaderId<Term, NodeId>;
/// A log entry's place: the leader that proposed it and its index.
pub type LogId = openraft::LogId<LeaderId>;
/// A candidate's or a leader's vote.
pub type Vote = openraft::impls::Vote<LeaderId>;

/// A log entry's payload in a config whose member addresses are `N`.
pub type Payload<N> = openraft::EntryPayload<StampedBatch, NodeId, N>;
/// A log entry in a config whose member addresses are `N`.
pub type Entry<N> = openraft::Entry<LeaderId, Payload<N>>;
/// Membership as stored, with the log id that carried it.
pub type StoredMembership<N> = openraft::StoredMembership<LeaderId, NodeId, N>;
/// What a snapshot covers.
pub type SnapshotMeta<N> = openraft::SnapshotMeta<LeaderId, NodeId, N>;

/// What an applied entry answers: one outcome per command of its batch, in
/// order; none for Raft's own entries (blank, membership). An entry refused
/// as a whole (see `idem_core::Refusal`) answers the refusal for every
/// command.
pub type AppliedOutcomes = Vec<Outcome>;

/// A Raft type config whose log carries stamped batches of idem commands.
pub trait IdemRaftTypes:
    RaftTypeConfig<
    D = StampedBatch,
    R = AppliedOutcomes,
    NodeId = NodeId,
    Term = Term,
    LeaderId = LeaderId,
    Vote = Vote,
    Payload = Payload<<Self as RaftTypeConfig>::Node>,
    Entry = Entry<<Self as RaftTypeConfig>::Node>,
>
{
}

impl<T> IdemRaftTypes for T where
    T: RaftTypeConfig<
        D = StampedBatch,
        R = AppliedOutcomes,
        NodeId = NodeId,
        Term = Term,
        LeaderId = LeaderId,
        Vote = Vote,
        Payload = Payload<<T as RaftTypeConfig>::Node>,
        Entry = Entry<<T as RaftTypeConfig>::Node>,
    >
{
}

/// A snapshot as openraft hands it around: its metadata and its file.
pub type Snapshot<N> = openraft::storage::Snapshot<LeaderId, NodeId, N, tokio::fs::File>;
