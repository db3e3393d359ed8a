//! A simulated cluster: true ("real") time, which no node can read, and
//! three nodes, each with a wall clock (real time plus a skew that can jump
//! and a drift that accrues), a monotonic clock (real time), and its hybrid
//! clock over cluster time. One of them leads: it stamps entries (HLC from
//! its cluster time, monotonic time since its term began) and every node
//! observes each stamp at once; after every step of real time the nodes
//! agree on the time with the majority's wall clocks, as the cluster
//! layer's clock probes make them do. Entries are applied the way the
//! cluster layer applies them.

use std::collections::BTreeMap;

use idem_core::*;

pub const START_REAL_MS: u64 = 1_800_000_000_000;
pub const NODES: usize = 3;

/// Which nodes a clock change hits, as seen from the leader now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes {
    Leader,
    OneFollower,
    LeaderAndFollower,
    All,
}

#[derive(Debug, Clone)]
pub struct SimNode {
    /// How far the node's wall clock is stepped from true time.
    pub skew_ms: i64,
    /// Its drift, in parts per million of real time, and what it has
    /// accrued.
    pub drift_ppm: i64,
    pub drifted_ms: i64,
    pub clock: HybridClock,
}

pub struct Sim {
    pub store: MemoryStore,
    /// True time, which no node can read directly.
    pub real_ms: u64,
    pub term: u64,
    pub term_start_real_ms: u64,
    pub leader: usize,
    pub nodes: Vec<SimNode>,
    pub index: u64,
    pub bug: Option<PlantedBug>,
    /// Every entry applied, for replay.
    pub log: Vec<Entry>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

/// The steer rate and catch-up rule every simulated node runs with.
pub const STEER: SteerRate = SteerRate::DEFAULT;

pub fn catch_up_rule() -> CatchUpRule {
    CatchUpRule::default()
}

impl Sim {
    pub fn new() -> Self {
        let node = SimNode {
            skew_ms: 0,
            drift_ppm: 0,
            drifted_ms: 0,
            clock: HybridClock::start(0, HlcTimestamp::default(), STEER),
        };
        let mut sim = Sim {
            store: MemoryStore::default(),
            real_ms: START_REAL_MS,
            term: 1,
            term_start_real_ms: START_REAL_MS,
            leader: 0,
            nodes: vec![node; NODES],
            index: 1,
            bug: None,
            log: Vec::new(),
        };
        sim.agree();
        sim
    }

    pub fn with_bug(bug: Option<PlantedBug>) -> Self {
        Sim { bug, ..Sim::new() }
    }

    /// Real time since the start: every node's monotonic clock.
    fn mono_ms(&self) -> u64 {
        self.real_ms - START_REAL_MS
    }

    pub fn advance(&mut self, ms: u64) {
        self.real_ms += ms;
        for n in &mut self.nodes {
            n.drifted_ms += ms as i64 * n.drift_ppm / 1_000_000;
        }
        self.agree();
    }

    /// Every node agrees on the time with the majority's wall clocks.
    fn agree(&mut self) {
        let walls: Vec<u64> = (0..NODES).map(|i| self.node_wall_ms(i)).collect();
        let Some(agreed) = agreed_wall_ms(&walls, NODES) else {
            return;
        };
        let mono = self.mono_ms();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.clock.agree(mono, agreed, walls[i], catch_up_rule());
        }
    }

    /// The next node takes over now (Raft appends a blank entry for it).
    pub fn new_term(&mut self) {
        self.new_term_on((self.leader + 1) % NODES);
    }

    pub fn new_term_on(&mut self, node: usize) {
        self.term += 1;
        self.leader = node % NODES;
        self.term_start_real_ms = self.real_ms;
        self.index += 1;
    }

