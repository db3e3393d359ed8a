//! End-to-end: wall clocks that jump minutes ahead (libfaketime, monotonic
//! clocks left alone) cannot end another client's lease early.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Cluster, Options};

const LEASE_MS: u64 = 3000;

/// Reserves through every node in turn until a takeover is granted; fails if
/// one is granted before the lease has run for `LEASE_MS` in true time since
/// `sent` (taken before the original reserve was sent).
fn takeover_not_before_the_lease_ends(c: &Cluster, key: &str, sent: Instant) -> Duration {
    let deadline = sent + Duration::from_secs(40);
    let mut n = 0;
    loop {
        n += 1;
        let r = c.reserve(
            n % 3,
            "skew",
            key,
            json!({"fingerprint": "f", "lease_ms": LEASE_MS}),
        );
        let answered = Instant::now();
        match r.status {
            201 => {
                let held = answered - sent;
                assert!(
                    held >= Duration::from_millis(LEASE_MS),
                    "lease of {LEASE_MS} ms ended after {held:?}: {r:?}"
                );
                assert_eq!(r.body["takeover"], true, "{r:?}");
                return held;
            }
            409 => assert_eq!(r.body["outcome"], "in_progress", "{r:?}"),
            503 => {} // an election under way
            other => panic!("unexpected {other}: {r:?}"),
        }
        assert!(Instant::now() < deadline, "the lease was never taken over");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn grant(c: &Cluster, key: &str) -> Instant {
    let sent = Instant::now();
    let r = c.reserve(
        0,
        "skew",
        key,
        json!({"fingerprint": "f", "lease_ms": LEASE_MS}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    sent
}

#[test]
fn the_leaders_clock_jumping_ten_minutes_ahead_does_not_end_a_lease() {
    if !std::path::Path::new(support::FAKETIME_LIB).exists() {
        panic!("libfaketime is not installed (scripts/test.sh installs it)");
    }
    let c = Cluster::start_with(Options {
        faketime: true,
        ..Options::default()
    });
    let leader = c.leader();
    let sent = grant(&c, "leader-jumps");
    c.set_clock_offset(leader, 600);
    let held = takeover_not_before_the_lease_ends(&c, "leader-jumps", sent);
    println!("leader +10 min: lease held {held:?} (lease {LEASE_MS} ms)");
}

#[test]
fn every_clock_jumping_ten_minutes_ahead_does_not_end_a_lease() {
    if !std::path::Path::new(support::FAKETIME_LIB).exists() {
        panic!("libfaketime is not installed (scripts/test.sh installs it)");
    }
    let c = Cluster::start_with(Options {
        faketime: true,
        ..Options::default()
    });
    let sent = grant(&c, "all-jump");
    for i in 0..3 {
        c.set_clock_offset(i, 600);
    }
    // Let the jump take effect (libfaketime re-reads its file every second).
    std::thread::sleep(Duration::from_millis(1200));
    let r = c.reserve(1, "skew", "all-jump", json!({"fingerprint": "f"}));
    if Instant::now() < sent + Duration::from_millis(LEASE_MS) {
        assert_eq!(
            r.status, 409,
            "taken over early after a ten-minute jump: {r:?}"
        );
    }
    let held = takeover_not_before_the_lease_ends(&c, "all-jump", sent);
    println!("all clocks +10 min: lease held {held:?} (lease {LEASE_MS} ms)");
}
