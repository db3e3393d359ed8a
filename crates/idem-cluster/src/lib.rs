//! # idem-cluster: the Raft cluster
//!
//! This crate owns how nodes agree: the openraft type configuration, the
//! inter-node transport (persistent pooled TCP connections carrying bincode
//! frames), the clocks (the HLC that stamps every entry, the offset limiter
//! that refuses stamps from a leader whose clock runs ahead, the monotonic
//! start of each leadership term, peers' measured clock offsets),
//! forwarding from any node to the leader, and linearizable reads.
//!
//! It must not interpret commands (that is `idem-core`, applied by the
//! store) and must not know about HTTP (that is `idem-server`).

mod batcher;
mod cleaner;
mod clock;
mod config;
mod error;
mod follower_read;
mod forwarder;
mod leader_lease;
mod membership;
mod network;
mod node;
mod peer_client;
mod raft_stop;
mod read_barrier;
mod rpc;
mod rpc_server;
mod snapshot_policy;
mod types;
mod wire;

pub use clock::{wall_now_ms, ClusterClock};
pub use config::ClusterConfig;
pub use error::ClusterError;
pub use membership::MembershipChange;
pub use node::{ClusterNode, MemberView, StatusView};
pub use rpc::{ReadReply, ReadRequest};
pub use types::{IdemTypes, NodeAddr, NodeId};
