//! Tells when Raft has stopped on this node.
//!
//! openraft stops its core for good on a fatal error (a storage call that
//! failed, a panic); the node then answers nothing useful, and `/ready` says
//! so, but a process that stays up is never restarted by a supervisor. The
//! server waits on [`stopped`] beside its HTTP server and exits when it
//! resolves.

use openraft::RaftMetrics;
use tokio::sync::watch;

use crate::types::{NodeAddr, NodeId};

/// Resolves once Raft's metrics report that it stopped (or the core is
/// gone), with why.
pub(crate) async fn stopped(mut metrics: watch::Receiver<RaftMetrics<NodeId, NodeAddr>>) -> String {
    loop {
        let state = metrics.borrow_and_update().running_state.clone();
        if let Err(fatal) = state {
            return fatal.to_string();
        }
        if metrics.changed().await.is_err() {
            return "Raft's core has exited".to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::error::Fatal;

    use super::*;

    #[tokio::test]
    async fn resolves_when_raft_reports_a_fatal_error_and_not_before() {
        let (tx, rx) = watch::channel(RaftMetrics::<NodeId, NodeAddr>::new_initial(1));
        let waiter = tokio::spawn(stopped(rx));
        tx.send_modify(|m| m.current_term = 3);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "Raft still runs");
        tx.send_modify(|m| m.running_state = Err(Fatal::Panicked));
        let why = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("resolves")
            .expect("task");
        assert_eq!(why, "panicked");
    }

    #[tokio::test]
    async fn resolves_when_the_core_is_gone() {
        let (tx, rx) = watch::channel(RaftMetrics::<NodeId, NodeAddr>::new_initial(1));
        drop(tx);
        assert_eq!(stopped(rx).await, "Raft's core has exited");
    }
}
