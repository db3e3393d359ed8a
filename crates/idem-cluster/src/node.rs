//! One cluster node, the crate's façade: starts Raft on the store and the
//! node's parts, and carries out client requests. Any node serves any
//! request: the leader itself ([`LeaderService`]), a follower by forwarding
//! commands ([`Forwarder`]) and by serving reads with a read index from the
//! leader ([`FollowerReads`]).
//!
//! The node owns every task it starts ([`NodeTasks`]); each task gets the
//! handles it needs, never the node, and [`ClusterNode::shutdown`] joins
//! them all.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use idem_core::{ApiKeyId, ApiKeyRecord, AuthSecret, Command, Namespace, Outcome, Reserve, Stamp};
use idem_store::{KeyWatch, StartupReport, StateReader, SyncStats};
use openraft::type_config::async_runtime::WatchReceiver;
use tokio::net::TcpListener;

use crate::clock::ClusterClock;
use crate::cluster_id::ClusterIdentity;
use crate::config::ClusterConfig;
use crate::error::{ClusterError, StartError};
use crate::follower_read::FollowerReads;
use crate::forwarder::Forwarder;
use crate::leader_lease::LeaderLease;
use crate::leader_service::{LeaderParts, LeaderService};
use crate::leadership::known_leader;
use crate::local_reads::{read_local, reserve_by_read};
use crate::membership::MEMBERSHIP_TIMEOUT;
use crate::network::Network;
use crate::peer_client::TcpTransport;
use crate::peer_link::PeerLink;
use crate::peer_service::PeerService;
use crate::peer_tls::PeerTls;
use crate::proposer::Proposer;
use crate::rpc::{MembershipChange, ReadReply, ReadRequest, Request, Response};
use crate::snapshot_transfer::SnapshotReceiver;
use crate::status::ClusterStatus;
use crate::tasks::NodeTasks;
use crate::time_source::{SystemClocks, TimeSource};
use crate::transport::{ask_leader, Transport};
use crate::types::{NodeAddr, NodeId, Raft, Store, Vote};
use crate::waiting::reserve_waiting;

#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

struct Inner {
    id: NodeId,
    raft: Raft,
    reader: StateReader,
    /// Requests waiting for a key, woken by the state machine.
    key_watch: KeyWatch,
    clock: Arc<ClusterClock>,
    transport: Arc<dyn Transport>,
    config: ClusterConfig,
    report: StartupReport,
    log_sync: Arc<SyncStats>,
    /// What this node does as leader.
    leader: Arc<LeaderService>,
    /// Linearizable reads while this node follows.
    follower: FollowerReads,
    /// Carries commands to the leader when this node follows.
    forwarder: Forwarder,
    /// Answers peers.
    peers: Arc<PeerService>,
    tasks: Arc<NodeTasks>,
}

impl ClusterNode {
    /// Opens the data directory (refusing corrupt data), starts Raft and the
    /// peer listener (TCP, on the configured Raft address, with the
    /// machine's clocks), and bootstraps the cluster on first start.
    pub async fn start(config: ClusterConfig) -> Result<ClusterNode, StartError> {
        let tls = config
            .peer_tls
            .as_ref()
            .map(PeerTls::load)
            .transpose()
            .map_err(|e| StartError::Refused(format!("peer TLS: {e}")))?;
        let identity = ClusterIdentity::open(
            &config.data_dir,
            config.join,
            &config.cluster_name,
            &config.members,
        )
        .map_err(StartError::Refused)?;
        let link = Arc::new(PeerLink::new(tls, Arc::new(identity)));
        let listener = TcpListener::bind(&config.addr.raft).await.map_err(|e| {
            StartError::Refused(format!("cannot listen on {}: {e}", config.addr.raft))
        })?;
        let transport = Arc::new(TcpTransport::new(&config.addr.raft, link.clone()));
        let node = Self::start_with(config, transport, Arc::new(SystemClocks)).await?;
        let service = node.inner.peers.clone();
        node.inner
            .tasks
            .spawn(crate::rpc_server::serve(listener, service, link));
        Ok(node)
    }

