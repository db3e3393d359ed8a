//! Where a node stands in the cluster, as `GET /v1/cluster` shows it: built
//! from openraft's metrics, its clock (cluster time and the members'
//! measured wall clocks) and the log's sync counters.

use std::collections::{BTreeMap, BTreeSet};

use idem_store::SyncStats;
use serde::Serialize;

use crate::clock::WallReading;
use crate::types::{IdemTypes, NodeId};

/// This node's clock, for status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClockView {
    pub(crate) cluster_time_ms: u64,
    pub(crate) synced: bool,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    /// Raft's role: `Leader`, `Follower`, `Candidate`, `Learner`, `Shutdown`.
    pub state: String,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    /// The highest index replicated on a majority of voters (leader only).
    pub commit_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    /// The log id up to which the last snapshot covers the state.
    pub snapshot_index: Option<u64>,
    /// The log is purged up to here (compacted behind a snapshot).
    pub purged_index: Option<u64>,
    /// Log appends acknowledged since start, and the WAL syncs that made
    /// them durable (group commit: one sync can cover several appends).
    pub log_appends: u64,
    pub log_syncs: u64,
    /// Cluster time on this node (the physical part of the stamps it makes
    /// and judges by), in ms since the Unix epoch.
    pub cluster_time_ms: u64,
    /// Whether this node has agreed on the time with a majority since it
    /// started (until then it stamps nothing).
    pub cluster_time_synced: bool,
    pub members: Vec<MemberStatus>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct MemberStatus {
    pub id: NodeId,
    pub raft_addr: String,
    pub http_addr: String,
    /// Index of the last entry known to be replicated to this member (leader
    /// only).
    pub matched_index: Option<u64>,
    /// Whether the member votes (false: a learner still catching up).
    pub voter: bool,
    /// Entries this member is behind the leader's log (leader only).
    pub lag: Option<u64>,
    /// Measured wall-clock offset of this member relative to this node, in
    /// milliseconds (positive: the member's clock is ahead).
    pub clock_offset_ms: Option<i64>,
    /// The member's wall clock minus cluster time, in ms (positive: ahead).
    pub wall_offset_ms: Option<i64>,
}

/// The status of node `me` from its Raft metrics, its clock, the members'
/// wall-clock readings and its log's sync counters.
pub(crate) fn status(
    me: NodeId,
    m: &openraft::RaftMetrics<IdemTypes>,
    clock: ClockView,
    walls: &BTreeMap<NodeId, WallReading>,
    log: &SyncStats,
) -> ClusterStatus {
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let matched_of = |id: &NodeId| {
        m.replication
            .as_ref()
            .map(|r| r.get(id).cloned().flatten().map(|l| l.index))
    };
    let members = membership
        .nodes()
        .map(|(id, addr)| {
            let matched = matched_of(id);
            MemberStatus {
                id: *id,
                raft_addr: addr.raft.clone(),
                http_addr: addr.http.clone(),
                voter: voters.contains(id),
                matched_index: matched.flatten(),
                lag: matched.map(|i| m.last_log_index.unwrap_or(0).saturating_sub(i.unwrap_or(0))),
                clock_offset_ms: walls.get(id).map(|w| w.from_this_node_ms),
                wall_offset_ms: walls
                    .get(id)
                    .filter(|_| clock.synced)
                    .map(|w| w.from_cluster_time_ms),
            }
        })
        .collect();
    // The commit index is the highest index a majority of voters hold.
    let commit_index = m.replication.as_ref().and_then(|r| {
        let mut matched: Vec<u64> = voters
            .iter()
            .map(|id| r.get(id).cloned().flatten().map(|l| l.index).unwrap_or(0))
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        matched.get(voters.len() / 2).copied()
    });
    ClusterStatus {
        node_id: me,
        state: format!("{:?}", m.state),
        leader: m.current_leader,
        term: m.current_term,
        last_log_index: m.last_log_index,
        commit_index,
        last_applied_index: m.last_applied.map(|l| l.index),
        snapshot_index: m.snapshot.map(|l| l.index),
        purged_index: m.purged.map(|l| l.index),
        log_appends: log.completions(),
        log_syncs: log.syncs(),
        cluster_time_ms: clock.cluster_time_ms,
        cluster_time_synced: clock.synced,
        members,
    }
}
