//! How a node is configured.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::peer_tls::PeerTlsFiles;
use crate::types::{NodeAddr, NodeId};

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub id: NodeId,
    pub data_dir: PathBuf,
    /// This node's addresses (the Raft one is also where it listens).
    pub addr: NodeAddr,
    /// Every member of the initial cluster, this node included.
    pub members: BTreeMap<NodeId, NodeAddr>,
    /// The clocks' tolerance: of the offset limiter (beyond the ceiling of
    /// cluster time), of catching up, and of the far-off-clock warning.
    pub max_clock_offset_ms: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
    /// How long a client request may wait for the log.
    pub request_timeout: Duration,
    /// Entries between snapshots, at least (see [`crate::snapshot_policy`]:
    /// a large state also waits for a quarter of its size in commands).
    pub snapshot_every: u64,
    /// How often the leader looks for records to purge.
    pub purge_every: Duration,
    /// Log entries (batches of commands) the leader may have in flight at
    /// once; proposals arriving meanwhile wait and share the next entry.
    pub batches_in_flight: usize,
    /// Start empty and wait to be added to an existing cluster (do not
    /// bootstrap a new one).
    pub join: bool,
    /// Mutual TLS on the Raft port (`None`: plain TCP).
    pub peer_tls: Option<PeerTlsFiles>,
    /// Part of the cluster id a new cluster derives (with its initial
    /// members): two clusters of the same members differ by name.
    pub cluster_name: String,
    /// A deliberately broken node (stale reads, a long leader lease), to
    /// show that the tests catch it. Never in a node that serves traffic.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<idem_core::PlantedBug>,
}

impl ClusterConfig {
    pub fn new(
        id: NodeId,
        data_dir: PathBuf,
        addr: NodeAddr,
        members: BTreeMap<NodeId, NodeAddr>,
    ) -> Self {
        ClusterConfig {
            id,
            data_dir,
            addr,
            members,
            max_clock_offset_ms: 500,
            heartbeat_ms: 100,
            election_timeout_ms: (300, 400),
            request_timeout: Duration::from_secs(5),
            snapshot_every: 10_000,
            purge_every: Duration::from_secs(1),
            batches_in_flight: 1,
            join: false,
            peer_tls: None,
            cluster_name: "idem".into(),
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }

    pub(crate) fn raft_config(&self) -> Result<openraft::Config, String> {
        let config = openraft::Config {
            cluster_name: "idem".into(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_ms.0,
            election_timeout_max: self.election_timeout_ms.1,
            install_snapshot_timeout: 10_000,
            // Snapshots are triggered by crate::snapshot_policy instead.
            snapshot_policy: openraft::SnapshotPolicy::Never,
            // Entries kept behind a snapshot for followers that are only a
            // little behind: 1,000, or fewer when snapshots are more frequent.
            max_in_snapshot_log_to_keep: self.snapshot_every.min(1_000),
            max_payload_entries: 512,
            // A node that led before a restart must not resume leading
            // without an election: its leader lease (and the cluster's
            // time) restart with it (see `node::step_down_after_restart`).
            enable_leader_restore: Some(false),
            // Replication learns of an entry as soon as `append` returns,
            // not at the end of the core's loop pass (bench/README.md).
            broadcast_submitted_on_append: Some(true),
            ..Default::default()
        };
        config.validate().map_err(|e| e.to_string())
    }
}
