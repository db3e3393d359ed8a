//! The recorded history of a chaos run: one [`Event`] per line of a JSON
//! lines file. A client operation is an `invoke` followed, on the same
//! `process`, by exactly one `ok`, `fail` or `info`:
//!
//! - `ok`: idem gave a definite answer (including 409 and 422 answers, which
//!   the model judges like any other outcome);
//! - `fail`: the operation certainly did not happen (the request was never
//!   sent, e.g. the connection was refused);
//! - `info`: indeterminate (a timeout, a 503, a dropped connection after the
//!   request was sent): it may or may not have taken effect, at any time
//!   after its invocation. A process that got `info` never invokes again; the
//!   client carries on under a fresh process number.
//!
//! Times are the harness's monotonic clock in nanoseconds since the run
//! began; idem's own (possibly skewed) clocks never enter the checks.

use serde::{Deserialize, Serialize};

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, from 0, in the order events were recorded.
    pub index: u64,
    /// Harness monotonic time, ns since the run began.
    pub time_ns: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A client sends `request` about `key` to node `node` (1-based).
    Invoke {
        process: u64,
        node: u32,
        key: String,
        request: Request,
    },
    /// The definite answer to the process's outstanding invocation.
    Ok { process: u64, outcome: Outcome },
    /// The outstanding invocation certainly did not happen.
    Fail { process: u64, error: String },
    /// The outstanding invocation may or may not have happened.
    Info { process: u64, error: String },
    /// A fault began (`start`) or ended (`stop`).
    Nemesis {
        phase: NemesisPhase,
        name: String,
        detail: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NemesisPhase {
    Start,
    Stop,
}

/// The response a worker stores with `complete`, compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What a client asked for. Every request carries its parameters, so the
/// checkers need nothing but the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Request {
    Reserve {
        fingerprint: String,
        lease_ms: u64,
        retain_ms: u64,
        /// The attempt id (a logical request's retries share it: a retry of
        /// a reserve that went through resumes it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<String>,
        /// How long idem may hold the reserve for another attempt's result.
        #[serde(default, skip_serializing_if = "is_zero")]
        wait_ms: u64,
    },
    Heartbeat {
        token: u64,
        lease_ms: u64,
        /// Marks the key committing.
        #[serde(default, skip_serializing_if = "is_false")]
        committing: bool,
    },
    Complete {
        token: u64,
        response: StoredResponse,
    },
    Release {
        token: u64,
        /// The owner asserts it did not commit.
        #[serde(default, skip_serializing_if = "is_false")]
        not_committed: bool,
    },
    Get,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A definite answer, as idem's HTTP API gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// reserve 201: the caller owns the key under `token`. `resumed`: its
    /// own attempt's earlier grant, same token. `previous_committing`:
    /// tokens of earlier owners that marked the key committing.
    Reserved {
        token: u64,
        takeover: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        resumed: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        previous_committing: Vec<u64>,
    },
    /// reserve 200: the key is completed; replay `response`.
    Replayed {
        token: u64,
        response: StoredResponse,
    },
    /// reserve 409: another owner holds a live lease.
    InProgress,
    /// reserve 422 fingerprint-mismatch.
    FingerprintMismatch,
    /// heartbeat 200.
    Extended { token: u64 },
    /// complete 200 (`replayed`: the same owner sent the same completion again).
    Completed { token: u64, replayed: bool },
    /// complete 409 conflicting-completion.
    ConflictingCompletion { token: u64 },
    /// heartbeat / complete / release 409 key-lost.
    KeyLost { reason: String },
    /// release 200.
    Released { token: u64 },
    /// release 409 release-of-committing: the owner marked the key
    /// committing and did not assert it did not commit.
    ReleaseRefused { token: u64 },
    /// get 404.
    NotFound,
    /// get 200, state in_progress.
    RecordInProgress { token: u64, fingerprint: String },
    /// get 200, state released (earlier owners had marked it committing).
    RecordReleased { token: u64, fingerprint: String },
    /// get 200, state completed.
    RecordCompleted {
        token: u64,
        fingerprint: String,
        response: StoredResponse,
    },
}

