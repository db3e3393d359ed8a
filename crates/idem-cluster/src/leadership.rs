//! Who leads, as this node knows it, and keeping the clock told when this
//! node leads (so that it stamps entries with its term and the monotonic
//! time since the term began).
//!
//! On becoming leader the clock also observes the applied clock: a node
//! that caught up by a snapshot never saw the stamps inside it, and its
//! stamps must not fall behind them (the lateness bound counts on a new
//! leader's cluster time being past every stamp in its state).

use std::sync::Arc;

use idem_store::StateReader;
use openraft::type_config::async_runtime::WatchReceiver;
use openraft::ServerState;

use crate::clock::ClusterClock;
use crate::types::{NodeAddr, NodeId, Raft};

/// The leader as this node knows it, with its address.
pub(crate) fn known_leader(raft: &Raft) -> Option<(NodeId, NodeAddr)> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow_watched();
    let id = metrics.current_leader?;
    let addr = metrics
        .membership_config
        .membership()
        .get_node(&id)
        .cloned()?;
    Some((id, addr))
}

/// Keeps `clock` told whether node `me` leads, and in which term. It
/// watches the server metrics (vote, role, leader), which change only with
/// them, not the full metrics, which change several times per log entry.
pub(crate) async fn track_leadership(
    raft: Raft,
    me: NodeId,
    clock: Arc<ClusterClock>,
    reader: StateReader,
) {
    let mut rx = raft.server_metrics();
    loop {
        let leader_term = {
            let m = rx.borrow_watched();
            let leading = m.state == ServerState::Leader && m.current_leader == Some(me);
            leading.then_some(m.vote.leader_id().term)
        };
        if leader_term.is_some() {
            clock.observe_committed(reader.applied_clock().now().hlc);
        }
        clock.set_leadership(leader_term);
        if rx.changed().await.is_err() {
            clock.set_leadership(None);
            return;
        }
    }
}
