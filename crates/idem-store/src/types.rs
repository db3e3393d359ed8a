//! The Raft types this store works with. The cluster crate declares the
//! concrete openraft type config; any config with these types fits.

use idem_core::{Outcome, StampedBatch};
use openraft::RaftTypeConfig;

pub type NodeId = u64;

/// What an applied entry answers: one outcome per command of its batch, in
/// order; none for Raft's own entries (blank, membership). An entry refused
/// as a whole (see `idem_core::Refusal`) answers the refusal for every
/// command.
pub type AppliedOutcomes = Vec<Outcome>;

/// A Raft type config whose log carries stamped batches of idem commands and whose
/// snapshots are files.
pub trait IdemRaftTypes:
    RaftTypeConfig<
    D = StampedBatch,
    R = AppliedOutcomes,
    NodeId = NodeId,
    Entry = openraft::Entry<Self>,
    SnapshotData = tokio::fs::File,
>
{
}

impl<T> IdemRaftTypes for T where
    T: RaftTypeConfig<
        D = StampedBatch,
        R = AppliedOutcomes,
        NodeId = NodeId,
        Entry = openraft::Entry<T>,
        SnapshotData = tokio::fs::File,
    >
{
}
