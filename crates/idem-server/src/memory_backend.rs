//! A single-node, in-memory [`Backend`] for tests and local experiments
//! (feature `memory-backend`). Nothing is replicated or persisted: it must
//! never serve real traffic.
//!
//! It does what a single-node leader would: it stamps each command (HLC from
//! the wall clock, never going backwards; term 1; monotonic ms since the
//! backend was made), places it alone in an entry at the next log index (so
//! at that index's virtual position, slot 0, as the cluster would), and
//! applies it with
//! [`idem_core::apply`] to an [`idem_core::MemoryStore`] behind a mutex.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use idem_core::{
    apply, key_in_force, namespace_policy, read_record, ApiKeyId, ApiKeyRecord, CatchUpRule,
    Command, Entry, HlcTimestamp, HybridClock, KeyId, LogPosition, MemoryStore, Namespace,
    NamespacePolicy, NamespaceQuota, NamespaceUsage, Outcome, RecordStore, Reserve, Stamp,
    SteerRate,
};

use idem_cluster::KeyWatch;

use crate::backend::{
    AuthView, Backend, ClusterError, ClusterStatus, Freshness, MemberStatus, MembershipChange,
    RecordRead,
};

/// The only term this node is ever leader of.
const TERM: u64 = 1;
/// This node's id in [`ClusterStatus`].
const NODE_ID: u64 = 1;

/// An in-memory single-node "cluster". Clones share the same state.
#[derive(Clone)]
pub struct MemoryBackend {
    node: Arc<Mutex<MemoryNode>>,
    ready: Arc<AtomicBool>,
    watch: KeyWatch,
}

#[derive(Debug)]
struct MemoryNode {
    store: MemoryStore,
    /// Index of the last entry applied (0: none yet).
    last_index: u64,
    /// The last HLC reading handed out.
    hlc: HybridClock,
    /// When this node became leader of [`TERM`].
    term_started: Instant,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    /// An empty store; ready.
    pub fn new() -> Self {
        MemoryBackend {
            node: Arc::new(Mutex::new(MemoryNode {
                store: MemoryStore::default(),
                last_index: 0,
                hlc: synced_clock(),
                term_started: Instant::now(),
            })),
            ready: Arc::new(AtomicBool::new(true)),
            watch: KeyWatch::new(idem_cluster::MAX_KEY_WATCHERS),
        }
    }