impl Request {
    /// The operation's name, as serialised in `f`.
    pub fn f(&self) -> &'static str {
        match self {
            Request::Reserve { .. } => "reserve",
            Request::Heartbeat { .. } => "heartbeat",
            Request::Complete { .. } => "complete",
            Request::Release { .. } => "release",
            Request::Get => "get",
        }
    }

    /// Every `f`, in the order reports list them.
    pub const FS: [&'static str; 5] = ["reserve", "heartbeat", "complete", "release", "get"];
}

impl Outcome {
    /// The outcome's name, as serialised in `outcome`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Reserved { .. } => "reserved",
            Outcome::Replayed { .. } => "replayed",
            Outcome::InProgress => "in_progress",
            Outcome::FingerprintMismatch => "fingerprint_mismatch",
            Outcome::Extended { .. } => "extended",
            Outcome::Completed { .. } => "completed",
            Outcome::ConflictingCompletion { .. } => "conflicting_completion",
            Outcome::KeyLost { .. } => "key_lost",
            Outcome::Released { .. } => "released",
            Outcome::ReleaseRefused { .. } => "release_refused",
            Outcome::NotFound => "not_found",
            Outcome::RecordInProgress { .. } => "record_in_progress",
            Outcome::RecordReleased { .. } => "record_released",
            Outcome::RecordCompleted { .. } => "record_completed",
        }
    }

    /// Whether idem can answer `request` with an outcome of this kind at
    /// all (a reserve is never answered `extended`, and so on).
    pub fn answers(&self, request: &Request) -> bool {
        matches!(
            (request, self),
            (
                Request::Reserve { .. },
                Outcome::Reserved { .. }
                    | Outcome::Replayed { .. }
                    | Outcome::InProgress
                    | Outcome::FingerprintMismatch
            ) | (
                Request::Heartbeat { .. },
                Outcome::Extended { .. } | Outcome::KeyLost { .. }
            ) | (
                Request::Complete { .. },
                Outcome::Completed { .. }
                    | Outcome::ConflictingCompletion { .. }
                    | Outcome::KeyLost { .. }
            ) | (
                Request::Release { .. },
                Outcome::Released { .. } | Outcome::ReleaseRefused { .. } | Outcome::KeyLost { .. }
            ) | (
                Request::Get,
                Outcome::NotFound
                    | Outcome::RecordInProgress { .. }
                    | Outcome::RecordReleased { .. }
                    | Outcome::RecordCompleted { .. }
            )
        )
    }
}

/// Reads a JSON lines history.
pub fn parse_history(text: &str) -> Result<Vec<Event>, HistoryError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| HistoryError::Line {
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Writes one event as a line (without the newline).
pub fn to_line(event: &Event) -> String {
    // Serialising these plain types cannot fail.
    serde_json::to_string(event).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history line {line}: {message}")]
    Line { line: usize, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_written() {
        let events = vec![
            Event {
                index: 0,
                time_ns: 5,
                body: EventBody::Invoke {
                    process: 3,
                    node: 2,
                    key: "k1".into(),
                    request: Request::Reserve {
                        fingerprint: "a".into(),
                        lease_ms: 500,
                        retain_ms: 3000,
                        attempt: Some("att".into()),
                        wait_ms: 0,
                    },
                },
            },
            Event {
                index: 1,
                time_ns: 9,
                body: EventBody::Ok {
                    process: 3,
                    outcome: Outcome::Reserved {
                        token: 17,
                        takeover: false,
                        resumed: true,
                        previous_committing: vec![9],
                    },
                },
            },
        ];
        let text: String = events.iter().map(|e| to_line(e) + "\n").collect();
        assert!(text.contains(r#""type":"invoke""#), "{text}");
        assert!(text.contains(r#""f":"reserve""#), "{text}");
        assert_eq!(parse_history(&text).unwrap(), events);
    }
}
