//! A follower carries its clients' commands to the leader in batches.
//!
//! Two thirds of a cluster's requests arrive at followers. Sent one by one,
//! each costs a round trip on the inter-node connection and a pooled
//! connection of its own while it waits. Instead, the commands forwarded at
//! the same moment go to the leader in one [`Request::Forward`] (a
//! [`Batcher`] per leader address, a few batches in flight), where they are
//! carried out concurrently and answered in order.
//!
//! A command is forwarded only when nothing of it can have been applied
//! unless the leader received it: a leader that could not be reached is
//! [`ClusterError::NotLeader`] (the caller may try again), while a broken or
//! timed-out exchange is indeterminate and never retried here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idem_core::{Command, Outcome};

use crate::batcher::{BatchResult, Batcher};
use crate::error::ClusterError;
use crate::rpc::{Request, Response};
use crate::tasks::NodeTasks;
use crate::transport::{call_leader, Transport};
use crate::types::NodeAddr;

/// Forward batches on their way to one leader at once.
const FORWARDS_IN_FLIGHT: usize = 4;

pub(crate) struct Forwarder {
    /// Where the batchers' tasks belong.
    tasks: Arc<NodeTasks>,
    peers: Arc<dyn Transport>,
    timeout: Duration,
    /// One batcher per leader address this node has forwarded to.
    to_leader: Mutex<HashMap<String, Batcher>>,
}

impl Forwarder {
    pub(crate) fn new(tasks: Arc<NodeTasks>, peers: Arc<dyn Transport>, timeout: Duration) -> Self {
        Forwarder {
            tasks,
            peers,
            timeout,
            to_leader: Mutex::new(HashMap::new()),
        }
    }

    /// Carries `command` to the leader at `leader` and returns its outcome.
    pub(crate) async fn forward(
        &self,
        leader: NodeAddr,
        command: Command,
    ) -> Result<Outcome, ClusterError> {
        self.batcher(leader).propose(command).await
    }

    fn batcher(&self, leader: NodeAddr) -> Batcher {
        let mut map = match self.to_leader.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(leader.raft.clone())
            .or_insert_with(|| {
                let (peers, timeout) = (self.peers.clone(), self.timeout);
                let tasks = &self.tasks;
                Batcher::spawn(
                    tasks,
                    idem_core::MAX_BATCH,
                    FORWARDS_IN_FLIGHT,
                    move |commands| send_batch(peers.clone(), leader.clone(), commands, timeout),
                )
            })
            .clone()
    }
}

async fn send_batch(
    peers: Arc<dyn Transport>,
    leader: NodeAddr,
    commands: Vec<Command>,
    timeout: Duration,
) -> BatchResult {
    let request = Request::Forward(commands);
    match call_leader(&*peers, &request, &leader, false, timeout).await? {
        Response::Forward(results) => Ok(results),
        other => Err(ClusterError::Unavailable(format!(
            "unexpected answer {other:?}"
        ))),
    }
}