    /// What `GET /ready` reports (for testing readiness).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Number of entries applied so far.
    pub fn applied_entries(&self) -> u64 {
        self.lock().last_index
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryNode> {
        self.node.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A hybrid clock agreed with this process's wall clock (a single node is
/// its own majority).
fn synced_clock() -> HybridClock {
    let mut clock = HybridClock::start(0, HlcTimestamp::default(), SteerRate::DEFAULT);
    let wall = idem_cluster::system_wall_ms();
    clock.agree(0, wall, wall, CatchUpRule::default());
    clock
}

impl MemoryNode {
    /// A leader's stamp for now: cluster time over this process's clocks
    /// (the cluster's own rules, with one node as the majority).
    fn stamp(&mut self) -> Stamp {
        let term_elapsed_ms =
            u64::try_from(self.term_started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let hlc = self
            .hlc
            .now(term_elapsed_ms, idem_cluster::system_wall_ms());
        Stamp {
            hlc,
            term: TERM,
            term_elapsed_ms,
        }
    }

    /// Whether API key `by` (if any) is in force at `now`.
    fn key_in_force(&self, by: Option<&ApiKeyId>, now: &Stamp) -> Result<(), ClusterError> {
        match by {
            Some(key) => {
                infallible(key_in_force(&self.store, key, now)).map_err(ClusterError::KeyNotInForce)
            }
            None => Ok(()),
        }
    }

    fn execute(&mut self, command: Command) -> Outcome {
        let stamp = self.stamp();
        self.last_index += 1;
        let entry = Entry {
            position: LogPosition {
                term: TERM,
                index: self.last_index,
            }
            .virtual_slot(0),
            stamp,
            command,
        };
        match apply(&mut self.store, &entry) {
            Ok(outcome) => outcome,
            Err(never) => match never {},
        }
    }
}

/// `MemoryStore`'s error type is `Infallible`.
fn infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

impl Backend for MemoryBackend {
    async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        let key = command.key().cloned();
        let outcome = self.lock().execute(command);
        if outcome.wrote_record() {
            self.watch.touch(key.as_ref());
        }
        Ok(outcome)
    }

    async fn read_record(
        &self,
        id: KeyId,
        by: Option<ApiKeyId>,
    ) -> Result<RecordRead, ClusterError> {
        let mut node = self.lock();
        let now = node.stamp();
        node.key_in_force(by.as_ref(), &now)?;
        let record = infallible(read_record(&node.store, &id, &now));
        Ok(RecordRead { record, now })
    }

    async fn namespace_policy(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> Result<NamespacePolicy, ClusterError> {
        let mut node = self.lock();
        let now = node.stamp();
        node.key_in_force(by.as_ref(), &now)?;
        Ok(infallible(namespace_policy(&node.store, &ns)))
    }

    async fn namespace_quota(
        &self,
        ns: Namespace,
        by: Option<ApiKeyId>,
    ) -> Result<(NamespaceQuota, NamespaceUsage), ClusterError> {
        let mut node = self.lock();
        let now = node.stamp();
        node.key_in_force(by.as_ref(), &now)?;
        let quota = infallible(node.store.quota(&ns)).unwrap_or_default();
        Ok((quota, infallible(node.store.usage(&ns))))
    }

    fn local_quota(&self, ns: &Namespace) -> Result<NamespaceQuota, ClusterError> {
        Ok(infallible(self.lock().store.quota(ns)).unwrap_or_default())
    }

    async fn auth_view(&self, id: ApiKeyId, _: Freshness) -> Result<AuthView, ClusterError> {
        let mut node = self.lock();
        let now = node.stamp();
        Ok(AuthView {
            key: infallible(node.store.api_key(&id)),
            secret: infallible(node.store.auth_secret()),
            now_ms: now.hlc.wall_ms,
        })
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, ClusterError> {
        Ok(self.lock().store.api_keys.values().cloned().collect())
    }

    async fn cluster_status(&self) -> ClusterStatus {
        let (last_index, now) = {
            let mut node = self.lock();
            (node.last_index, node.stamp())
        };
        ClusterStatus {
            node_id: NODE_ID,
            state: "Leader".to_owned(),
            leader: Some(NODE_ID),
            term: TERM,
            last_log_index: Some(last_index),
            commit_index: Some(last_index),
            last_applied_index: Some(last_index),
            snapshot_index: None,
            purged_index: None,
            log_appends: 0,
            log_syncs: 0,
            cluster_time_ms: now.hlc.wall_ms,
            cluster_time_synced: true,
            members: vec![MemberStatus {
                id: NODE_ID,
                raft_addr: "memory".to_owned(),
                http_addr: "memory".to_owned(),
                matched_index: Some(last_index),
                voter: true,
                lag: Some(0),
                clock_offset_ms: Some(0),
                wall_offset_ms: Some(0),
            }],
        }
    }

    async fn change_membership(&self, _change: MembershipChange) -> Result<(), ClusterError> {
        Err(ClusterError::Unavailable(
            "the in-memory backend is a single node; it has no membership to change".into(),
        ))
    }

    async fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    async fn reserve_waiting(
        &self,
        command: Reserve,
        by: Option<ApiKeyId>,
        wait: Duration,
    ) -> Result<Outcome, ClusterError> {
        let watcher = self.watch.watch(&command.id);
        idem_cluster::reserve_waiting(|c| self.execute(c), watcher, command, by, wait).await
    }
}
