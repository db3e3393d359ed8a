//! The openraft type configuration of an idem cluster.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use idem_store::NodeId;

/// Where a member of the cluster listens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeAddr {
    /// The inter-node (Raft and forwarding) address, `host:port`.
    pub raft: String,
    /// The HTTP API address, `host:port` (informational: shown in status).
    pub http: String,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raft {} http {}", self.raft, self.http)
    }
}

openraft::declare_raft_types!(
    /// The log carries stamped idem commands; applying one yields its outcome.
    pub IdemTypes:
        D = idem_core::StampedBatch,
        R = idem_store::AppliedOutcomes,
        NodeId = NodeId,
        Node = NodeAddr,
);

pub type StateMachine = idem_store::StateMachineStore<IdemTypes>;
pub type Raft = openraft::Raft<IdemTypes, StateMachine>;
pub type Store = idem_store::Store<IdemTypes>;
/// A watch on one of Raft's metrics (openraft's own channel type).
pub type Watched<T> = openraft::type_config::alias::WatchReceiverOf<IdemTypes, T>;
pub use idem_store::{LogId, Vote};
/// A snapshot of this cluster's state machine, with its file.
pub type Snapshot = idem_store::Snapshot<NodeAddr>;
