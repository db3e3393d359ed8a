//! A simulated chaos run against a correct idem ([`server`]): clients that
//! reserve, heartbeat, complete, release and read keys concurrently, with
//! slow, failed and indeterminate requests (some of which still take effect,
//! possibly after the client gave up on them) and nemesis windows. Every
//! history it makes is valid, so the checker must accept it.
#![allow(dead_code)]

pub mod rng;
pub mod server;

use idem_jepsen_check::history::{
    Event, EventBody, NemesisPhase, Outcome, Request, StoredResponse,
};
use rng::Rng;
use server::Server;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const MS: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub clients: usize,
    pub keys: usize,
    /// Invocations to make.
    pub ops: usize,
    /// Share of requests that end `info` (tripled during a partition).
    pub info_rate: f64,
    pub fail_rate: f64,
    pub fingerprints: usize,
    pub lease_ms: (u64, u64),
    pub retain_ms: (u64, u64),
    /// Share of owners that release the key instead of completing it.
    pub release_share: f64,
    /// Share of requests that are slow, and how slow (each way).
    pub slow_rate: f64,
    pub slow_ms: (u64, u64),
    pub nemesis: bool,
}

impl Config {
    /// ~10 clients on 8 keys, ~2,000 operations per key, ~10% indeterminate.
    pub fn spread(seed: u64) -> Self {
        Config {
            seed,
            clients: 10,
            keys: 8,
            ops: 16_000,
            info_rate: 0.06,
            fail_rate: 0.02,
            fingerprints: 2,
            lease_ms: (100, 1_000),
            retain_ms: (1_000, 3_000),
            release_share: 0.1,
            slow_rate: 0.03,
            slow_ms: (50, 400),
            nemesis: true,
        }
    }

    /// 10 clients on 2 keys: ~5 concurrent operations per key.
    pub fn hot(seed: u64) -> Self {
        Config {
            keys: 2,
            ops: 4_000,
            ..Config::spread(seed)
        }
    }

    /// 10 clients on 2 keys with short leases and retention (shorter than
    /// idem allows; the checker does not mind) and keys often released, so
    /// that grants, takeovers, forgetting and writes are frequent.
    pub fn churn(seed: u64) -> Self {
        Config {
            lease_ms: (10, 150),
            retain_ms: (20, 300),
            release_share: 0.4,
            ..Config::hot(seed)
        }
    }
}