    fn which(&self, nodes: Nodes) -> Vec<usize> {
        let (l, f) = (self.leader, (self.leader + 1) % NODES);
        match nodes {
            Nodes::Leader => vec![l],
            Nodes::OneFollower => vec![f],
            Nodes::LeaderAndFollower => vec![l, f],
            Nodes::All => (0..NODES).collect(),
        }
    }

    /// The leader's wall clock jumps by `delta_ms` (an NTP step, a VM
    /// migration); its monotonic clock does not.
    pub fn skew(&mut self, delta_ms: i64) {
        self.skew_nodes(Nodes::Leader, delta_ms);
    }

    pub fn skew_nodes(&mut self, nodes: Nodes, delta_ms: i64) {
        for i in self.which(nodes) {
            self.nodes[i].skew_ms += delta_ms;
        }
    }

    /// The nodes' wall clocks are set right (their drift too).
    pub fn correct_nodes(&mut self, nodes: Nodes) {
        for i in self.which(nodes) {
            let n = &mut self.nodes[i];
            (n.skew_ms, n.drift_ppm, n.drifted_ms) = (0, 0, 0);
        }
    }

    pub fn drift_nodes(&mut self, nodes: Nodes, ppm: i64) {
        for i in self.which(nodes) {
            self.nodes[i].drift_ppm = ppm;
        }
    }

    pub fn node_wall_ms(&self, i: usize) -> u64 {
        let n = &self.nodes[i];
        (self.real_ms as i64 + n.skew_ms + n.drifted_ms).max(0) as u64
    }

    pub fn wall_ms(&self) -> u64 {
        self.node_wall_ms(self.leader)
    }

    /// Stamps the next entry as the leader would: HLC from its cluster
    /// time, monotonic time since its term began; every node observes it.
    pub fn stamp(&mut self) -> Stamp {
        let mono = self.mono_ms();
        let wall = self.wall_ms();
        let hlc = self.nodes[self.leader].clock.now(mono, wall);
        for i in 0..NODES {
            let wall = self.node_wall_ms(i);
            self.nodes[i].clock.observe(mono, hlc, wall);
        }
        Stamp {
            hlc,
            term: self.term,
            term_elapsed_ms: self.real_ms - self.term_start_real_ms,
        }
    }

    /// Stamps, appends and applies one command.
    pub fn submit(&mut self, command: Command) -> Outcome {
        self.index += 1;
        let stamp = self.stamp();
        let entry = Entry {
            position: LogPosition {
                term: self.term,
                index: self.index,
            },
            stamp,
            command,
        };
        let outcome = match apply_with_planted_bug(&mut self.store, &entry, self.bug) {
            Ok(o) => o,
            Err(never) => match never {},
        };
        self.log.push(entry);
        outcome
    }

    /// The time a read on the leader would use.
    pub fn read_stamp(&mut self) -> Stamp {
        let stamp = self.stamp();
        match self.store.clock.advance(&stamp) {
            Ok(c) => c.now(),
            Err(_) => stamp,
        }
    }

