//! Three (or five) real nodes in one test process: the real openraft, the
//! real RocksDB store in a temporary directory, a [`Net`] the test
//! controls, and a wall clock per node that the test can step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use idem_cluster::{
    ClusterConfig, ClusterError, ClusterNode, ControlledClocks, NodeAddr, NodeId, ReadReply,
    ReadRequest,
};
use idem_core::{
    AttemptId, Command, Complete, FencingToken, Fingerprint, IdemKey, KeyId, LeaseDuration,
    Namespace, Outcome, Record, Reserve, ReserveOutcome, RetainDuration, StoredResponse,
};

use super::net::Net;

/// The production timings (heartbeats every 100 ms, which is also the
/// timeout of a replication call; elections after 300-400 ms of silence, so
/// the leader lease is 270 ms), and requests that give up after 2 s.
pub fn test_config(
    id: NodeId,
    dir: &std::path::Path,
    members: &BTreeMap<NodeId, NodeAddr>,
) -> ClusterConfig {
    let mut config = ClusterConfig::new(
        id,
        dir.join(format!("n{id}")),
        members[&id].clone(),
        members.clone(),
    );
    config.request_timeout = Duration::from_secs(2);
    config.purge_every = Duration::from_millis(200);
    config
}

pub struct TestNode {
    pub node: ClusterNode,
    pub clocks: Arc<ControlledClocks>,
    config: ClusterConfig,
}

pub struct TestCluster {
    pub net: Arc<Net>,
    pub nodes: BTreeMap<NodeId, TestNode>,
    /// Stopped nodes: how to start them again.
    stopped: BTreeMap<NodeId, (ClusterConfig, Arc<ControlledClocks>)>,
    _dir: tempfile::TempDir,
}

/// The namespace every test key lives in.
pub fn key(name: &str) -> KeyId {
    KeyId::new(
        Namespace::new("test").expect("namespace"),
        IdemKey::new(name).expect("key"),
    )
}

pub fn reserve(name: &str, lease_ms: u64) -> Command {
    Command::Reserve(Reserve {
        id: key(name),
        fingerprint: Some(Fingerprint::new("fp").expect("fingerprint")),
        lease: Some(LeaseDuration::from_ms(lease_ms).expect("lease")),
        retain: None,
        attempt: None,
    })
}

/// A reserve by the attempt `attempt` (any string of 22 or more base64url
/// characters).
pub fn reserve_by(name: &str, lease_ms: u64, attempt: &str) -> Reserve {
    Reserve {
        id: key(name),
        fingerprint: Some(Fingerprint::new("fp").expect("fingerprint")),
        lease: Some(LeaseDuration::from_ms(lease_ms).expect("lease")),
        retain: None,
        attempt: Some(AttemptId::new(attempt).expect("attempt id").digest()),
    }
}

/// A reserve without an attempt, as a struct (for `reserve_waiting`).
pub fn reserve_cmd(name: &str, lease_ms: u64) -> Reserve {
    match reserve(name, lease_ms) {
        Command::Reserve(r) => r,
        _ => unreachable!(),
    }
}

pub fn reserve_retained(name: &str, lease_ms: u64, retain_ms: u64) -> Command {
    Command::Reserve(Reserve {
        id: key(name),
        fingerprint: Some(Fingerprint::new("fp").expect("fingerprint")),
        lease: Some(LeaseDuration::from_ms(lease_ms).expect("lease")),
        retain: Some(RetainDuration::from_ms(retain_ms).expect("retain")),
        attempt: None,
    })
}

pub fn complete(name: &str, token: FencingToken, body: &str) -> Command {
    Command::Complete(Complete {
        id: key(name),
        token,
        response: StoredResponse::new(201, BTreeMap::new(), body).expect("response"),
    })
}

/// The token of a fresh grant, or what was answered instead.
pub fn granted(outcome: &Outcome) -> Option<FencingToken> {
    match outcome {
        Outcome::Reserve(ReserveOutcome::Reserved { token, .. }) => Some(*token),
        _ => None,
    }
}

/// What a read after an acknowledged completion may answer: the completed
/// record, or a refusal (it could not confirm it is up to date). Anything
/// else is a stale read, said in `Err` as `who` answered it.
pub fn completed_or_refused(
    who: &str,
    read: Result<Option<Record>, ClusterError>,
) -> Result<(), String> {
    match read {
        Ok(Some(Record::Completed(_))) | Err(_) => Ok(()),
        Ok(stale) => Err(format!(
            "{who} answered a state older than an acknowledged write: {stale:?}"
        )),
    }
}

