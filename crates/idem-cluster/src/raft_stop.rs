//! Tells when Raft has stopped on this node.
//!
//! openraft stops its core for good on a fatal error (a storage call that
//! failed, a panic); the node then answers nothing useful, and `/ready` says
//! so, but a process that stays up is never restarted by a supervisor. The
//! server waits on [`stopped`] beside its HTTP server and exits when it
//! resolves.
//!
//! It watches the server metrics (vote, role, leader, membership), which
//! change rarely, and not the full metrics, which openraft sends after every
//! step of its core: a waiter on those would be woken several times per
//! log entry. The core owns the metrics' senders, so when it exits, for
//! whatever reason, the server metrics' sender is dropped and the wait
//! ends; the reason is then read from the full metrics, where the core
//! leaves its fatal error before it exits.

use openraft::metrics::RaftServerMetrics;
use openraft::RaftMetrics;
use tokio::sync::watch;

use crate::types::{NodeAddr, NodeId};

/// Resolves once Raft's core has exited, with why.
pub(crate) async fn stopped(
    mut server: watch::Receiver<RaftServerMetrics<NodeId, NodeAddr>>,
    metrics: watch::Receiver<RaftMetrics<NodeId, NodeAddr>>,
) -> String {
    while server.changed().await.is_ok() {}
    let state = metrics.borrow().running_state.clone();
    match state {
        Err(fatal) => fatal.to_string(),
        Ok(()) => "Raft's core has exited".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::error::Fatal;

    use super::*;

    type Server = RaftServerMetrics<NodeId, NodeAddr>;
    type Metrics = RaftMetrics<NodeId, NodeAddr>;

    #[tokio::test]
    async fn resolves_when_the_core_exits_with_its_fatal_error_and_not_before() {
        let (server_tx, server_rx) = watch::channel(Server::default());
        let (metrics_tx, metrics_rx) = watch::channel(Metrics::new_initial(1));
        let waiter = tokio::spawn(stopped(server_rx, metrics_rx));
        server_tx.send_modify(|m| m.current_leader = Some(2));
        metrics_tx.send_modify(|m| m.current_term = 3);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "Raft still runs");
        metrics_tx.send_modify(|m| m.running_state = Err(Fatal::Panicked));
        drop(server_tx);
        let why = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("resolves")
            .expect("task");
        assert_eq!(why, "panicked");
    }

    #[tokio::test]
    async fn resolves_when_the_core_is_gone_without_a_reason() {
        let (server_tx, server_rx) = watch::channel(Server::default());
        let (_metrics_tx, metrics_rx) = watch::channel(Metrics::new_initial(1));
        drop(server_tx);
        assert_eq!(
            stopped(server_rx, metrics_rx).await,
            "Raft's core has exited"
        );
    }
}
