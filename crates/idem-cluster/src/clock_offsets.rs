//! Measures every peer's wall-clock offset from this node's, once a second,
//! by a clock probe (the peer's reading against the midpoint of the round
//! trip), for status and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::ClusterClock;
use crate::rpc::{Request, Response};
use crate::transport::Transport;
use crate::types::{NodeAddr, NodeId, Raft};

pub(crate) async fn measure_clock_offsets(
    raft: Raft,
    me: NodeId,
    transport: Arc<dyn Transport>,
    clock: Arc<ClusterClock>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let members: BTreeMap<NodeId, NodeAddr> = {
            let m = raft.metrics();
            let m = m.borrow();
            if m.running_state.is_err() {
                return;
            }
            m.membership_config
                .membership()
                .nodes()
                .map(|(id, a)| (*id, a.clone()))
                .collect()
        };
        for (id, addr) in members {
            if id == me {
                continue;
            }
            let sent = clock.wall_ms();
            let probe = transport.call(
                &addr.raft,
                &Request::ClockProbe,
                Duration::from_millis(500),
                true,
            );
            if let Ok(Response::ClockProbe { wall_ms }) = probe.await {
                let received = clock.wall_ms();
                let midpoint = (sent + received) / 2;
                clock.record_offset(id, wall_ms as i64 - midpoint as i64);
            }
        }
    }
}
