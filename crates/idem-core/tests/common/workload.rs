//! A generated workload: steps of time, leadership and clock changes mixed
//! with operations on a small key space, run against the simulated leader and
//! recorded as a trace of (true time, operation, result).

use std::collections::BTreeMap;

use idem_core::*;
use proptest::prelude::*;

use super::sim::{id, response, Nodes, Sim, NODES};

pub const KEYS: [&str; 3] = ["k0", "k1", "k2"];
pub const FINGERPRINTS: [Option<&str>; 3] = [None, Some("fp-a"), Some("fp-b")];
pub const BODIES: [&str; 2] = ["{\"charge\":\"ch_1\"}", "{\"charge\":\"ch_2\"}"];

#[derive(Debug, Clone, Copy)]
pub enum TokenPick {
    /// The newest token granted for this key.
    Latest,
    /// An older token granted for this key (the newest if there is one only).
    Older,
    /// A token never granted for this key.
    Unknown,
}

#[derive(Debug, Clone)]
pub enum Op {
    Reserve {
        key: usize,
        fingerprint: usize,
        lease_ms: u64,
        retain_ms: u64,
        /// An index into `sim::ATTEMPTS`.
        attempt: Option<usize>,
    },
    Heartbeat {
        key: usize,
        pick: TokenPick,
        lease_ms: Option<u64>,
        committing: bool,
    },
    Complete {
        key: usize,
        pick: TokenPick,
        body: usize,
    },
    Release {
        key: usize,
        pick: TokenPick,
        not_committed: bool,
    },
    Get {
        key: usize,
    },
    Purge,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// True time passes.
    Advance(u64),
    /// A new leader is elected: this node (mod the node count).
    NewTerm(usize),
    /// These nodes' wall clocks jump.
    Skew(Nodes, i64),
    /// These nodes' wall clocks start to drift (ppm).
    Drift(Nodes, i64),
    /// These nodes' wall clocks are set right.
    Correct(Nodes),
    Op(Op),
}

fn token_pick() -> impl Strategy<Value = TokenPick> {
    prop_oneof![6 => Just(TokenPick::Latest), 3 => Just(TokenPick::Older), 1 => Just(TokenPick::Unknown)]
}

/// Mostly one of two attempts (so that retries resume), sometimes none.
fn attempt() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![1 => Just(None), 3 => (0..2usize).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        7 => (key.clone(), 0..FINGERPRINTS.len(), prop::sample::select(vec![500u64, 1000, 2000]),
              prop::sample::select(vec![1000u64, 3000]), attempt())
            .prop_map(|(key, fingerprint, lease_ms, retain_ms, attempt)| Op::Reserve { key, fingerprint, lease_ms, retain_ms, attempt }),
        3 => (key.clone(), token_pick(), prop::option::of(prop::sample::select(vec![500u64, 1500])), prop::bool::weighted(0.4))
            .prop_map(|(key, pick, lease_ms, committing)| Op::Heartbeat { key, pick, lease_ms, committing }),
        3 => (key.clone(), token_pick(), 0..BODIES.len()).prop_map(|(key, pick, body)| Op::Complete { key, pick, body }),
        2 => (key.clone(), token_pick(), any::<bool>())
            .prop_map(|(key, pick, not_committed)| Op::Release { key, pick, not_committed }),
        3 => key.prop_map(|key| Op::Get { key }),
        1 => Just(Op::Purge),
    ]
}

fn nodes() -> impl Strategy<Value = Nodes> {
    prop_oneof![
        3 => Just(Nodes::Leader),
        1 => Just(Nodes::OneFollower),
        2 => Just(Nodes::LeaderAndFollower),
        2 => Just(Nodes::All),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Mostly short steps of time, some long enough for a catch-up.
        5 => prop_oneof![9 => 0u64..2500, 1 => 10_000u64..40_000].prop_map(Step::Advance),
        1 => (0..NODES).prop_map(Step::NewTerm),
        // Mostly large jumps (minutes), some small ones, both directions.
        2 => (nodes(), prop_oneof![-600_000i64..600_000, -3_000i64..3_000])
            .prop_map(|(n, d)| Step::Skew(n, d)),
        1 => (nodes(), -200_000i64..200_000).prop_map(|(n, ppm)| Step::Drift(n, ppm)),
        1 => nodes().prop_map(Step::Correct),
        13 => op().prop_map(Step::Op),
    ]
}

pub fn workload() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..120)
}

/// One operation as it was actually sent, tokens resolved.
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: String,
    pub kind: Kind,
    pub fingerprint: Option<String>,
    pub token: Option<FencingToken>,
    pub lease_ms: Option<u64>,
    pub retain_ms: Option<u64>,
    pub response: Option<StoredResponse>,
    /// The attempt (an index into `sim::ATTEMPTS`) a reserve was sent by.
    pub attempt: Option<usize>,
    /// A heartbeat that marked committing.
    pub committing: bool,
    /// A release asserting the owner did not commit.
    pub not_committed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Reserve,
    Heartbeat,
    Complete,
    Release,
    Get,
    Purge,
}

