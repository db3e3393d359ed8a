//! A reference idem, correct by construction: records under leases and
//! retention, measured on the true clock, with tokens from one global
//! counter. Its answers make histories that every check must accept.

use idem_jepsen_check::history::{Outcome, Request, StoredResponse};
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Record {
    InProgress {
        token: u64,
        fp: String,
        lease_end_ns: u64,
        retain_ms: u64,
    },
    Completed {
        token: u64,
        fp: String,
        response: StoredResponse,
        retain_end_ns: u64,
    },
}

#[derive(Debug, Default)]
pub struct Server {
    records: HashMap<String, Record>,
    last_token: u64,
}

const MS: u64 = 1_000_000;

impl Server {
    /// Applies `request` on `key` at time `now_ns`; `gap` is how many other
    /// log entries came before this one (tokens are log indices).
    pub fn apply(&mut self, now_ns: u64, key: &str, request: &Request, gap: u64) -> Outcome {
        self.forget_expired(now_ns, key);
        let record = self.records.get(key).cloned();
        match (request, record) {
            (
                Request::Reserve {
                    fingerprint,
                    lease_ms,
                    retain_ms,
                    ..
                },
                record,
            ) => {
                let takeover = match &record {
                    None => false,
                    Some(Record::InProgress {
                        fp, lease_end_ns, ..
                    }) if fp == fingerprint => {
                        if now_ns < *lease_end_ns {
                            return Outcome::InProgress;
                        }
                        true
                    }
                    Some(Record::Completed {
                        token,
                        fp,
                        response,
                        ..
                    }) if fp == fingerprint => {
                        return Outcome::Replayed {
                            token: *token,
                            response: response.clone(),
                        }
                    }
                    Some(_) => return Outcome::FingerprintMismatch,
                };
                self.last_token += 1 + gap;
                let token = self.last_token;
                self.records.insert(
                    key.to_string(),
                    Record::InProgress {
                        token,
                        fp: fingerprint.clone(),
                        lease_end_ns: now_ns + lease_ms * MS,
                        retain_ms: *retain_ms,
                    },
                );
                Outcome::Reserved {
                    token,
                    takeover,
                    resumed: false,
                    previous_committing: Vec::new(),
                }
            }
            (
                Request::Heartbeat {
                    token, lease_ms, ..
                },
                Some(Record::InProgress {
                    token: t,
                    fp,
                    retain_ms,
                    ..
                }),
            ) if *token == t => {
                self.records.insert(
                    key.to_string(),
                    Record::InProgress {
                        token: t,
                        fp,
                        lease_end_ns: now_ns + lease_ms * MS,
                        retain_ms,
                    },
                );
                Outcome::Extended { token: t }
            }
            (
                Request::Complete { token, response },
                Some(Record::Completed {
                    token: t,
                    response: r,
                    ..
                }),
            ) if *token == t => {
                if *response == r {
                    Outcome::Completed {
                        token: t,
                        replayed: true,
                    }
                } else {
                    Outcome::ConflictingCompletion { token: t }
                }
            }
            (
                Request::Complete { token, response },
                Some(Record::InProgress {
                    token: t,
                    fp,
                    retain_ms,
                    ..
                }),
            ) if *token == t => {
                self.records.insert(
                    key.to_string(),
                    Record::Completed {
                        token: t,
                        fp,
                        response: response.clone(),
                        retain_end_ns: now_ns + retain_ms * MS,
                    },
                );
                Outcome::Completed {
                    token: t,
                    replayed: false,
                }
            }
            (Request::Release { token, .. }, Some(Record::InProgress { token: t, .. }))
                if *token == t =>
            {
                self.records.remove(key);
                Outcome::Released { token: t }
            }
            (Request::Heartbeat { .. } | Request::Complete { .. } | Request::Release { .. }, _) => {
                Outcome::KeyLost {
                    reason: "superseded".into(),
                }
            }
            (Request::Get, None) => Outcome::NotFound,
            (Request::Get, Some(Record::InProgress { token, fp, .. })) => {
                Outcome::RecordInProgress {
                    token,
                    fingerprint: fp,
                }
            }
            (
                Request::Get,
                Some(Record::Completed {
                    token,
                    fp,
                    response,
                    ..
                }),
            ) => Outcome::RecordCompleted {
                token,
                fingerprint: fp,
                response,
            },
        }
    }

    /// Completed records are forgotten when their retention ends; abandoned
    /// reservations once their lease and then their retention have.
    fn forget_expired(&mut self, now_ns: u64, key: &str) {
        let expired = match self.records.get(key) {
            Some(Record::Completed { retain_end_ns, .. }) => now_ns >= *retain_end_ns,
            Some(Record::InProgress {
                lease_end_ns,
                retain_ms,
                ..
            }) => now_ns >= lease_end_ns + retain_ms * MS,
            None => false,
        };
        if expired {
            self.records.remove(key);
        }
    }
}
