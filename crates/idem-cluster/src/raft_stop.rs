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
use openraft::type_config::async_runtime::WatchReceiver;
use openraft::RaftMetrics;

use crate::types::{IdemTypes, Watched};

/// Resolves once Raft's core has exited, with why.
pub(crate) async fn stopped(
    mut server: Watched<RaftServerMetrics<IdemTypes>>,
    metrics: Watched<RaftMetrics<IdemTypes>>,
) -> String {
    while server.changed().await.is_ok() {}
    let state = metrics.borrow_watched().running_state.clone();
    match state {
        Err(fatal) => fatal.to_string(),
        Ok(()) => "Raft's core has exited".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::error::Fatal;
    use openraft::type_config::async_runtime::WatchSender;
    use openraft::type_config::TypeConfigExt;

    use super::*;

    type Server = RaftServerMetrics<IdemTypes>;
    type Metrics = RaftMetrics<IdemTypes>;

    fn server_metrics() -> Server {
        let m = Metrics::new_initial(1);
        Server {
            id: m.id,
            vote: m.vote,
            state: m.state,
            current_leader: m.current_leader,
            membership_config: m.membership_config.clone(),
            committed_membership_config: m.membership_config,
        }
    }

    #[tokio::test]
    async fn resolves_when_the_core_exits_with_its_fatal_error_and_not_before() {
        let (server_tx, server_rx) = IdemTypes::watch_channel(server_metrics());
        let (metrics_tx, metrics_rx) = IdemTypes::watch_channel(Metrics::new_initial(1));
        let waiter = tokio::spawn(stopped(server_rx, metrics_rx));
        server_tx.send_if_modified(|m| {
            m.current_leader = Some(2);
            true
        });
        metrics_tx.send_if_modified(|m| {
            m.current_term = 3;
            true
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "Raft still runs");
        metrics_tx.send_if_modified(|m| {
            m.running_state = Err(Fatal::Panicked);
            true
        });
        drop(server_tx);
        let why = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("resolves")
            .expect("task");
        assert_eq!(why, "panicked");
    }

    #[tokio::test]
    async fn resolves_when_the_core_is_gone_without_a_reason() {
        let (server_tx, server_rx) = IdemTypes::watch_channel(server_metrics());
        let (_metrics_tx, metrics_rx) = IdemTypes::watch_channel(Metrics::new_initial(1));
        drop(server_tx);
        assert_eq!(
            stopped(server_rx, metrics_rx).await,
            "Raft's core has exited"
        );
    }
}