    /// Like [`Self::start`], but reaching peers through `transport` and
    /// reading the time from `time`, and with no listener: whoever owns the
    /// transport delivers this node's requests to [`Self::serve_peer`]. For
    /// in-process clusters in tests.
    pub async fn start_with(
        config: ClusterConfig,
        transport: Arc<dyn Transport>,
        time: Arc<dyn TimeSource>,
    ) -> Result<ClusterNode, StartError> {
        let store = Store::open(&config.data_dir)?;
        let fresh = store.report.last_log_index.is_none() && store.report.snapshot_index.is_none();
        step_down_after_restart(&store, config.id)?;
        let clock = Arc::new(ClusterClock::new(
            config.id,
            time.clone(),
            config.max_clock_offset_ms,
            store.reader.applied_clock(),
        ));
        let lease = Arc::new(leader_lease(&config, time));
        let network = Network {
            self_id: config.id,
            transport: transport.clone(),
            lease: lease.clone(),
        };
        let log_sync = store.log.sync_stats();
        let snapshot_inbox = store.state_machine.snapshot_inbox();
        let raft_config = config.raft_config().map_err(StartError::Refused)?;
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            network,
            store.log,
            store.state_machine,
        )
        .await
        .map_err(|e| StartError::Refused(e.to_string()))?;
        let (id, reader, timeout) = (config.id, store.reader, config.request_timeout);
        let key_watch = store.key_watch;

