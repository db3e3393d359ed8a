//! The rules judged directly on the operations, without a search: leases do
//! not end early, completions are replayed while retained, fencing tokens
//! only grow. (Linearizability has its own module, [`crate::linear`].)

pub mod fencing;
pub mod no_early_expiry;
pub mod replay;

/// Milliseconds to nanoseconds, saturating (the inputs are history data).
pub(crate) fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// Nanoseconds as seconds, for messages.
pub(crate) fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}
