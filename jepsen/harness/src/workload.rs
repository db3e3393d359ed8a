//! The clients: each owns a process number and a connection to one node,
//! and loops over a small key space so that keys contend. A client that
//! holds a key heartbeats (now and then marking it committing), completes
//! or releases it (asserting it did not commit when it had marked it, or now
//! and then not, to see that refused), or sometimes just sits on it until
//! its short lease runs out, so that takeovers happen; a client that does
//! not, reserves (mostly with the key's usual fingerprint, now and then with
//! another; mostly with an attempt id, retried with the same one after an
//! indeterminate answer so that it resumes; now and then waiting for the
//! holder's result) or reads, and now and then presents a token it has
//! lost, to see it refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use idem_jepsen_check::history::{EventBody, Outcome, Request, StoredResponse};
use serde_json::{json, Value};

use crate::http::{Connection, Reply, RequestError};
use crate::nodes::Nodes;
use crate::recorder::Recorder;
use crate::rng::Rng;

pub const NAMESPACE: &str = "jepsen";

#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    pub keys: u32,
    pub nodes: Vec<u32>,
    /// Leases are drawn from this range (ms).
    pub lease_ms: (u64, u64),
    /// Retention is drawn from this range (ms).
    pub retain_ms: (u64, u64),
    /// A client's request timeout: after it, the operation is indeterminate.
    pub timeout: Duration,
}

/// Counters shared by all clients, for the run's progress line.
#[derive(Default)]
pub struct Tally {
    pub ops: AtomicU64,
    pub ok: AtomicU64,
    pub info: AtomicU64,
    pub fail: AtomicU64,
    /// Definite answers the harness could not read as any outcome of the
    /// API (a 400, a 500, a body of the wrong shape): each is recorded as
    /// `info` and fails the run.
    pub unexpected: AtomicU64,
}

/// A key this client holds.
#[derive(Debug, Clone)]
struct Held {
    token: u64,
    lease_ms: u64,
    /// Marked committing (a heartbeat with `committing` was answered).
    committing: bool,
    response: Option<StoredResponse>,
    /// A slow worker does not touch the key before this.
    stalled_until: Instant,
}

pub struct Client {
    process: u64,
    node: u32,
    conn: Connection,
    rng: Rng,
    options: Arc<WorkloadOptions>,
    recorder: Arc<Recorder>,
    tally: Arc<Tally>,
    held: HashMap<String, Held>,
    lost: HashMap<String, u64>,
    /// Reserves whose answer was lost: retried with the same request (and
    /// so the same attempt id), to resume the grant if it went through.
    retry: HashMap<String, Request>,
    attempts: u64,
    next_process: Arc<AtomicU64>,
}

impl Client {
    pub fn new(
        id: u32,
        rng: Rng,
        options: Arc<WorkloadOptions>,
        recorder: Arc<Recorder>,
        tally: Arc<Tally>,
        next_process: Arc<AtomicU64>,
    ) -> Self {
        let node = options.nodes[id as usize % options.nodes.len()];
        Client {
            process: next_process.fetch_add(1, Ordering::SeqCst),
            node,
            conn: Connection::new(Nodes::http_addr(node), options.timeout),
            rng,
            options,
            recorder,
            tally,
            held: HashMap::new(),
            lost: HashMap::new(),
            retry: HashMap::new(),
            attempts: 0,
            next_process,
        }
    }