        let tasks = Arc::new(NodeTasks::new());
        let proposer = Proposer::spawn(
            &tasks,
            raft.clone(),
            clock.clone(),
            config.batches_in_flight,
            timeout,
        );
        let leader = Arc::new(LeaderService::spawn(
            &tasks,
            LeaderParts {
                id,
                raft: raft.clone(),
                reader: reader.clone(),
                clock: clock.clone(),
                lease,
                proposer: proposer.clone(),
                request_timeout: timeout,
                votes_under_lease: planted(&config, Planted::LongLease),
            },
        ));
        let follower = FollowerReads::spawn(
            &tasks,
            id,
            raft.clone(),
            reader.clone(),
            clock.clone(),
            transport.clone(),
            timeout,
        );
        let forwarder = Forwarder::new(tasks.clone(), transport.clone(), timeout);
        let peers = Arc::new(PeerService {
            raft: raft.clone(),
            snapshots: SnapshotReceiver::new(snapshot_inbox),
            clock: clock.clone(),
            leader: leader.clone(),
        });
        tasks.spawn(crate::leadership::track_leadership(
            raft.clone(),
            id,
            clock.clone(),
            reader.clone(),
        ));
        tasks.spawn(crate::clock_offsets::measure_clock_offsets(
            raft.clone(),
            id,
            transport.clone(),
            clock.clone(),
        ));
        tasks.spawn(crate::snapshot_policy::take_snapshots(
            raft.clone(),
            reader.clone(),
            config.snapshot_every,
        ));
        tasks.spawn(crate::cleaner::clean_expired(
            clock.clone(),
            reader.clone(),
            proposer,
            config.purge_every,
        ));
        if fresh && !config.join {
            let initialized = raft
                .is_initialized()
                .await
                .map_err(|e| StartError::Refused(e.to_string()))?;
            if !initialized {
                // Every fresh member proposes the same initial membership at
                // log index 0, so it does not matter which starts first.
                if let Err(e) = raft.initialize(config.members.clone()).await {
                    tracing::info!("cluster already initialized: {e}");
                }
            }
        }
        Ok(ClusterNode {
            inner: Arc::new(Inner {
                id,
                raft,
                reader,
                key_watch,
                clock,
                transport,
                report: store.report,
                log_sync,
                leader,
                follower,
                forwarder,
                peers,
                tasks,
                config,
            }),
        })
    }

    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    pub fn startup_report(&self) -> &StartupReport {
        &self.inner.report
    }

    /// Answers one request from a peer (what the TCP listener does with
    /// each frame it reads; an in-process transport calls it directly).
    pub async fn serve_peer(&self, request: Request) -> Response {
        self.inner.peers.handle(request).await
    }

    /// Whether Raft is still running on this node.
    pub fn is_running(&self) -> bool {
        self.inner
            .raft
            .metrics()
            .borrow_watched()
            .running_state
            .is_ok()
    }

    /// Resolves once Raft has stopped on this node (a fatal error, or a
    /// shutdown), with why.
    pub async fn raft_stopped(&self) -> String {
        crate::raft_stop::stopped(self.inner.raft.server_metrics(), self.inner.raft.metrics()).await
    }

    /// How many reserves this node holds waiting now.
    pub fn waiting_reserves(&self) -> usize {
        self.inner.key_watch.watchers()
    }

    /// A reserve that, while another attempt has the key in progress,
    /// waits up to `wait` for the answer to change (see [`crate::waiting`]).
    pub async fn reserve_waiting(
        &self,
        cmd: Reserve,
        by: Option<ApiKeyId>,
        wait: Duration,
    ) -> Result<Outcome, ClusterError> {
        let watcher = self.inner.key_watch.watch(&cmd.id);
        reserve_waiting(|c| self.execute(c), watcher, cmd, by, wait).await
    }

    /// Stops Raft and every task of this node, and waits for them. Waiters
    /// are answered first.
    pub async fn shutdown(&self) {
        self.inner.key_watch.close();
        let _ = self.inner.raft.shutdown().await;
        self.inner.tasks.shutdown().await;
    }

    /// Carries out a command: proposes it if this node leads, forwards it to
    /// the leader otherwise (together with the other commands forwarded at
    /// the same moment). A reserve that leaves the record unchanged (a
    /// replay) is answered by a linearizable read where it arrived. Waits
    /// out a short election.
    pub async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        let inner = &self.inner;
        let local = || inner.leader.execute(command.clone());
        let remote = |leader: NodeAddr| {
            let command = command.clone();
            async move {
                if let (by, Command::Reserve(reserve)) = command.parts() {
                    let read_point = || inner.follower.read_point();
                    if let Some(answer) =
                        reserve_by_read(&inner.reader, reserve, by, read_point).await?
                    {
                        return Ok(answer);
                    }
                }
                inner.forwarder.forward(leader, command).await
            }
        };
        self.on_leader(local, remote).await
    }

    /// A linearizable read, served by this node (a follower first learns
    /// from the leader how far it must have applied). A read made with API
    /// key `by` is refused unless the key is in force at the read point.
    pub async fn read(
        &self,
        read: ReadRequest,
        by: Option<&ApiKeyId>,
    ) -> Result<ReadReply, ClusterError> {
        let inner = &self.inner;
        if planted(&inner.config, Planted::StaleReads) {
            // The planted bug: any node answers from its own, possibly
            // stale, state at the time it has applied up to.
            return read_local(&inner.reader, read, by, inner.reader.applied_clock().now());
        }
        let local = || async {
            let now = inner.leader.read_point().await?.stamp;
            read_local(&inner.reader, read.clone(), by, now)
        };
        let remote = |_leader: NodeAddr| async {
            let now = inner.follower.read_point().await?;
            read_local(&inner.reader, read.clone(), by, now)
        };
        self.on_leader(local, remote).await
    }

    /// What this node's own state holds for authenticating API key `id`
    /// (its record, the auth secret) and the time it has applied up to:
    /// not linearizable (see [`ClusterNode::read`] with
    /// [`ReadRequest::Auth`] for that).
    pub fn local_auth(
        &self,
        id: &ApiKeyId,
    ) -> Result<(Option<ApiKeyRecord>, Option<AuthSecret>, Stamp), ClusterError> {
        let reader = &self.inner.reader;
        Ok((
            reader.api_key(id)?,
            reader.auth_secret()?,
            reader.applied_clock().now(),
        ))
    }

    /// The namespace's quota as this node has applied it (not
    /// linearizable: for the request rate each node enforces itself).
    pub fn local_quota(&self, ns: &Namespace) -> Result<idem_core::NamespaceQuota, ClusterError> {
        Ok(self.inner.reader.namespace_quota(ns)?)
    }

    /// Changes the membership (on the leader, forwarded if need be) and
    /// returns once the new configuration is committed.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<(), ClusterError> {
        let inner = &self.inner;
        let local = || inner.leader.change_membership(change.clone());
        let remote = |leader: NodeAddr| {
            let request = Request::Membership(change.clone());
            async move {
                let transport = &*inner.transport;
                ask_leader(
                    transport,
                    request,
                    &leader,
                    false,
                    MEMBERSHIP_TIMEOUT,
                    |r| match r {
                        Response::Membership(result) => Ok(result),
                        other => Err(Box::new(other)),
                    },
                )
                .await
            }
        };
        self.on_leader(local, remote).await
    }

    /// Runs `local` if this node leads, or `remote` with the leader's
    /// address otherwise; retries (until the request timeout) only while no
    /// leader can be reached, i.e. when nothing can have been applied.
    async fn on_leader<T, Local, Remote>(
        &self,
        local: impl Fn() -> Local,
        remote: impl Fn(NodeAddr) -> Remote,
    ) -> Result<T, ClusterError>
    where
        Local: Future<Output = Result<T, ClusterError>>,
        Remote: Future<Output = Result<T, ClusterError>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        loop {
            let attempt = match known_leader(&self.inner.raft) {
                Some((id, _)) if id == self.inner.id => local().await,
                Some((_, addr)) => remote(addr).await,
                None => Err(ClusterError::NotLeader(None)),
            };
            match attempt {
                Err(ClusterError::NotLeader(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    /// Where this node stands in the cluster.
    pub fn status(&self) -> ClusterStatus {
        let inner = &self.inner;
        let metrics = inner.raft.metrics().borrow_watched().clone();
        let clock = crate::status::ClockView {
            cluster_time_ms: inner.clock.cluster_ms(),
            synced: inner.clock.is_synced(),
        };
        crate::status::status(
            inner.id,
            &metrics,
            clock,
            &inner.clock.wall_readings(),
            &inner.log_sync,
        )
    }

    /// Whether this node can serve: a leader is known, Raft runs, and its
    /// cluster time has agreed with a majority (so it could stamp if it led).
    pub fn is_ready(&self) -> bool {
        let m = self.inner.raft.metrics().borrow_watched().clone();
        m.current_leader.is_some() && m.running_state.is_ok() && self.inner.clock.is_synced()
    }
}

/// The planted bugs this crate carries out.
#[derive(Clone, Copy)]
enum Planted {
    StaleReads,
    LongLease,
}

/// Whether `config` plants `bug`.
#[cfg(feature = "planted-bugs")]
fn planted(config: &ClusterConfig, bug: Planted) -> bool {
    let wanted = match bug {
        Planted::StaleReads => idem_core::PlantedBug::StaleReads,
        Planted::LongLease => idem_core::PlantedBug::LongLease,
    };
    config.planted_bug == Some(wanted)
}

/// A build without `planted-bugs` plants nothing.
#[cfg(not(feature = "planted-bugs"))]
fn planted(_config: &ClusterConfig, _bug: Planted) -> bool {
    false
}

/// The leader lease of a node with `config` (with the planted bug, one of
/// seconds).
fn leader_lease(config: &ClusterConfig, time: Arc<dyn TimeSource>) -> LeaderLease {
    let lease = LeaderLease::new(time, config.election_timeout_ms);
    #[cfg(feature = "planted-bugs")]
    if planted(config, Planted::LongLease) {
        return lease.planted_long();
    }
    lease
}

/// openraft can restore a node whose stored vote is its own committed vote
/// straight back to leader of the same term (0.10's `enable_leader_restore`,
/// which `Config::raft_config` also turns off). Its monotonic clock
/// restarted, so its stamps could not be compared with its earlier ones.
/// Raising the term (as a candidate does) makes it start as a follower and
/// lets a fresh election pick a leader for a new term.
fn step_down_after_restart(store: &Store, id: NodeId) -> Result<(), StartError> {
    if let Some(vote) = store.log.read_vote_now()? {
        if vote.is_committed() && vote.leader_id().node_id == id {
            store
                .log
                .store_vote(&Vote::new(vote.leader_id().term + 1, id))?;
        }
    }
    Ok(())
}