#[derive(Debug, Clone)]
pub enum Observed {
    Outcome(Outcome),
    Read(Option<Record>),
}

/// One line of the trace.
#[derive(Debug, Clone)]
pub struct Event {
    pub real_ms: u64,
    /// When the term of the leader that answered began, in true time.
    pub term_start_real_ms: u64,
    pub sent: Sent,
    pub observed: Observed,
}

/// Runs the steps against a fresh simulated leader (with `bug` planted, if
/// any) and returns it with the trace.
pub fn run(steps: &[Step], bug: Option<PlantedBug>) -> (Sim, Vec<Event>) {
    let mut sim = Sim::with_bug(bug);
    let mut trace = Vec::new();
    let mut granted: BTreeMap<usize, Vec<FencingToken>> = BTreeMap::new();
    for step in steps {
        match step {
            Step::Advance(ms) => sim.advance(*ms),
            Step::NewTerm(node) => sim.new_term_on(*node),
            Step::Skew(nodes, delta) => sim.skew_nodes(*nodes, *delta),
            Step::Drift(nodes, ppm) => sim.drift_nodes(*nodes, *ppm),
            Step::Correct(nodes) => sim.correct_nodes(*nodes),
            Step::Op(op) => {
                let (sent, observed) = perform(&mut sim, op, &granted);
                if let Observed::Outcome(Outcome::Reserve(ReserveOutcome::Reserved {
                    token,
                    resumed: false,
                    ..
                })) = &observed
                {
                    if let Op::Reserve { key, .. } = op {
                        granted.entry(*key).or_default().push(*token);
                    }
                }
                trace.push(Event {
                    real_ms: sim.real_ms,
                    term_start_real_ms: sim.term_start_real_ms,
                    sent,
                    observed,
                });
            }
        }
    }
    (sim, trace)
}

fn resolve(pick: TokenPick, tokens: Option<&Vec<FencingToken>>) -> FencingToken {
    let tokens = tokens.map(Vec::as_slice).unwrap_or(&[]);
    match (pick, tokens) {
        (TokenPick::Unknown, _) | (_, []) => FencingToken(u64::MAX / 2),
        (TokenPick::Latest, [.., last]) => *last,
        (TokenPick::Older, [.., older, _]) => *older,
        (TokenPick::Older, [only]) => *only,
    }
}

fn perform(
    sim: &mut Sim,
    op: &Op,
    granted: &BTreeMap<usize, Vec<FencingToken>>,
) -> (Sent, Observed) {
    let blank = |key: usize, kind| Sent {
        key: KEYS[key].to_string(),
        kind,
        fingerprint: None,
        token: None,
        lease_ms: None,
        retain_ms: None,
        response: None,
        attempt: None,
        committing: false,
        not_committed: false,
    };
    match *op {
        Op::Reserve {
            key,
            fingerprint,
            lease_ms,
            retain_ms,
            attempt,
        } => {
            let fp = FINGERPRINTS[fingerprint];
            let o = sim.reserve_as(KEYS[key], fp, Some(lease_ms), Some(retain_ms), attempt);
            let sent = Sent {
                fingerprint: fp.map(str::to_string),
                lease_ms: Some(lease_ms),
                retain_ms: Some(retain_ms),
                attempt,
                ..blank(key, Kind::Reserve)
            };
            (sent, Observed::Outcome(Outcome::Reserve(o)))
        }
        Op::Heartbeat {
            key,
            pick,
            lease_ms,
            committing,
        } => {
            let token = resolve(pick, granted.get(&key));
            let o = sim.heartbeat_marking(KEYS[key], token, lease_ms, committing);
            (
                Sent {
                    token: Some(token),
                    lease_ms,
                    committing,
                    ..blank(key, Kind::Heartbeat)
                },
                Observed::Outcome(Outcome::Heartbeat(o)),
            )
        }
        Op::Complete { key, pick, body } => {
            let token = resolve(pick, granted.get(&key));
            let o = sim.complete(KEYS[key], token, BODIES[body]);
            let sent = Sent {
                token: Some(token),
                response: Some(response(BODIES[body])),
                ..blank(key, Kind::Complete)
            };
            (sent, Observed::Outcome(Outcome::Complete(o)))
        }
        Op::Release {
            key,
            pick,
            not_committed,
        } => {
            let token = resolve(pick, granted.get(&key));
            let o = sim.release_asserting(KEYS[key], token, not_committed);
            (
                Sent {
                    token: Some(token),
                    not_committed,
                    ..blank(key, Kind::Release)
                },
                Observed::Outcome(Outcome::Release(o)),
            )
        }
        Op::Get { key } => (blank(key, Kind::Get), Observed::Read(sim.get(KEYS[key]))),
        Op::Purge => {
            let o = sim.purge(&KEYS);
            (blank(0, Kind::Purge), Observed::Outcome(Outcome::Purge(o)))
        }
    }
}

/// The key id a trace line is about.
pub fn key_id(sent: &Sent) -> KeyId {
    id(&sent.key)
}
