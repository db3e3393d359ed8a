//! End-to-end: wall clocks that jump minutes ahead (libfaketime, monotonic
//! clocks left alone) cannot end another client's lease early, and clocks
//! stepped by ten minutes for five seconds under load, then corrected, hold
//! no lease or retention late.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{get, post, Cluster, Options};

const LEASE_MS: u64 = 3000;

/// Reserves `key` in namespace `ns` through every node in turn until a
/// takeover is granted; fails if one is granted before the lease has run
/// for `lease_ms` in true time since `sent` (taken before the original
/// reserve was sent), or if none is within 40 s. How long it was held.
fn taken_over_not_early(
    c: &Cluster,
    ns: &str,
    key: &str,
    lease_ms: u64,
    sent: Instant,
) -> Duration {
    let deadline = sent + Duration::from_secs(40);
    let mut n = 0;
    loop {
        n += 1;
        let r = c.reserve(
            n % 3,
            ns,
            key,
            json!({"fingerprint": "f", "lease_ms": lease_ms}),
        );
        let answered = Instant::now();
        match r.status {
            201 => {
                let held = answered - sent;
                assert!(
                    held >= Duration::from_millis(lease_ms),
                    "{key}: lease of {lease_ms} ms ended after {held:?}: {r:?}"
                );
                assert_eq!(r.body["takeover"], true, "{key}: {r:?}");
                return held;
            }
            409 => assert_eq!(r.body["outcome"], "in_progress", "{r:?}"),
            503 => {} // an election under way
            other => panic!("{key}: unexpected {other}: {r:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "{key}: the lease was never taken over"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`taken_over_not_early`] for the jump tests' keys and lease.
fn takeover_not_before_the_lease_ends(c: &Cluster, key: &str, sent: Instant) -> Duration {
    taken_over_not_early(c, "skew", key, LEASE_MS, sent)
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

// ---- a step held for five seconds, then corrected ----------------------------

const STEP_LEASE_MS: u64 = 2000;

/// Keeps reserving fresh keys through every node until `stop`; the number
/// of grants.
fn load(
    c: &std::sync::Arc<Cluster>,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let (c, stop) = (c.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut grants = 0;
        let mut n = 0u64;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            n += 1;
            let r = post(
                &c.key_url((n % 3) as usize, "load", &format!("k{n}"), "reserve"),
                json!({"lease_ms": 30_000}),
            );
            if r.is_ok_and(|r| r.status == 201) {
                grants += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        grants
    })
}

/// Reads `key` until it is forgotten; how long since `completed`.
fn forgotten(c: &Cluster, key: &str, completed: Instant) -> Duration {
    loop {
        let r = get(&c.key_url(0, "step", key, "")).expect("get");
        let now = Instant::now();
        match r.status {
            404 => return now - completed,
            200 | 503 => {}
            other => panic!("{key}: unexpected {other}: {r:?}"),
        }
        assert!(
            now - completed < Duration::from_secs(60),
            "{key} was never forgotten"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The wall clocks of `stepped` nodes (the leader first) move `offset_secs`
/// for five seconds under load and are corrected. A worker that reserved
/// with a 2-s lease while they were off dies, so does one that reserved
/// just after; a completion with a 2-s retention is stored just after.
/// Both leases must be taken over, and the completion forgotten, within two
/// lease lengths plus a failover (asserted generously; the actual delays
/// are printed), and no lease before it ran out.
fn step_held_then_corrected(stepped: usize, offset_secs: i64) {
    if !std::path::Path::new(support::FAKETIME_LIB).exists() {
        panic!("libfaketime is not installed (scripts/test.sh installs it)");
    }
    let c = std::sync::Arc::new(Cluster::start_with(Options {
        faketime: true,
        ..Options::default()
    }));
    let leader = c.leader();
    let order: Vec<usize> = std::iter::once(leader)
        .chain((0..3).filter(|i| *i != leader))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = load(&c, &stop);
    for &i in &order[..stepped] {
        c.set_clock_offset(i, offset_secs);
    }
    std::thread::sleep(Duration::from_secs(4));
    let during = Instant::now();
    let r = c.reserve(
        leader,
        "step",
        "died-during",
        json!({"fingerprint": "f", "lease_ms": STEP_LEASE_MS}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["lease_remaining_ms"], STEP_LEASE_MS);
    std::thread::sleep(Duration::from_secs(1));
    for &i in &order[..stepped] {
        c.set_clock_offset(i, 0);
    }
    // libfaketime reads its file again within a second.
    std::thread::sleep(Duration::from_millis(1100));
    let after = Instant::now();
    let r = c.reserve(
        order[1],
        "step",
        "died-after",
        json!({"fingerprint": "f", "lease_ms": STEP_LEASE_MS}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = c.reserve(leader, "step", "short", json!({"retain_ms": 2000}));
    assert_eq!(r.status, 201, "{r:?}");
    let token = r.body["token"].as_u64().expect("token");
    let done = c.complete(
        leader,
        "step",
        "short",
        token,
        json!({"status": 200, "body": "ok"}),
    );
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["retain_remaining_ms"], 2000);
    let completed = Instant::now();

    let during_held = taken_over_not_early(&c, "step", "died-during", STEP_LEASE_MS, during);
    let after_held = taken_over_not_early(&c, "step", "died-after", STEP_LEASE_MS, after);
    let forgot = forgotten(&c, "short", completed);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let grants = writer.join().expect("load");
    println!(
        "{stepped} node(s) {offset_secs:+} s for 5 s: 2-s leases taken over after {during_held:?} \
         (reserved while off) and {after_held:?} (after); 2-s retention forgotten after \
         {forgot:?}; {grants} grants under load"
    );
    // Two lease lengths plus a failover (an election takes under a second).
    let bound = Duration::from_millis(2 * STEP_LEASE_MS + 1_000);
    assert!(
        during_held <= bound,
        "reserved while off: {during_held:?} > {bound:?}"
    );
    // Taken over only after the correction had reached every node: it may
    // have waited out the second it took libfaketime to notice.
    assert!(
        after_held <= bound,
        "reserved after: {after_held:?} > {bound:?}"
    );
    assert!(forgot <= bound, "retention: {forgot:?} > {bound:?}");
    assert!(grants > 0, "the load got nothing");
}

#[test]
fn every_clock_ten_minutes_ahead_for_five_seconds_holds_no_lease_late() {
    step_held_then_corrected(3, 600);
}

#[test]
fn every_clock_ten_minutes_behind_for_five_seconds_holds_no_lease_late() {
    step_held_then_corrected(3, -600);
}

#[test]
fn one_clock_ten_minutes_ahead_for_five_seconds_holds_no_lease_late() {
    step_held_then_corrected(1, 600);
}

#[test]
fn two_clocks_ten_minutes_ahead_for_five_seconds_hold_no_lease_late() {
    step_held_then_corrected(2, 600);
}
