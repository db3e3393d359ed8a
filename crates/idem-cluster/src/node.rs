//! One cluster node: starts Raft on the store, listens for peers, and
//! carries out client requests. Any node serves any request: a follower
//! forwards it to the leader over the inter-node transport.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use idem_core::{Command, Outcome, StampedBatch};
use idem_store::{StartupReport, StateReader, SyncStats};
use openraft::{ServerState, Vote};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::batcher::{BatchResult, Batcher};
use crate::clock::{wall_now_ms, ClusterClock};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::forwarder::Forwarder;
use crate::leader_lease::LeaderLease;
use crate::network::Network;
use crate::peer_client::PeerClients;
use crate::read_barrier::ReadBarrier;
use crate::rpc::{ForwardError, ReadIndex, ReadReply, ReadRequest, Request, Response};
use crate::types::{NodeAddr, NodeId, Raft, Store};

/// Picks the expected answer out of a leader's response, or hands back a
/// response of another kind.
pub(crate) type PickAnswer<T> = fn(Response) -> Result<Result<T, ForwardError>, Box<Response>>;

#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

/// A handle that does not keep the node alive, for its own background tasks.
#[derive(Clone)]
pub(crate) struct WeakClusterNode(Weak<Inner>);

impl WeakClusterNode {
    pub(crate) fn upgrade(&self) -> Option<ClusterNode> {
        self.0.upgrade().map(|inner| ClusterNode { inner })
    }
}

struct Inner {
    id: NodeId,
    raft: Raft,
    reader: StateReader,
    clock: ClusterClock,
    peers: Arc<PeerClients>,
    config: ClusterConfig,
    report: StartupReport,
    log_sync: Arc<SyncStats>,
    /// Puts the commands this node proposes as leader into shared entries.
    batcher: Batcher,
    /// Lets concurrent linearizable reads on the leader share quorum rounds;
    /// a round's value is its read index.
    read_barrier: ReadBarrier<u64>,
    /// Lets concurrent linearizable reads on a follower share the leader's
    /// answers (see [`crate::follower_read`]).
    read_index_barrier: ReadBarrier<ReadIndex>,
    /// Carries commands to the leader when this node follows.
    forwarder: Forwarder,
    /// When this node, as leader, may read without a quorum round.
    lease: Arc<LeaderLease>,
}

/// A member as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub id: NodeId,
    pub addr: NodeAddr,
    pub voter: bool,
    pub matched_index: Option<u64>,
    /// Entries this member is behind the leader's log (leader only).
    pub lag: Option<u64>,
    pub clock_offset_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub id: NodeId,
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
    pub members: Vec<MemberView>,
}

impl From<ForwardError> for ClusterError {
    fn from(e: ForwardError) -> Self {
        match e {
            ForwardError::NotLeader(_) => ClusterError::NoLeader,
            ForwardError::LeadershipChanged => ClusterError::LeadershipChanged,
            ForwardError::Timeout => ClusterError::Timeout,
            ForwardError::Unavailable(s) => ClusterError::Unavailable(s),
        }
    }
}

