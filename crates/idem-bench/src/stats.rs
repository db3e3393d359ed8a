//! What a run measured: outcome counts by reply and an HDR histogram of
//! latencies in microseconds. Every connection records into the one
//! [`RunStats`] (behind a mutex held for a few hundred nanoseconds per
//! operation), which the progress line and the report read.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::error::OpError;

/// Highest latency the histogram holds (1 h, in µs); above is clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How an operation ended, as the workload sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The operation did what it set out to do (reserved, completed, replayed).
    Ok,
    /// The server answered correctly that the key is taken (idem 409 or 200
    /// on a reserve, etcd compare failed, Redis `SET NX` nil).
    Conflict,
    /// Anything else: an unexpected status, a timeout, a broken connection.
    Error,
}

/// The reply that decided an operation's outcome, for counting by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    Http(u16),
    Redis(RedisReply),
    Timeout,
    Transport,
    Protocol,
}

/// The kinds of Redis reply the workloads see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisReply {
    Ok,
    Nil,
    Value,
    Error,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Http(status) => write!(f, "{status}"),
            Reply::Redis(RedisReply::Ok) => f.write_str("OK"),
            Reply::Redis(RedisReply::Nil) => f.write_str("nil"),
            Reply::Redis(RedisReply::Value) => f.write_str("value"),
            Reply::Redis(RedisReply::Error) => f.write_str("ERR"),
            Reply::Timeout => f.write_str("timeout"),
            Reply::Transport => f.write_str("transport"),
            Reply::Protocol => f.write_str("protocol"),
        }
    }
}

/// One operation's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    pub outcome: Outcome,
    pub reply: Reply,
    /// For errors: what went wrong, kept (once) for the report.
    pub detail: Option<String>,
}

impl OpResult {
    pub fn new(outcome: Outcome, reply: Reply) -> OpResult {
        OpResult {
            outcome,
            reply,
            detail: None,
        }
    }

    /// An answer the workload did not expect.
    pub fn unexpected(reply: Reply, detail: impl Into<String>) -> OpResult {
        OpResult {
            outcome: Outcome::Error,
            reply,
            detail: Some(detail.into()),
        }
    }
}

impl From<OpError> for OpResult {
    fn from(error: OpError) -> OpResult {
        let reply = match error {
            OpError::Transport(_) => Reply::Transport,
            OpError::Timeout => Reply::Timeout,
            OpError::Protocol(_) => Reply::Protocol,
        };
        OpResult::unexpected(reply, error.to_string())
    }
}

/// Operations counted by outcome and by reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub conflict: u64,
    pub error: u64,
    pub by_reply: HashMap<Reply, u64>,
}

impl Counts {
    pub fn add(&mut self, result: &OpResult) {
        match result.outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Conflict => self.conflict += 1,
            Outcome::Error => self.error += 1,
        }
        *self.by_reply.entry(result.reply).or_insert(0) += 1;
    }

    /// Operations that got a correct answer (ok or conflict).
    pub fn answered(&self) -> u64 {
        self.ok + self.conflict
    }

    pub fn total(&self) -> u64 {
        self.ok + self.conflict + self.error
    }
}

/// What the run measured so far.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Latency of answered operations in the measured window, in µs.
    pub latency_us: Histogram<u64>,
    /// Operations in the measured window.
    pub counts: Counts,
    /// Every operation, warm-up included (for the progress line).
    pub all_operations: u64,
    /// Open loop: measured operations that were due but not sent before the
    /// end, because the target could not keep up with the rate.
    pub unsent: u64,
    /// The first error's description.
    pub first_error: Option<String>,
}

impl Default for RunStats {
    fn default() -> Self {
        RunStats {
            latency_us: empty_histogram(),
            counts: Counts::default(),
            all_operations: 0,
            unsent: 0,
            first_error: None,
        }
    }
}

impl RunStats {
    /// Counts an operation; `measured` is false during the warm-up.
    pub fn record(&mut self, result: OpResult, latency: Duration, measured: bool) {
        self.all_operations += 1;
        if !measured {
            return;
        }
        self.counts.add(&result);
        if result.outcome == Outcome::Error {
            if self.first_error.is_none() {
                self.first_error = Some(format!(
                    "{}: {}",
                    result.reply,
                    result.detail.unwrap_or_default()
                ));
            }
        } else {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.latency_us
                .saturating_record(micros.clamp(1, MAX_LATENCY_US));
        }
    }
}

pub fn empty_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_operations_are_not_measured() {
        let mut stats = RunStats::default();
        stats.record(
            OpResult::new(Outcome::Ok, Reply::Http(201)),
            Duration::from_millis(1),
            false,
        );
        assert_eq!(stats.all_operations, 1);
        assert_eq!(stats.counts.total(), 0);
        assert_eq!(stats.latency_us.len(), 0);
    }

    #[test]
    fn errors_are_counted_but_not_timed() {
        let mut stats = RunStats::default();
        stats.record(
            OpResult::new(Outcome::Ok, Reply::Http(201)),
            Duration::from_micros(1500),
            true,
        );
        stats.record(
            OpResult::new(Outcome::Conflict, Reply::Http(409)),
            Duration::from_micros(700),
            true,
        );
        stats.record(OpError::Timeout.into(), Duration::from_secs(5), true);
        assert_eq!(
            (stats.counts.ok, stats.counts.conflict, stats.counts.error),
            (1, 1, 1)
        );
        assert_eq!(stats.latency_us.len(), 2);
        assert!(stats.latency_us.max() < 1600);
        assert_eq!(stats.first_error.as_deref(), Some("timeout: timed out"));
        assert_eq!(stats.counts.by_reply[&Reply::Timeout], 1);
    }

    #[test]
    fn replies_print_as_status_labels() {
        assert_eq!(Reply::Http(409).to_string(), "409");
        assert_eq!(Reply::Redis(RedisReply::Nil).to_string(), "nil");
        assert_eq!(Reply::Transport.to_string(), "transport");
    }
}