/// What a client does next.
#[derive(Debug, Clone)]
enum Plan {
    Idle,
    /// Send this again (after a `fail` or an `info`).
    Retry(String, Request),
    Owner {
        key: String,
        token: u64,
        heartbeats: u32,
        completed: bool,
        response: StoredResponse,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ok,
    Info { takes_effect: bool },
    Fail,
}

#[derive(Debug)]
struct InFlight {
    client: usize,
    process: u64,
    key: String,
    request: Request,
    fate: Fate,
    outcome: Option<Outcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Ready(usize),
    Effect(usize),
    Respond(usize),
    Nemesis(usize),
}

struct Sim {
    cfg: Config,
    rng: Rng,
    server: Server,
    events: Vec<Event>,
    queue: BinaryHeap<Reverse<(u64, u64, Action)>>,
    seq: u64,
    plans: Vec<Plan>,
    processes: Vec<u64>,
    next_process: u64,
    flights: Vec<InFlight>,
    invoked: usize,
    nemeses: Vec<(&'static str, bool)>,
}

/// The history of one simulated run.
pub fn simulate(cfg: &Config) -> Vec<Event> {
    let mut sim = Sim {
        cfg: cfg.clone(),
        rng: Rng::new(cfg.seed),
        server: Server::default(),
        events: Vec::new(),
        queue: BinaryHeap::new(),
        seq: 0,
        plans: vec![Plan::Idle; cfg.clients],
        processes: (0..cfg.clients as u64).collect(),
        next_process: cfg.clients as u64,
        flights: Vec::new(),
        invoked: 0,
        nemeses: vec![("partition", false), ("kill", false), ("clock-skew", false)],
    };
    for c in 0..cfg.clients {
        let t = sim.rng.range(0, 5) * MS;
        sim.at(t, Action::Ready(c));
    }
    if cfg.nemesis {
        for n in 0..sim.nemeses.len() {
            let t = sim.rng.range(200, 2_000) * MS;
            sim.at(t, Action::Nemesis(n));
        }
    }
    sim.run();
    sim.events
}

impl Sim {
    fn at(&mut self, t: u64, a: Action) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, a)));
    }

    fn emit(&mut self, t: u64, body: EventBody) {
        let index = self.events.len() as u64;
        self.events.push(Event {
            index,
            time_ns: t,
            body,
        });
    }

    fn run(&mut self) {
        let mut last_invoke = 0;
        while let Some(Reverse((t, _, action))) = self.queue.pop() {
            if self.invoked >= self.cfg.ops && t > last_invoke + 100 * MS {
                break; // what is still in flight stays unanswered
            }
            match action {
                Action::Ready(c) if self.invoked < self.cfg.ops => {
                    last_invoke = t;
                    self.invoke(t, c);
                }
                Action::Ready(_) => {}
                Action::Effect(f) => self.effect(t, f),
                Action::Respond(f) => self.respond(t, f),
                Action::Nemesis(n) if self.invoked < self.cfg.ops => self.toggle(t, n),
                Action::Nemesis(_) => {}
            }
        }
        let end = self.events.last().map_or(0, |e| e.time_ns);
        for n in 0..self.nemeses.len() {
            if self.nemeses[n].1 {
                self.toggle(end, n);
            }
        }
    }

    fn toggle(&mut self, t: u64, n: usize) {
        let (name, active) = self.nemeses[n];
        self.nemeses[n].1 = !active;
        let phase = if active {
            NemesisPhase::Stop
        } else {
            NemesisPhase::Start
        };
        let detail = format!("simulated {name}");
        self.emit(
            t,
            EventBody::Nemesis {
                phase,
                name: name.into(),
                detail,
            },
        );
        let next = t + self.rng.range(500, 3_000) * MS;
        self.at(next, Action::Nemesis(n));
    }

    fn latency(&mut self) -> u64 {
        if self.rng.chance(self.cfg.slow_rate) {
            self.rng
                .range(self.cfg.slow_ms.0 * MS, self.cfg.slow_ms.1 * MS)
        } else {
            self.rng.range(MS / 10, 3 * MS)
        }
    }

    fn invoke(&mut self, t: u64, c: usize) {
        let (key, request) = self.next_request(c);
        let process = self.processes[c];
        self.invoked += 1;
        let node = self.rng.range(1, 3) as u32;
        self.emit(
            t,
            EventBody::Invoke {
                process,
                node,
                key: key.clone(),
                request: request.clone(),
            },
        );
        let partitioned = self.nemeses[0].1;
        let info_rate = self.cfg.info_rate * if partitioned { 3.0 } else { 1.0 };
        let fate = if self.rng.chance(self.cfg.fail_rate) {
            Fate::Fail
        } else if self.rng.chance(info_rate) {
            Fate::Info {
                takes_effect: self.rng.chance(0.5),
            }
        } else {
            Fate::Ok
        };
        let f = self.flights.len();
        self.flights.push(InFlight {
            client: c,
            process,
            key,
            request,
            fate,
            outcome: None,
        });
        match fate {
            Fate::Ok => {
                let d = self.latency();
                self.at(t + d, Action::Effect(f));
            }
            Fate::Info { takes_effect } => {
                if takes_effect {
                    // possibly long after the client gave up
                    let d = self.rng.range(MS / 10, 1_500 * MS);
                    self.at(t + d, Action::Effect(f));
                }
                let d = self.rng.range(100 * MS, 800 * MS);
                self.at(t + d, Action::Respond(f));
            }
            Fate::Fail => {
                let d = self.rng.range(MS / 10, 2 * MS);
                self.at(t + d, Action::Respond(f));
            }
        }
    }

    fn effect(&mut self, t: u64, f: usize) {
        let gap = self.rng.range(0, 3);
        let flight = &self.flights[f];
        let outcome = self.server.apply(t, &flight.key, &flight.request, gap);
        self.flights[f].outcome = Some(outcome);
        if self.flights[f].fate == Fate::Ok {
            let d = self.latency();
            self.at(t + d, Action::Respond(f));
        }
    }

    fn respond(&mut self, t: u64, f: usize) {
        let (c, process, fate) = {
            let fl = &self.flights[f];
            (fl.client, fl.process, fl.fate)
        };
        let think = self.rng.range(0, 10) * MS;
        match fate {
            Fate::Ok => {
                let outcome = self.flights[f].outcome.clone().unwrap_or(Outcome::NotFound);
                self.emit(
                    t,
                    EventBody::Ok {
                        process,
                        outcome: outcome.clone(),
                    },
                );
                let wait = self.after_ok(c, f, &outcome);
                self.at(t + think + wait, Action::Ready(c));
            }
            Fate::Info { .. } => {
                self.emit(
                    t,
                    EventBody::Info {
                        process,
                        error: "timeout".into(),
                    },
                );
                self.processes[c] = self.next_process;
                self.next_process += 1;
                self.after_trouble(c, f, 0.7);
                self.at(t + think, Action::Ready(c));
            }
            Fate::Fail => {
                self.emit(
                    t,
                    EventBody::Fail {
                        process,
                        error: "connection refused".into(),
                    },
                );
                self.after_trouble(c, f, 0.5);
                self.at(t + think, Action::Ready(c));
            }
        }
    }

    /// After a `fail` or `info`: retry the same request, or give up.
    fn after_trouble(&mut self, c: usize, f: usize, retry: f64) {
        if self.rng.chance(retry) {
            let fl = &self.flights[f];
            self.plans[c] = Plan::Retry(fl.key.clone(), fl.request.clone());
        } else if !matches!(self.plans[c], Plan::Owner { .. }) {
            self.plans[c] = Plan::Idle;
        }
    }

    /// Updates the client's plan; returns how long it works before its next
    /// request.
    fn after_ok(&mut self, c: usize, f: usize, outcome: &Outcome) -> u64 {
        let key = self.flights[f].key.clone();
        let lease_ms = match self.flights[f].request {
            Request::Reserve { lease_ms, .. } => lease_ms,
            _ => 0,
        };
        match (outcome, &mut self.plans[c]) {
            (Outcome::Reserved { token, .. }, plan) => {
                *plan = Plan::Owner {
                    key,
                    token: *token,
                    heartbeats: self.rng.range(0, 2) as u32,
                    completed: false,
                    response: StoredResponse {
                        status: *self.rng.pick(&[200, 201]),
                        body: format!("{{\"charge\":\"ch_{token}_{c}\"}}"),
                    },
                };
                // Sometimes work past the lease, so others may take over.
                if self.rng.chance(0.15) {
                    self.rng.range(lease_ms / 2, lease_ms * 3 / 2) * MS
                } else {
                    self.rng.range(1, 20) * MS
                }
            }
            (Outcome::Extended { .. }, Plan::Owner { heartbeats, .. }) => {
                *heartbeats = heartbeats.saturating_sub(1);
                self.rng.range(1, 20) * MS
            }
            (Outcome::Completed { .. }, Plan::Owner { completed, .. }) => {
                *completed = true;
                0
            }
            (Outcome::Completed { .. }, plan) => {
                *plan = Plan::Idle;
                0
            }
            (_, plan) => {
                *plan = Plan::Idle;
                0
            }
        }
    }

    fn next_request(&mut self, c: usize) -> (String, Request) {
        match self.plans[c].clone() {
            Plan::Retry(key, request) => {
                // after a retry the client starts afresh (a retried grant
                // makes it an owner again)
                self.plans[c] = Plan::Idle;
                (key, request)
            }
            Plan::Owner {
                key,
                token,
                heartbeats,
                completed,
                response,
            } => {
                let lease_ms = self.rng.range(self.cfg.lease_ms.0, self.cfg.lease_ms.1);
                if !completed && heartbeats > 0 {
                    return (
                        key,
                        Request::Heartbeat {
                            token,
                            lease_ms,
                            committing: false,
                        },
                    );
                }
                if completed {
                    self.plans[c] = Plan::Idle;
                    if self.rng.chance(0.2) {
                        return (key, Request::Complete { token, response });
                    }
                    if self.rng.chance(0.05) {
                        let other = StoredResponse {
                            status: 500,
                            body: "different".into(),
                        };
                        return (
                            key,
                            Request::Complete {
                                token,
                                response: other,
                            },
                        );
                    }
                    return self.idle_request();
                }
                if self.rng.chance(self.cfg.release_share) {
                    self.plans[c] = Plan::Idle;
                    return (
                        key,
                        Request::Release {
                            token,
                            not_committed: false,
                        },
                    );
                }
                if self.rng.chance(0.05) {
                    self.plans[c] = Plan::Idle; // abandon
                    return self.idle_request();
                }
                (key, Request::Complete { token, response })
            }
            Plan::Idle => self.idle_request(),
        }
    }

    fn idle_request(&mut self) -> (String, Request) {
        let key = format!("key-{}", self.rng.range(0, self.cfg.keys as u64 - 1));
        if self.rng.chance(0.15) {
            return (key, Request::Get);
        }
        let fp = if self.rng.chance(0.7) {
            0
        } else {
            self.rng.range(0, self.cfg.fingerprints as u64 - 1)
        };
        let request = Request::Reserve {
            fingerprint: format!("sha256:{fp:04x}"),
            lease_ms: self.rng.range(self.cfg.lease_ms.0, self.cfg.lease_ms.1),
            retain_ms: self.rng.range(self.cfg.retain_ms.0, self.cfg.retain_ms.1),
            attempt: None,
            wait_ms: 0,
        };
        (key, request)
    }
}
