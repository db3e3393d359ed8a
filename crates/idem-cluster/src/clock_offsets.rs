//! Measures every peer's wall clock by a clock probe (the peer's reading
//! against the midpoint of the round trip), then agrees on the time with a
//! majority: the first agreement syncs this node's cluster time (it stamps
//! nothing before), later ones catch it up when a majority's wall time has
//! stayed ahead (see `idem_core::hybrid_clock`). Once a second, or every
//! 100 ms while unsynced. Logs a warning when a member's wall clock is
//! further from cluster time than the tolerance, and again when it is back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use idem_core::Agreement;
use openraft::type_config::async_runtime::WatchReceiver;
use tokio::time::Instant;

use crate::clock::ClusterClock;
use crate::rpc::{Request, Response};
use crate::transport::Transport;
use crate::types::{NodeAddr, NodeId, Raft};

const EVERY: Duration = Duration::from_secs(1);
const WHILE_UNSYNCED: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

pub(crate) async fn measure_clock_offsets(
    raft: Raft,
    me: NodeId,
    transport: Arc<dyn Transport>,
    clock: Arc<ClusterClock>,
) {
    let mut far_off: BTreeSet<NodeId> = BTreeSet::new();
    loop {
        let members: BTreeMap<NodeId, NodeAddr> = {
            let m = raft.metrics();
            let m = m.borrow_watched();
            if m.running_state.is_err() {
                return;
            }
            m.membership_config
                .membership()
                .nodes()
                .map(|(id, a)| (*id, a.clone()))
                .collect()
        };
        let probes = members
            .iter()
            .filter(|(id, _)| **id != me)
            .map(|(id, addr)| {
                let transport = transport.clone();
                async move {
                    let sent = Instant::now();
                    let answer = transport
                        .call(&addr.raft, &Request::ClockProbe, PROBE_TIMEOUT, true)
                        .await;
                    (*id, sent, answer)
                }
            });
        for (id, sent, answer) in join_all(probes).await {
            if let Ok(Response::ClockProbe { wall_ms }) = answer {
                clock.record_probe(id, sent, wall_ms);
            }
        }
        if !members.is_empty() {
            clock.set_members(members.keys().copied().collect());
        }
        match clock.agree() {
            Some(Agreement::Synced { by_ms }) => tracing::info!(
                "cluster time agreed with a majority of nodes (moved {by_ms} ms from the \
                 applied high-water mark); this node can stamp"
            ),
            Some(Agreement::CaughtUp { by_ms }) => tracing::warn!(
                "cluster time caught up {by_ms} ms to the wall time a majority of nodes \
                 has agreed on for 30 s"
            ),
            Some(Agreement::Kept) | None => {}
        }
        warn_of_far_clocks(&clock, &mut far_off);
        tokio::time::sleep(if clock.is_synced() {
            EVERY
        } else {
            WHILE_UNSYNCED
        })
        .await;
    }
}

/// Warns once when a member's wall clock moves further from cluster time
/// than the tolerance, and once when it comes back.
fn warn_of_far_clocks(clock: &ClusterClock, far_off: &mut BTreeSet<NodeId>) {
    if !clock.is_synced() {
        return;
    }
    let tolerance = i64::try_from(clock.max_offset_ms()).unwrap_or(i64::MAX);
    for (id, reading) in clock.wall_readings() {
        let off = reading.from_cluster_time_ms;
        if off.abs() > tolerance {
            if far_off.insert(id) {
                tracing::warn!(
                    "node {id}'s wall clock is {off} ms from cluster time (tolerance \
                     {tolerance} ms); leases and retention still follow real time"
                );
            }
        } else if far_off.remove(&id) {
            tracing::info!("node {id}'s wall clock is back within {off} ms of cluster time");
        }
    }
}
