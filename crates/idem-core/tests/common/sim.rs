//! A simulated cluster leader: it owns true ("real") time, the leader's wall
//! clock (real time plus a skew that can jump), the leader's monotonic clock
//! (real time since the term began) and the HLC, and stamps and applies
//! entries the way the cluster layer will.

use std::collections::BTreeMap;

use idem_core::*;

pub const START_REAL_MS: u64 = 1_800_000_000_000;

pub struct Sim {
    pub store: MemoryStore,
    /// True time, which no node can read directly.
    pub real_ms: u64,
    pub term: u64,
    pub term_start_real_ms: u64,
    /// How far the leader's wall clock is from true time.
    pub skew_ms: i64,
    pub hlc: HlcTimestamp,
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

impl Sim {
    pub fn new() -> Self {
        Sim {
            store: MemoryStore::default(),
            real_ms: START_REAL_MS,
            term: 1,
            term_start_real_ms: START_REAL_MS,
            skew_ms: 0,
            hlc: HlcTimestamp::default(),
            index: 1,
            bug: None,
            log: Vec::new(),
        }
    }

    pub fn with_bug(bug: Option<PlantedBug>) -> Self {
        Sim { bug, ..Sim::new() }
    }

    pub fn advance(&mut self, ms: u64) {
        self.real_ms += ms;
    }

    /// A new leader takes over now (Raft appends a blank entry for it).
    pub fn new_term(&mut self) {
        self.term += 1;
        self.term_start_real_ms = self.real_ms;
        self.index += 1;
    }

    /// The leader's wall clock jumps by `delta_ms` (an NTP step, a VM
    /// migration); its monotonic clock does not.
    pub fn skew(&mut self, delta_ms: i64) {
        self.skew_ms += delta_ms;
    }

    pub fn wall_ms(&self) -> u64 {
        (self.real_ms as i64 + self.skew_ms).max(0) as u64
    }

    /// Stamps the next entry as the leader would: HLC from its wall clock,
    /// monotonic time since its term began.
    pub fn stamp(&mut self) -> Stamp {
        let wall = self.wall_ms();
        self.hlc = if wall > self.hlc.wall_ms {
            HlcTimestamp::new(wall, 0)
        } else {
            HlcTimestamp::new(self.hlc.wall_ms, self.hlc.logical + 1)
        };
        Stamp {
            hlc: self.hlc,
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
        let cmd = Command::Reserve(Reserve {
            id: id(key),
            fingerprint: fingerprint.map(|f| Fingerprint::new(f).expect("valid fingerprint")),
            lease: lease_ms.map(|ms| LeaseDuration::from_ms(ms).expect("valid lease")),
            retain: retain_ms.map(|ms| RetainDuration::from_ms(ms).expect("valid retain")),
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
        let cmd = Command::Heartbeat(Heartbeat {
            id: id(key),
            token,
            lease: lease_ms.map(|ms| LeaseDuration::from_ms(ms).expect("valid lease")),
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
        match self.submit(Command::Release(Release { id: id(key), token })) {
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