    pub fn get(&mut self, key: &str) -> Option<Record> {
        let now = self.read_stamp();
        match read_record(&self.store, &id(key), &now) {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }

    pub fn reserve(
        &mut self,
        key: &str,
        fingerprint: Option<&str>,
        lease_ms: Option<u64>,
    ) -> ReserveOutcome {
        self.reserve_with(key, fingerprint, lease_ms, None)
    }

    pub fn reserve_with(
        &mut self,
        key: &str,
        fingerprint: Option<&str>,
        lease_ms: Option<u64>,
        retain_ms: Option<u64>,
    ) -> ReserveOutcome {
        self.reserve_as(key, fingerprint, lease_ms, retain_ms, None)
    }

    /// A reserve by the attempt `attempt` (an index into [`ATTEMPTS`]).
    pub fn reserve_as(
        &mut self,
        key: &str,
        fingerprint: Option<&str>,
        lease_ms: Option<u64>,
        retain_ms: Option<u64>,
        attempt: Option<usize>,
    ) -> ReserveOutcome {
        let cmd = Command::Reserve(Reserve {
            id: id(key),
            fingerprint: fingerprint.map(|f| Fingerprint::new(f).expect("valid fingerprint")),
            lease: lease_ms.map(|ms| LeaseDuration::from_ms(ms).expect("valid lease")),
            retain: retain_ms.map(|ms| RetainDuration::from_ms(ms).expect("valid retain")),
            attempt: attempt.map(attempt_digest),
        });
        match self.submit(cmd) {
            Outcome::Reserve(o) => o,
            other => panic!("reserve gave {other:?}"),
        }
    }

    pub fn heartbeat(
        &mut self,
        key: &str,
        token: FencingToken,
        lease_ms: Option<u64>,
    ) -> HeartbeatOutcome {
        self.heartbeat_marking(key, token, lease_ms, false)
    }

    /// A heartbeat that marks the key committing if `committing`.
    pub fn heartbeat_marking(
        &mut self,
        key: &str,
        token: FencingToken,
        lease_ms: Option<u64>,
        committing: bool,
    ) -> HeartbeatOutcome {
        let cmd = Command::Heartbeat(Heartbeat {
            id: id(key),
            token,
            lease: lease_ms.map(|ms| LeaseDuration::from_ms(ms).expect("valid lease")),
            committing,
        });
        match self.submit(cmd) {
            Outcome::Heartbeat(o) => o,
            other => panic!("heartbeat gave {other:?}"),
        }
    }

    pub fn complete(&mut self, key: &str, token: FencingToken, body: &str) -> CompleteOutcome {
        let cmd = Command::Complete(Complete {
            id: id(key),
            token,
            response: response(body),
        });
        match self.submit(cmd) {
            Outcome::Complete(o) => o,
            other => panic!("complete gave {other:?}"),
        }
    }

    pub fn release(&mut self, key: &str, token: FencingToken) -> ReleaseOutcome {
        self.release_asserting(key, token, false)
    }

    /// A release; `not_committed`: the owner asserts it did not commit.
    pub fn release_asserting(
        &mut self,
        key: &str,
        token: FencingToken,
        not_committed: bool,
    ) -> ReleaseOutcome {
        match self.submit(Command::Release(Release {
            id: id(key),
            token,
            not_committed,
        })) {
            Outcome::Release(o) => o,
            other => panic!("release gave {other:?}"),
        }
    }

    pub fn purge(&mut self, keys: &[&str]) -> PurgeOutcome {
        match self.submit(Command::Purge(Purge {
            ids: keys.iter().map(|k| id(k)).collect(),
        })) {
            Outcome::Purge(o) => o,
            other => panic!("purge gave {other:?}"),
        }
    }
}

pub const NS: &str = "payments";

/// The attempt ids the simulated clients draw from.
pub const ATTEMPTS: [&str; 3] = [
    "attempt-aaaaaaaaaaaaaaaaaaaaaaaa",
    "attempt-bbbbbbbbbbbbbbbbbbbbbbbb",
    "attempt-cccccccccccccccccccccccc",
];

pub fn attempt_digest(i: usize) -> AttemptDigest {
    AttemptId::new(ATTEMPTS[i])
        .expect("valid attempt id")
        .digest()
}

pub fn id(key: &str) -> KeyId {
    KeyId::new(
        Namespace::new(NS).expect("valid namespace"),
        IdemKey::new(key).expect("valid key"),
    )
}

pub fn response(body: &str) -> StoredResponse {
    let mut headers = BTreeMap::new();
    headers.insert("content-type".to_string(), "application/json".to_string());
    StoredResponse::new(201, headers, body).expect("valid response")
}

pub fn token_of(outcome: &ReserveOutcome) -> FencingToken {
    match outcome {
        ReserveOutcome::Reserved { token, .. } => *token,
        other => panic!("expected a grant, got {other:?}"),
    }
}
