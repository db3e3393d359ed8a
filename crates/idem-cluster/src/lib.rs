//! # idem-cluster: the Raft cluster
//!
//! This crate owns how nodes agree: the openraft type configuration, the
//! inter-node transport (a [`Transport`] trait; in production pooled TCP
//! connections carrying bincode frames), the clocks (the HLC that stamps
//! every entry, the offset limiter that refuses stamps from a leader whose
//! clock runs ahead, the monotonic start of each leadership term, peers'
//! measured clock offsets, all read through one [`TimeSource`]),
//! forwarding from any node to the leader, and linearizable reads.
//!
//! It must not interpret commands (that is `idem-core`, applied by the
//! store) and must not know about HTTP (that is `idem-server`).
//!
//! The parts, from the bottom up (a module uses only those above it in
//! this list, never the node):
//! - wire and messages: `wire` (frames), `rpc` (what nodes say), `error`
//!   ([`ClusterError`], which also travels), `types`;
//! - time: `time_source`, `clock` (HLC, offset limiter, suspects),
//!   `leader_lease`;
//! - transport: `transport` (the trait, asking the leader), how a TCP
//!   connection between nodes is admitted (`cluster_id`, `peer_hello`,
//!   `peer_tls` for mutual TLS, its PEM files read by `pem_files`, `peer_stream`, `peer_link`), `peer_client`
//!   ([`TcpTransport`]), `network` (openraft's network over it);
//! - the write path: `batcher` (commands that travel together), `proposer`
//!   (stamp and write an entry), `forwarder` (a follower's batches to the
//!   leader);
//! - the read path: `read_barrier` (shared rounds), `local_reads` (judging
//!   against the local state), `leader_service` (what the leader does for
//!   everyone: commands, read points, membership, votes), `follower_read`
//!   (read index);
//! - answering peers: `peer_service`, and its TCP listener `rpc_server`;
//! - background tasks, each given only the handles it needs and owned by
//!   `tasks`: `leadership`, `clock_offsets`, `snapshot_policy`, `cleaner`;
//! - `status`, `raft_stop`, and `node` ([`ClusterNode`]), which starts and
//!   holds all of the above.

mod batcher;
mod cleaner;
mod clock;
mod clock_offsets;
mod cluster_id;
mod config;
mod error;
mod follower_read;
mod forwarder;
mod leader_lease;
mod leader_service;
mod leadership;
mod local_reads;
mod membership;
mod network;
mod node;
mod peer_client;
mod peer_hello;
mod peer_link;
mod peer_service;
mod peer_stream;
mod peer_tls;
pub mod pem_files;
mod proposer;
mod raft_stop;
mod read_barrier;
mod rpc;
mod rpc_server;
mod snapshot_policy;
mod snapshot_transfer;
mod status;
mod tasks;
mod time_source;
mod transport;
mod types;
pub mod waiting;
mod wire;

pub use clock::ClusterClock;
pub use cluster_id::{ClusterId, ClusterIdentity, OtherCluster};
pub use config::ClusterConfig;
pub use error::{ClusterError, StartError};
pub use idem_store::{KeyChange, KeyWatch, KeyWatcher, MAX_KEY_WATCHERS};
pub use membership::MEMBERSHIP_TIMEOUT;
pub use node::ClusterNode;
pub use peer_client::TcpTransport;
pub use peer_link::PeerLink;
pub use peer_tls::{PeerTls, PeerTlsFiles};
pub use rpc::{MembershipChange, ReadIndex, ReadReply, ReadRequest, Request, Response};
pub use status::{ClusterStatus, MemberStatus};
pub use time_source::{system_wall_ms, ControlledClocks, SystemClocks, TimeSource};
pub use transport::{CallError, Transport};
pub use types::{IdemTypes, NodeAddr, NodeId};
pub use waiting::{reserve_waiting, MAX_WAIT_MS};
pub use wire::{decode_message, encode_message, WireError};
