//! The Raft types this store works with. The cluster crate declares the
//! concrete openraft type config; any config with these types fits.

use idem_core::{Outcome, StampedCommand};
use openraft::RaftTypeConfig;

pub type NodeId = u64;

/// What an applied entry answers: the command's outcome, or `None` for
/// Raft's own entries (blank, membership).
pub type AppliedOutcome = Option<Outcome>;

/// A Raft type config whose log carries stamped idem commands and whose
/// snapshots are files.
pub trait IdemRaftTypes:
    RaftTypeConfig<
    D = StampedCommand,
    R = AppliedOutcome,
    NodeId = NodeId,
    Entry = openraft::Entry<Self>,
    SnapshotData = tokio::fs::File,
>
{
}

impl<T> IdemRaftTypes for T where
    T: RaftTypeConfig<
        D = StampedCommand,
        R = AppliedOutcome,
        NodeId = NodeId,
        Entry = openraft::Entry<T>,
        SnapshotData = tokio::fs::File,
    >
{
}
