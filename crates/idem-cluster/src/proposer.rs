//! The leader's write path: commands proposed at the same moment are
//! stamped once and written as one log entry ([`crate::batcher`]), and each
//! proposer gets its own command's outcome once the entry is committed
//! (fsynced on a majority) and applied.

use std::sync::Arc;
use std::time::Duration;

use idem_core::{Command, Outcome, StampedBatch};
use openraft::type_config::async_runtime::WatchReceiver;

use crate::batcher::{BatchResult, Batcher};
use crate::clock::ClusterClock;
use crate::error::ClusterError;
use crate::tasks::NodeTasks;
use crate::types::Raft;

#[derive(Clone)]
pub(crate) struct Proposer {
    batcher: Batcher,
    timeout: Duration,
}

impl Proposer {
    /// Starts the batching task (owned by `tasks`) that writes through
    /// `raft`, stamping each entry with `clock`, with at most `in_flight`
    /// entries on their way.
    pub(crate) fn spawn(
        tasks: &NodeTasks,
        raft: Raft,
        clock: Arc<ClusterClock>,
        in_flight: usize,
        timeout: Duration,
    ) -> Proposer {
        let batcher = Batcher::spawn(tasks, idem_core::MAX_BATCH, in_flight, move |commands| {
            write_batch(raft.clone(), clock.clone(), timeout, commands)
        });
        Proposer { batcher, timeout }
    }

    /// Proposes a command; this node must be the leader.
    pub(crate) async fn propose(&self, command: Command) -> Result<Outcome, ClusterError> {
        match tokio::time::timeout(self.timeout, self.batcher.propose(command)).await {
            Err(_) => Err(ClusterError::Timeout),
            Ok(result) => result,
        }
    }
}

/// Stamps one batch of commands and writes it as one log entry; answers one
/// outcome per command, in order (a refused entry answers the refusal for
/// each). This node must be the leader.
async fn write_batch(
    raft: Raft,
    clock: Arc<ClusterClock>,
    timeout: Duration,
    commands: Vec<Command>,
) -> BatchResult {
    let stamp = clock
        .stamp()
        .map_err(|no| no.into_error(raft.metrics().borrow_watched().current_leader))?;
    let batch =
        StampedBatch::new(stamp, commands).map_err(|e| ClusterError::Unavailable(e.to_string()))?;
    match tokio::time::timeout(timeout, raft.client_write(batch)).await {
        Err(_) => Err(ClusterError::Timeout),
        Ok(Err(e)) => Err(ClusterError::from_raft(e)),
        Ok(Ok(resp)) => Ok(resp.data.into_iter().map(Ok).collect()),
    }
}
