//! What the guard did, counted: requests by outcome, the upstream's
//! latency, and answers it could not store. Rendered as Prometheus text by
//! whoever serves it (the proxy on its metrics address, an axum service on
//! a route of its own).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How the guard answered one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardOutcome {
    /// Sent upstream under a lease (its answer stored, or released).
    Executed,
    /// A stored answer sent again at once.
    Replayed,
    /// A duplicate that waited for the first request and got its answer.
    Waited,
    /// 409: still in progress when the wait ran out.
    Conflict,
    /// 422: the key was used for a different request.
    Mismatch,
    /// The upstream's outcome is not known (a timeout after sending, a
    /// takeover after a committing owner); not sent again.
    Unknown,
    /// Not guarded: another method, or no key where keys are optional.
    Bypassed,
    /// 400 or 413 before anything was reserved.
    Refused,
    /// 503 (idem unreachable, failing closed) or 502 (upstream unreachable,
    /// nothing sent).
    Unavailable,
    /// idem unreachable and sent upstream unprotected (fail open).
    FailedOpen,
}

impl GuardOutcome {
    pub const ALL: [GuardOutcome; 10] = [
        GuardOutcome::Executed,
        GuardOutcome::Replayed,
        GuardOutcome::Waited,
        GuardOutcome::Conflict,
        GuardOutcome::Mismatch,
        GuardOutcome::Unknown,
        GuardOutcome::Bypassed,
        GuardOutcome::Refused,
        GuardOutcome::Unavailable,
        GuardOutcome::FailedOpen,
    ];

    pub fn label(self) -> &'static str {
        match self {
            GuardOutcome::Executed => "executed",
            GuardOutcome::Replayed => "replayed",
            GuardOutcome::Waited => "waited",
            GuardOutcome::Conflict => "conflict",
            GuardOutcome::Mismatch => "mismatch",
            GuardOutcome::Unknown => "unknown",
            GuardOutcome::Bypassed => "bypassed",
            GuardOutcome::Refused => "refused",
            GuardOutcome::Unavailable => "unavailable",
            GuardOutcome::FailedOpen => "failed_open",
        }
    }

    /// Its place in [`GuardOutcome::ALL`] (declared in the same order).
    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the upstream latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The guard's counters, shared by every request.
#[derive(Debug, Default)]
pub struct GuardMetrics {
    outcomes: [AtomicU64; GuardOutcome::ALL.len()],
    not_stored: AtomicU64,
    upstream: Mutex<Histogram>,
}

impl GuardMetrics {
    pub fn count(&self, outcome: GuardOutcome) {
        self.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered with `outcome` so far.
    pub fn requests(&self, outcome: GuardOutcome) -> u64 {
        self.outcomes[outcome.index()].load(Ordering::Relaxed)
    }

    /// An answer that ran upstream but could not be stored in idem.
    pub fn count_not_stored(&self) {
        self.not_stored.fetch_add(1, Ordering::Relaxed);
    }

    pub fn not_stored(&self) -> u64 {
        self.not_stored.load(Ordering::Relaxed)
    }

    pub fn observe_upstream(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let mut h = self.upstream.lock().unwrap_or_else(|p| p.into_inner());
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP idem_guard_requests_total Requests by how the idempotency guard answered them.\n");
        out.push_str("# TYPE idem_guard_requests_total counter\n");
        for o in GuardOutcome::ALL {
            let _ = writeln!(
                out,
                "idem_guard_requests_total{{outcome=\"{}\"}} {}",
                o.label(),
                self.requests(o)
            );
        }
        out.push_str("# HELP idem_guard_not_stored_total Answers that ran upstream but could not be stored in idem.\n");
        out.push_str("# TYPE idem_guard_not_stored_total counter\n");
        let _ = writeln!(out, "idem_guard_not_stored_total {}", self.not_stored());
        out.push_str(
            "# HELP idem_guard_upstream_seconds Time the upstream took for guarded requests.\n",
        );
        out.push_str("# TYPE idem_guard_upstream_seconds histogram\n");
        let h = self.upstream.lock().unwrap_or_else(|p| p.into_inner());
        for (bound, n) in BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(
                out,
                "idem_guard_upstream_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "idem_guard_upstream_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "idem_guard_upstream_seconds_sum {}", h.sum);
        let _ = writeln!(out, "idem_guard_upstream_seconds_count {}", h.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_counter() {
        for (i, o) in GuardOutcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
        }
    }

    #[test]
    fn counts_and_latencies_are_rendered() {
        let m = GuardMetrics::default();
        m.count(GuardOutcome::Executed);
        m.count(GuardOutcome::Replayed);
        m.count(GuardOutcome::Replayed);
        m.observe_upstream(Duration::from_millis(3));
        let text = m.render();
        assert!(
            text.contains("idem_guard_requests_total{outcome=\"replayed\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("idem_guard_requests_total{outcome=\"failed_open\"} 0\n"));
        assert!(text.contains("idem_guard_upstream_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("idem_guard_upstream_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("idem_guard_upstream_seconds_count 1\n"));
    }
}
