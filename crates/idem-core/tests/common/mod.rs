//! Shared by the core's integration tests: a simulated leader that stamps
//! entries (with a real-time clock, a skewable wall clock and terms), a
//! generated workload, and checks over the recorded trace.
#![allow(dead_code)]

pub mod checks;
pub mod sim;
pub mod workload;

/// At least 2,000 generated cases per property; `IDEM_PROPTEST_CASES` asks
/// for more (or fewer).
pub fn proptest_config() -> proptest::prelude::ProptestConfig {
    let cases = std::env::var("IDEM_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    proptest::prelude::ProptestConfig {
        cases,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    }
}