/// A scenario run with a bug planted must have found it: its `Err` must say
/// `what`.
pub fn must_catch(found: Result<(), String>, what: &str) {
    match found {
        Ok(()) => panic!("the planted bug went unnoticed"),
        Err(why) => assert!(why.contains(what), "caught, but not as expected: {why}"),
    }
}

/// Polls `check` every few milliseconds until it holds, for at most
/// `within`; the condition, not a fixed sleep, decides how long it takes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl TestCluster {
    /// `n` fresh nodes, configured by [`test_config`] and then by `tune`.
    pub async fn start(n: u64, tune: impl Fn(&mut ClusterConfig)) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let net = Net::new();
        let members: BTreeMap<NodeId, NodeAddr> = (1..=n)
            .map(|id| {
                let addr = NodeAddr {
                    raft: format!("node-{id}:raft"),
                    http: format!("node-{id}:http"),
                };
                (id, addr)
            })
            .collect();
        for (id, addr) in &members {
            net.register(*id, &addr.raft);
        }
        let mut nodes = BTreeMap::new();
        for id in members.keys() {
            let mut config = test_config(*id, dir.path(), &members);
            tune(&mut config);
            let clocks = Arc::new(ControlledClocks::new());
            let node = ClusterNode::start_with(config.clone(), net.endpoint(*id), clocks.clone())
                .await
                .expect("node starts");
            net.attach(node.clone());
            nodes.insert(
                *id,
                TestNode {
                    node,
                    clocks,
                    config,
                },
            );
        }
        TestCluster {
            net,
            nodes,
            stopped: BTreeMap::new(),
            _dir: dir,
        }
    }

    /// Shuts node `id` down (Raft and every task of the node, joined) and
    /// takes it off the network; its data directory stays.
    pub async fn stop(&mut self, id: NodeId) {
        let stopped = self.nodes.remove(&id).expect("a running node");
        self.net.detach(id);
        stopped.node.shutdown().await;
        self.stopped.insert(id, (stopped.config, stopped.clocks));
    }

    /// Starts node `id` again from its data directory. It opens only if the
    /// stopped node let go of everything (RocksDB refuses a second opener).
    pub async fn restart(&mut self, id: NodeId) {
        let (config, clocks) = self.stopped.remove(&id).expect("a stopped node");
        let node = ClusterNode::start_with(config.clone(), self.net.endpoint(id), clocks.clone())
            .await
            .expect("the node starts again on its own data");
        self.net.attach(node.clone());
        self.nodes.insert(
            id,
            TestNode {
                node,
                clocks,
                config,
            },
        );
    }

    pub fn node(&self, id: NodeId) -> &ClusterNode {
        &self.nodes[&id].node
    }

    pub fn clocks(&self, id: NodeId) -> &ControlledClocks {
        &self.nodes[&id].clocks
    }

    /// Waits until every node in `among` names the same leader, one of
    /// `among`, which says it leads, has agreed on the time (so it can
    /// stamp) and has applied something.
    pub async fn leader_among(&self, among: &[NodeId]) -> NodeId {
        let mut found = None;
        eventually(Duration::from_secs(10), "one leader agreed", || {
            let agreed = self.agreed_leader(among);
            found = agreed;
            async move { agreed.is_some() }
        })
        .await;
        found.expect("a leader")
    }

    pub async fn leader(&self) -> NodeId {
        let all: Vec<NodeId> = self.nodes.keys().copied().collect();
        self.leader_among(&all).await
    }

    fn agreed_leader(&self, among: &[NodeId]) -> Option<NodeId> {
        let leaders: Vec<Option<NodeId>> = among
            .iter()
            .map(|id| self.node(*id).status().leader)
            .collect();
        let first = leaders.first().copied().flatten()?;
        let status = self.node(first).status();
        let settled = among.contains(&first)
            && leaders.iter().all(|l| *l == Some(first))
            && status.state == "Leader"
            && status.cluster_time_synced
            && status.last_applied_index.is_some();
        settled.then_some(first)
    }

    /// The other nodes than `leader`.
    pub fn others(&self, leader: NodeId) -> Vec<NodeId> {
        self.nodes
            .keys()
            .copied()
            .filter(|id| *id != leader)
            .collect()
    }

    pub async fn execute(&self, via: NodeId, command: Command) -> Result<Outcome, ClusterError> {
        self.node(via).execute(command).await
    }

    /// A linearizable read of `name`'s record on node `via`.
    pub async fn read(&self, via: NodeId, name: &str) -> Result<Option<Record>, ClusterError> {
        match self
            .node(via)
            .read(ReadRequest::Record(key(name)), None)
            .await?
        {
            ReadReply::Record { record, .. } => Ok(record),
            other => panic!("unexpected reply {other:?}"),
        }
    }
}