impl ClusterNode {
    /// Opens the data directory (refusing corrupt data), starts Raft and the
    /// peer listener, and bootstraps the cluster on first start.
    pub async fn start(config: ClusterConfig) -> Result<ClusterNode, ClusterError> {
        let store = Store::open(&config.data_dir)?;
        let fresh = store.report.last_log_index.is_none() && store.report.snapshot_index.is_none();
        step_down_after_restart(&store, config.id)?;
        let applied = store.reader.applied_clock();
        let raft_config = config.raft_config().map_err(ClusterError::Startup)?;
        let peers = Arc::new(PeerClients::new(&config.addr.raft));
        let lease = Arc::new(LeaderLease::new(config.election_timeout_ms));
        let network = Network {
            self_id: config.id,
            peers: peers.clone(),
            lease: lease.clone(),
        };
        let listener = TcpListener::bind(&config.addr.raft).await.map_err(|e| {
            ClusterError::Startup(format!("cannot listen on {}: {e}", config.addr.raft))
        })?;
        let log_sync = store.log.sync_stats();
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            network,
            store.log,
            store.state_machine,
        )
        .await
        .map_err(|e| ClusterError::Startup(e.to_string()))?;
        let node = ClusterNode {
            inner: Arc::new_cyclic(|inner: &Weak<Inner>| {
                let weak = WeakClusterNode(inner.clone());
                let inner = inner.clone();
                let batcher = Batcher::spawn(
                    idem_core::MAX_BATCH,
                    config.batches_in_flight,
                    move |commands| write_batch(inner.clone(), commands),
                );
                let (barrier_raft, timeout) = (raft.clone(), config.request_timeout);
                let read_barrier =
                    ReadBarrier::spawn(move || confirm_leadership(barrier_raft.clone(), timeout));
                let read_index_barrier = crate::follower_read::spawn_read_index_barrier(weak);
                let forwarder = Forwarder::new(peers.clone(), config.request_timeout);
                Inner {
                    id: config.id,
                    raft: raft.clone(),
                    reader: store.reader,
                    clock: ClusterClock::new(config.max_clock_offset_ms, applied),
                    peers,
                    report: store.report,
                    log_sync,
                    batcher,
                    read_barrier,
                    read_index_barrier,
                    forwarder,
                    lease,
                    config,
                }
            }),
        };
        tokio::spawn(crate::rpc_server::serve(listener, node.clone()));
        tokio::spawn(track_leadership(node.clone()));
        tokio::spawn(measure_clock_offsets(node.clone()));
        tokio::spawn(crate::snapshot_policy::take_snapshots(
            node.clone(),
            node.inner.config.snapshot_every,
        ));
        tokio::spawn(crate::cleaner::clean_expired(
            node.clone(),
            node.inner.config.purge_every,
        ));
        if fresh
            && !node.inner.config.join
            && !raft
                .is_initialized()
                .await
                .map_err(|e| ClusterError::Startup(e.to_string()))?
        {
            // Every fresh member proposes the same initial membership at log
            // index 0, so it does not matter which of them starts first.
            if let Err(e) = raft.initialize(node.inner.config.members.clone()).await {
                tracing::info!("cluster already initialized: {e}");
            }
        }
        Ok(node)
    }

    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    pub fn startup_report(&self) -> &StartupReport {
        &self.inner.report
    }

    pub(crate) fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub(crate) fn clock(&self) -> &ClusterClock {
        &self.inner.clock
    }

    pub(crate) fn reader(&self) -> &StateReader {
        &self.inner.reader
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.config.request_timeout
    }

    pub(crate) fn read_index_barrier(&self) -> &ReadBarrier<ReadIndex> {
        &self.inner.read_index_barrier
    }

    /// Whether Raft is still running on this node.
    pub fn is_running(&self) -> bool {
        self.inner.raft.metrics().borrow().running_state.is_ok()
    }

    /// Resolves once Raft has stopped on this node (a fatal error, or a
    /// shutdown), with why.
    pub async fn raft_stopped(&self) -> String {
        crate::raft_stop::stopped(self.inner.raft.server_metrics(), self.inner.raft.metrics()).await
    }

    pub async fn shutdown(&self) {
        let _ = self.inner.raft.shutdown().await;
    }

    /// Carries out a command: proposes it if this node leads, forwards it to
    /// the leader otherwise (together with the other commands forwarded at
    /// the same moment). A reserve that leaves the record unchanged (a
    /// replay) is answered by a linearizable read where it arrived. Waits
    /// out a short election.
    pub async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        let local = || self.execute_as_leader(command.clone());
        let remote = |leader: NodeAddr| {
            let command = command.clone();
            async move {
                if let Command::Reserve(reserve) = &command {
                    if let Some(answer) = self.reserve_by_read(reserve, Role::Follower).await? {
                        return Ok(Outcome::Reserve(answer));
                    }
                }
                self.inner.forwarder.forward(leader, command).await
            }
        };
        self.on_leader(local, remote).await
    }

    /// A linearizable read, served by this node (a follower first learns
    /// from the leader how far it must have applied).
    pub async fn read(&self, read: ReadRequest) -> Result<ReadReply, ClusterError> {
        #[cfg(feature = "planted-bugs")]
        if idem_core::planted_bug() == Some(idem_core::PlantedBug::StaleReads) {
            return self.read_stale(read).map_err(ClusterError::from);
        }
        let local = || self.linearizable_read(read.clone(), Role::Leader);
        let remote = |_leader: NodeAddr| self.linearizable_read(read.clone(), Role::Follower);
        self.on_leader(local, remote).await
    }

    /// Runs `local` if this node leads, or `remote` with the leader's
    /// address otherwise; retries (until the request timeout) only while no
    /// leader can be reached, i.e. when nothing can have been applied.
    pub(crate) async fn on_leader<T, Local, Remote>(
        &self,
        local: impl Fn() -> Local,
        remote: impl Fn(NodeAddr) -> Remote,
    ) -> Result<T, ClusterError>
    where
        Local: std::future::Future<Output = Result<T, ForwardError>>,
        Remote: std::future::Future<Output = Result<T, ForwardError>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        loop {
            let attempt = match self.leader() {
                Some((id, _)) if id == self.inner.id => local().await,
                Some((_, addr)) => remote(addr).await,
                None => Err(ForwardError::NotLeader(None)),
            };
            match attempt {
                Err(ForwardError::NotLeader(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other.map_err(ClusterError::from),
            }
        }
    }

    /// Sends one request to the leader at `to` and picks the expected answer
    /// out of its response (`answer` hands any other response back).
    pub(crate) async fn ask_leader<T>(
        &self,
        request: Request,
        to: &NodeAddr,
        repeatable: bool,
        timeout: Duration,
        answer: PickAnswer<T>,
    ) -> Result<T, ForwardError> {
        let response = call_leader(&self.inner.peers, request, to, repeatable, timeout).await?;
        answer(response).unwrap_or_else(|other| {
            Err(ForwardError::Unavailable(format!(
                "unexpected answer {other:?}"
            )))
        })
    }

    /// The leader as this node knows it, with its address.
    pub(crate) fn leader(&self) -> Option<(NodeId, NodeAddr)> {
        let metrics = self.inner.raft.metrics();
        let metrics = metrics.borrow();
        let id = metrics.current_leader?;
        let addr = metrics
            .membership_config
            .membership()
            .get_node(&id)
            .cloned()?;
        Some((id, addr))
    }

    /// Carries out a command on the leader. A reserve that would leave the
    /// record unchanged (a replay, in progress, a mismatch) is answered by a
    /// linearizable read; everything else is stamped and proposed.
    pub(crate) async fn execute_as_leader(
        &self,
        command: Command,
    ) -> Result<Outcome, ForwardError> {
        if let Command::Reserve(reserve) = &command {
            if let Some(answer) = self.reserve_by_read(reserve, Role::Leader).await? {
                return Ok(Outcome::Reserve(answer));
            }
        }
        self.propose(command).await
    }

    /// The answer to `reserve` if it leaves the record unchanged, judged by
    /// a linearizable read; `None` when it must go through the log. A cheap
    /// look at the local state first (at the time it has applied up to)
    /// keeps fresh keys from paying for the read's round.
    async fn reserve_by_read(
        &self,
        reserve: &idem_core::Reserve,
        role: Role,
    ) -> Result<Option<idem_core::ReserveOutcome>, ForwardError> {
        let reader = &self.inner.reader;
        let judge = |now: &idem_core::Stamp| {
            idem_core::reserve_without_write(reader, reserve, now).map_err(ForwardError::from)
        };
        let applied = reader.applied_clock();
        if judge(&applied.now())?.is_none() {
            return Ok(None);
        }
        let now = self.linearizable_read_point(role).await?;
        judge(&now)
    }

    /// Proposes a command; this node must be the leader. Commands proposed
    /// at the same time share a log entry (see [`crate::batcher`]); each
    /// caller gets its own command's outcome.
    async fn propose(&self, command: Command) -> Result<Outcome, ForwardError> {
        let timeout = self.inner.config.request_timeout;
        match tokio::time::timeout(timeout, self.inner.batcher.propose(command)).await {
            Err(_) => Err(ForwardError::Timeout),
            Ok(result) => result,
        }
    }

    /// Confirms that this node still leads, with the local state machine
    /// applied far enough that reads of the local state are linearizable,
    /// and returns the read index (everything answered so far is applied at
    /// or below it). Under the leader lease that needs no round (see
    /// [`crate::leader_lease`]); otherwise it is a quorum round, shared by
    /// concurrent callers (see [`crate::read_barrier`]).
    async fn linearizable_barrier(&self) -> Result<u64, ForwardError> {
        if let Some(index) = self.lease_read_index() {
            return Ok(index);
        }
        self.inner.read_barrier.wait().await
    }

    /// The read index, if this node leads and holds the lease and has
    /// applied an entry of its own term (so also everything earlier leaders
    /// committed); `None` when a quorum round is needed.
    fn lease_read_index(&self) -> Option<u64> {
        let vote = self.leads_under_lease()?;
        self.inner
            .reader
            .applied_log_id()
            .filter(|log_id| log_id.leader_id == *vote.leader_id())
            .map(|log_id| log_id.index)
    }

    /// This node's vote, if it leads and holds the leader lease.
    fn leads_under_lease(&self) -> Option<Vote<NodeId>> {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        if m.state != ServerState::Leader {
            return None;
        }
        let config = m.membership_config.membership().get_joint_config();
        self.inner
            .lease
            .holds(self.inner.id, &m.vote, config)
            .then_some(m.vote)
    }

    /// Whether this node refuses to vote for anyone: it started less than
    /// an election timeout ago (it may have acknowledged a leader just
    /// before it stopped), or it leads under the lease.
    pub(crate) fn refuses_votes(&self) -> Option<&'static str> {
        #[cfg(feature = "planted-bugs")]
        if crate::leader_lease::planted_long_lease() {
            return None;
        }
        if self.inner.lease.starting() {
            Some("this node has just started")
        } else if self.leads_under_lease().is_some() {
            Some("this node leads, and its lease holds")
        } else {
            None
        }
    }

    /// Waits until reads of this node's state are linearizable, and returns
    /// the time to judge them at: as leader, see [`Self::leader_read_point`];
    /// as follower, see [`crate::follower_read`].
    async fn linearizable_read_point(&self, role: Role) -> Result<idem_core::Stamp, ForwardError> {
        match role {
            Role::Leader => Ok(self.leader_read_point().await?.stamp),
            Role::Follower => self.follower_read_point().await,
        }
    }

    /// On the leader: confirms leadership (under the lease, or by a shared
    /// quorum round) and returns the read index with a fresh stamp taken
    /// after the confirmation, never earlier than what has been applied.
    /// The leader's own reads use it, and so does its answer to a
    /// follower's [`Request::ReadIndex`].
    pub(crate) async fn leader_read_point(&self) -> Result<ReadIndex, ForwardError> {
        let index = self.linearizable_barrier().await?;
        let applied = self.inner.reader.applied_clock();
        let stamp = self
            .inner
            .clock
            .read_stamp(applied)
            .ok_or(ForwardError::NotLeader(None))?;
        Ok(ReadIndex { index, stamp })
    }

    /// A linearizable read of this node's state.
    async fn linearizable_read(
        &self,
        read: ReadRequest,
        role: Role,
    ) -> Result<ReadReply, ForwardError> {
        let now = self.linearizable_read_point(role).await?;
        self.read_local(read, now)
    }

    /// Reads this node's own state, as it stands, judged at `now`:
    /// linearizable only right after [`Self::linearizable_read_point`].
    ///
    /// A record is shown as stored, even once its retention has passed: it
    /// is forgotten only by a log entry (a purge, or the next command on the
    /// key). Hiding it here by the clock would not be linearizable, since a
    /// later leader may judge the same deadline not yet passed (its
    /// monotonic bound starts again with its term) and show it again.
    fn read_local(
        &self,
        read: ReadRequest,
        now: idem_core::Stamp,
    ) -> Result<ReadReply, ForwardError> {
        let reader = &self.inner.reader;
        match read {
            ReadRequest::Record(id) => {
                let record = reader.raw_record(&id)?;
                Ok(ReadReply::Record { record, now })
            }
            ReadRequest::Policy(ns) => Ok(ReadReply::Policy(reader.namespace_policy(&ns)?)),
        }
    }

    /// The planted bug: any node answers from its own, possibly stale, state
    /// at the time it has applied up to.
    #[cfg(feature = "planted-bugs")]
    fn read_stale(&self, read: ReadRequest) -> Result<ReadReply, ForwardError> {
        let now = self.inner.reader.applied_clock().now();
        self.read_local(read, now)
    }

    pub fn status(&self) -> StatusView {
        let m = self.inner.raft.metrics().borrow().clone();
        let offsets = self.inner.clock.offsets();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, addr)| {
                let matched = m
                    .replication
                    .as_ref()
                    .map(|r| r.get(id).cloned().flatten().map(|l| l.index));
                MemberView {
                    id: *id,
                    addr: addr.clone(),
                    voter: voters.contains(id),
                    matched_index: matched.flatten(),
                    lag: matched
                        .map(|i| m.last_log_index.unwrap_or(0).saturating_sub(i.unwrap_or(0))),
                    clock_offset_ms: if *id == self.inner.id {
                        Some(0)
                    } else {
                        offsets.get(id).copied()
                    },
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
        StatusView {
            id: self.inner.id,
            state: format!("{:?}", m.state),
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            commit_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            log_appends: self.inner.log_sync.completions(),
            log_syncs: self.inner.log_sync.syncs(),
            members,
        }
    }

    /// Whether this node can serve: a leader is known and this node has
    /// applied what it has in its log.
    pub fn is_ready(&self) -> bool {
        let m = self.inner.raft.metrics().borrow().clone();
        m.current_leader.is_some() && m.running_state.is_ok()
    }
}