    /// Runs operations until `stop` turns true.
    pub async fn run(mut self, stop: Arc<std::sync::atomic::AtomicBool>) {
        while !stop.load(Ordering::SeqCst) {
            let key = self.pick_key();
            let request = self.choose(&key);
            self.perform(&key, request).await;
            let pause = self.rng.between(5, 60);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// Mostly a key this client holds and is ready to work on; otherwise
    /// any key.
    fn pick_key(&mut self) -> String {
        // A reserve whose answer was lost is retried first.
        if let Some(key) = self.retry.keys().min() {
            return key.clone();
        }
        let now = Instant::now();
        let mut ready: Vec<&String> = self
            .held
            .iter()
            .filter(|(_, h)| h.stalled_until <= now)
            .map(|(k, _)| k)
            .collect();
        ready.sort();
        if !ready.is_empty() && self.rng.chance(0.6) {
            return self.rng.pick(&ready).to_string();
        }
        format!("k{}", self.rng.between(0, self.options.keys as u64 - 1))
    }

    fn fingerprint(&mut self, key: &str) -> String {
        if self.rng.chance(0.1) {
            format!("{key}-other")
        } else {
            format!("{key}-usual")
        }
    }

    fn choose(&mut self, key: &str) -> Request {
        if let Some(held) = self.held.get(key).cloned() {
            if held.stalled_until > Instant::now() {
                // A slow worker: it does not touch its key yet.
                return Request::Get;
            }
            let roll = self.rng.between(0, 99);
            return match roll {
                0..=19 => Request::Heartbeat {
                    token: held.token,
                    lease_ms: held.lease_ms,
                    committing: held.committing || self.rng.chance(0.4),
                },
                20..=59 => Request::Complete {
                    token: held.token,
                    response: match (&held.response, self.rng.chance(0.1)) {
                        // Now and then a second, different completion.
                        (Some(_), true) => self.response_for(key, held.token, "again"),
                        (Some(r), false) => r.clone(),
                        (None, _) => self.response_for(key, held.token, "first"),
                    },
                },
                60..=79 => Request::Release {
                    token: held.token,
                    // A committing holder asserts it did not commit, now and
                    // then forgetting to (idem must refuse that).
                    not_committed: held.committing && self.rng.chance(0.8),
                },
                _ => Request::Get,
            };
        }
        if let Some(again) = self.retry.remove(key) {
            return again;
        }
        let roll = self.rng.between(0, 99);
        match (roll, self.lost.get(key).copied()) {
            (0..=7, Some(token)) => match self.rng.between(0, 2) {
                0 => Request::Heartbeat {
                    token,
                    lease_ms: 1000,
                    committing: self.rng.chance(0.3),
                },
                1 => Request::Complete {
                    token,
                    response: self.response_for(key, token, "stale"),
                },
                _ => Request::Release {
                    token,
                    not_committed: true,
                },
            },
            (0..=74, _) => Request::Reserve {
                fingerprint: self.fingerprint(key),
                lease_ms: self
                    .rng
                    .between(self.options.lease_ms.0, self.options.lease_ms.1),
                retain_ms: self
                    .rng
                    .between(self.options.retain_ms.0, self.options.retain_ms.1),
                attempt: self.rng.chance(0.8).then(|| self.new_attempt()),
                // Short enough to answer well within the client's timeout.
                wait_ms: if self.rng.chance(0.25) {
                    self.rng.between(200, 2_500)
                } else {
                    0
                },
            },
            _ => Request::Get,
        }
    }

    /// A fresh attempt id (22 or more base64url characters).
    fn new_attempt(&mut self) -> String {
        self.attempts += 1;
        format!(
            "p{:06}-a{:06}-{:016x}",
            self.process,
            self.attempts,
            self.rng.between(0, u64::MAX - 1)
        )
    }

    fn response_for(&self, key: &str, token: u64, what: &str) -> StoredResponse {
        StoredResponse {
            status: 200,
            body: format!(
                "{key} by process {} under token {token} ({what})",
                self.process
            ),
        }
    }

    async fn perform(&mut self, key: &str, request: Request) {
        self.recorder.record(EventBody::Invoke {
            process: self.process,
            node: self.node,
            key: key.to_string(),
            request: request.clone(),
        });
        self.tally.ops.fetch_add(1, Ordering::Relaxed);
        let (method, path, body) = http_request(key, &request);
        // Now and then a client cuts its connection a few milliseconds into
        // a reserve (the write may well go through): its retry, with the
        // same attempt, must resume the grant.
        let cut_short = matches!(
            &request,
            Request::Reserve {
                attempt: Some(_),
                wait_ms: 0,
                ..
            }
        ) && self.rng.chance(0.15);
        let timeout = if cut_short {
            Duration::from_millis(self.rng.between(1, 15))
        } else {
            self.options.timeout
        };
        let reply = self.conn.send_within(method, &path, body, timeout).await;
        let process = self.process;
        match reply {
            Err(RequestError::NotSent(error)) => {
                self.tally.fail.fetch_add(1, Ordering::Relaxed);
                self.recorder.record(EventBody::Fail { process, error });
                // The node is down: do not spin.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(RequestError::Indeterminate(error)) => {
                self.remember_retry(key, &request);
                self.indeterminate(error)
            }
            // idem says it certainly changed nothing: recorded as failed,
            // so the checker holds idem to that claim.
            Ok(reply) if reply.status == 503 && certainly_not_applied(&reply.body) => {
                self.tally.fail.fetch_add(1, Ordering::Relaxed);
                let error = format!("503 {}", String::from_utf8_lossy(&reply.body));
                self.recorder.record(EventBody::Fail { process, error });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(reply) if reply.status == 503 => {
                self.remember_retry(key, &request);
                self.indeterminate(format!("503 {}", String::from_utf8_lossy(&reply.body)));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(reply) => match read_outcome(&request, &reply) {
                Some(outcome) => {
                    self.tally.ok.fetch_add(1, Ordering::Relaxed);
                    self.learn(key, &request, &outcome);
                    self.recorder.record(EventBody::Ok { process, outcome });
                }
                None => {
                    self.tally.unexpected.fetch_add(1, Ordering::Relaxed);
                    self.indeterminate(format!(
                        "unexpected reply {} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    ));
                }
            },
        }
    }

    /// A reserve with an attempt whose answer was lost is sent again later.
    fn remember_retry(&mut self, key: &str, request: &Request) {
        if let Request::Reserve {
            attempt: Some(_), ..
        } = request
        {
            self.retry.insert(key.to_string(), request.clone());
        }
    }

    /// Records `info` and carries on as a new process (the old one may still
    /// have an operation in flight, as far as the checker knows).
    fn indeterminate(&mut self, error: String) {
        self.tally.info.fetch_add(1, Ordering::Relaxed);
        self.recorder.record(EventBody::Info {
            process: self.process,
            error,
        });
        self.process = self.next_process.fetch_add(1, Ordering::SeqCst);
        self.conn.reset();
    }

    /// What this client now holds, after a definite answer.
    fn learn(&mut self, key: &str, request: &Request, outcome: &Outcome) {
        match (request, outcome) {
            (Request::Reserve { lease_ms, .. }, Outcome::Reserved { token, .. }) => {
                if let Some(old) = self.held.remove(key) {
                    self.lost.insert(key.to_string(), old.token);
                }
                // A quarter of the grants go to a slow worker, who leaves the
                // key alone for up to twice its lease: others may take it over.
                let stall = if self.rng.chance(0.25) {
                    Duration::from_millis(self.rng.between(lease_ms / 2, lease_ms * 2))
                } else {
                    Duration::ZERO
                };
                self.held.insert(
                    key.to_string(),
                    Held {
                        token: *token,
                        lease_ms: *lease_ms,
                        committing: false,
                        response: None,
                        stalled_until: Instant::now() + stall,
                    },
                );
            }
            (
                Request::Heartbeat {
                    committing: true, ..
                },
                Outcome::Extended { .. },
            ) => {
                let stall = self.rng.chance(0.3);
                if let Some(h) = self.held.get_mut(key) {
                    h.committing = true;
                    // Now and then the worker hangs in its side effect, past
                    // its lease: the next owner must hear it was committing.
                    if stall {
                        let ms = self.rng.between(h.lease_ms / 2, h.lease_ms * 2);
                        h.stalled_until = Instant::now() + Duration::from_millis(ms);
                    }
                }
            }
            (Request::Complete { response, .. }, Outcome::Completed { .. }) => {
                if let Some(h) = self.held.get_mut(key) {
                    h.response = Some(response.clone());
                }
                // Keep the key a little longer to send the same completion
                // again now and then; drop it otherwise.
                if self.rng.chance(0.7) {
                    self.drop_key(key);
                }
            }
            (_, Outcome::Released { .. }) | (_, Outcome::KeyLost { .. }) => self.drop_key(key),
            (_, Outcome::ConflictingCompletion { .. }) => self.drop_key(key),
            _ => {}
        }
    }

    fn drop_key(&mut self, key: &str) {
        if let Some(old) = self.held.remove(key) {
            self.lost.insert(key.to_string(), old.token);
        }
    }
}

fn http_request(key: &str, request: &Request) -> (Method, String, Option<Vec<u8>>) {
    let base = format!("/v1/ns/{NAMESPACE}/keys/{key}");
    let post = |action: &str, body: Value| {
        (
            Method::POST,
            format!("{base}/{action}"),
            Some(body.to_string().into_bytes()),
        )
    };
    match request {
        Request::Reserve {
            fingerprint,
            lease_ms,
            retain_ms,
            attempt,
            wait_ms,
        } => {
            let mut body =
                json!({"fingerprint": fingerprint, "lease_ms": lease_ms, "retain_ms": retain_ms});
            if let Some(a) = attempt {
                body["attempt"] = json!(a);
            }
            if *wait_ms > 0 {
                body["wait_ms"] = json!(wait_ms);
            }
            post("reserve", body)
        }
        Request::Heartbeat {
            token,
            lease_ms,
            committing,
        } => post(
            "heartbeat",
            json!({"token": token, "lease_ms": lease_ms, "committing": committing}),
        ),
        Request::Complete { token, response } => post(
            "complete",
            json!({"token": token, "response": {"status": response.status, "body": response.body}}),
        ),
        Request::Release {
            token,
            not_committed,
        } => post(
            "release",
            json!({"token": token, "not_committed": not_committed}),
        ),
        Request::Get => (Method::GET, base, None),
    }
}

/// Reads a definite reply as an outcome of `request`; `None` when it is not
/// one the API gives.
pub fn read_outcome(request: &Request, reply: &Reply) -> Option<Outcome> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    let problem = body
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| t.rsplit(':').next())
        .unwrap_or("");
    let token = || body.get("token").and_then(Value::as_u64);
    let response = |v: &Value| -> Option<StoredResponse> {
        let r = v.get("response")?;
        let headers_empty = r
            .get("headers")
            .and_then(Value::as_object)
            .is_none_or(|h| h.is_empty());
        if !headers_empty {
            return None;
        }
        Some(StoredResponse {
            status: u16::try_from(r.get("status")?.as_u64()?).ok()?,
            body: r.get("body")?.as_str()?.to_string(),
        })
    };
    let key_lost = || -> Option<Outcome> {
        (reply.status == 409 && problem == "key-lost").then(|| Outcome::KeyLost {
            reason: body
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
    };
    match request {
        Request::Reserve { .. } => match reply.status {
            201 => Some(Outcome::Reserved {
                token: token()?,
                takeover: body.get("takeover")?.as_bool()?,
                resumed: body.get("resumed")?.as_bool()?,
                previous_committing: body
                    .get("previous_committing_tokens")?
                    .as_array()?
                    .iter()
                    .map(Value::as_u64)
                    .collect::<Option<Vec<u64>>>()?,
            }),
            200 => Some(Outcome::Replayed {
                token: token()?,
                response: response(&body)?,
            }),
            409 if body.get("outcome")?.as_str()? == "in_progress" => Some(Outcome::InProgress),
            422 if problem == "fingerprint-mismatch" => Some(Outcome::FingerprintMismatch),
            _ => None,
        },
        Request::Heartbeat { .. } => match reply.status {
            200 => Some(Outcome::Extended { token: token()? }),
            _ => key_lost(),
        },
        Request::Complete { .. } => match reply.status {
            200 => Some(Outcome::Completed {
                token: token()?,
                replayed: body.get("replayed")?.as_bool()?,
            }),
            409 if problem == "conflicting-completion" => {
                Some(Outcome::ConflictingCompletion { token: token()? })
            }
            _ => key_lost(),
        },
        Request::Release { .. } => match reply.status {
            200 => Some(Outcome::Released { token: token()? }),
            409 if problem == "release-of-committing" => {
                Some(Outcome::ReleaseRefused { token: token()? })
            }
            _ => key_lost(),
        },
        Request::Get => match reply.status {
            404 if problem == "key-not-found" => Some(Outcome::NotFound),
            200 => {
                let fingerprint = body.get("fingerprint")?.as_str()?.to_string();
                match body.get("state")?.as_str()? {
                    "in_progress" => Some(Outcome::RecordInProgress {
                        token: token()?,
                        fingerprint,
                    }),
                    "released" => Some(Outcome::RecordReleased {
                        token: token()?,
                        fingerprint,
                    }),
                    "completed" => Some(Outcome::RecordCompleted {
                        token: token()?,
                        fingerprint,
                        response: response(&body)?,
                    }),
                    _ => None,
                }
            }
            _ => None,
        },
    }
}

/// Whether a 503's problem document says the request certainly changed
/// nothing (`urn:idem:problem:not-applied`).
fn certainly_not_applied(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|t| t == "urn:idem:problem:not-applied")
}