/// Stamps one batch of commands and writes it as one log entry; answers one
/// outcome per command, in order (a refused entry answers the refusal for
/// each). This node must be the leader.
async fn write_batch(inner: Weak<Inner>, commands: Vec<Command>) -> BatchResult {
    let Some(inner) = inner.upgrade() else {
        return Err(ForwardError::Unavailable("the node has stopped".into()));
    };
    let raft = &inner.raft;
    let Some(stamp) = inner.clock.stamp() else {
        return Err(ForwardError::NotLeader(
            raft.metrics().borrow().current_leader,
        ));
    };
    let batch =
        StampedBatch::new(stamp, commands).map_err(|e| ForwardError::Unavailable(e.to_string()))?;
    let write = raft.client_write(batch);
    match tokio::time::timeout(inner.config.request_timeout, write).await {
        Err(_) => Err(ForwardError::Timeout),
        Ok(Err(e)) => Err(ForwardError::from_raft(e)),
        Ok(Ok(resp)) => Ok(resp.data.into_iter().map(Ok).collect()),
    }
}

/// openraft 0.9 restores a node whose stored vote is its own committed vote
/// straight back to leader of the same term. Its monotonic clock restarted,
/// so its stamps could not be compared with its earlier ones. Raising the
/// term (as a candidate does) makes it start as a follower and lets a fresh
/// election pick a leader for a new term.
fn step_down_after_restart(store: &Store, id: NodeId) -> Result<(), ClusterError> {
    if let Some(vote) = store.log.read_vote_now()? {
        if vote.is_committed() && vote.leader_id().node_id == id {
            store
                .log
                .store_vote(&Vote::new(vote.leader_id().term + 1, id))?;
        }
    }
    Ok(())
}

/// Keeps the clock told whether this node leads, and in which term. It
/// watches the server metrics (vote, role, leader), which change only with
/// them, not the full metrics, which change several times per log entry.
async fn track_leadership(node: ClusterNode) {
    let mut rx = node.inner.raft.server_metrics();
    loop {
        let leader_term = {
            let m = rx.borrow_and_update();
            let leading = m.state == ServerState::Leader && m.current_leader == Some(node.inner.id);
            leading.then_some(m.vote.leader_id().term)
        };
        node.inner.clock.set_leadership(leader_term);
        if rx.changed().await.is_err() {
            node.inner.clock.set_leadership(None);
            return;
        }
    }
}

async fn measure_clock_offsets(node: ClusterNode) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let members: BTreeMap<NodeId, NodeAddr> = {
            let m = node.inner.raft.metrics().borrow().clone();
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
            if id == node.inner.id {
                continue;
            }
            let client = node.inner.peers.get(&addr.raft);
            let sent = wall_now_ms();
            if let Ok(Response::ClockProbe { wall_ms }) = client
                .call(&Request::ClockProbe, Duration::from_millis(500), true)
                .await
            {
                let received = wall_now_ms();
                let midpoint = (sent + received) / 2;
                node.inner
                    .clock
                    .record_offset(id, wall_ms as i64 - midpoint as i64);
            }
        }
    }
}

/// Where a linearizable read is served.
#[derive(Debug, Clone, Copy)]
enum Role {
    Leader,
    Follower,
}

/// One quorum round: confirms that this node still leads and waits until it
/// has applied everything committed before the confirmation, whose index it
/// returns.
async fn confirm_leadership(raft: Raft, timeout: Duration) -> Result<u64, ForwardError> {
    match tokio::time::timeout(timeout, raft.ensure_linearizable()).await {
        Err(_) => Err(ForwardError::Timeout),
        Ok(Err(e)) => Err(ForwardError::from_raft(e)),
        Ok(Ok(read_log_id)) => Ok(read_log_id.map_or(0, |l| l.index)),
    }
}

/// Sends `request` to the leader at `to`. Only a leader that could not be
/// reached at all (nothing was sent) is reported as [`ForwardError::NotLeader`],
/// which callers may retry.
pub(crate) async fn call_leader(
    peers: &PeerClients,
    request: Request,
    to: &NodeAddr,
    repeatable: bool,
    timeout: Duration,
) -> Result<Response, ForwardError> {
    match peers
        .get(&to.raft)
        .call(&request, timeout, repeatable)
        .await
    {
        Ok(response) => Ok(response),
        Err(crate::peer_client::CallError::Unreachable { .. }) => {
            Err(ForwardError::NotLeader(None))
        }
        Err(crate::peer_client::CallError::Timeout { .. }) => Err(ForwardError::Timeout),
        Err(e) => Err(ForwardError::Unavailable(e.to_string())),
    }
}
