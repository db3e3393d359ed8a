//! End-to-end: the log stays bounded and expired records are cleaned up.
//! A follower that missed 50,000 writes (and the log they were in) rejoins
//! through a snapshot with the same state; records whose retention ended
//! are purged on every node and the data directory shrinks.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use idem_cluster::IdemTypes;
use idem_core::{IdemKey, KeyId, Namespace};
use serde_json::json;
use support::{Cluster, Options};

type Store = idem_store::Store<IdemTypes>;

fn dir_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

fn key_id(ns: &str, key: &str) -> KeyId {
    KeyId::new(
        Namespace::new(ns).expect("ns"),
        IdemKey::new(key).expect("key"),
    )
}

fn wait_applied(c: &Cluster, node: usize, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let applied = c
            .status(node)
            .and_then(|s| s["last_applied_index"].as_u64())
            .unwrap_or(0);
        if applied >= target {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {node} stuck at {applied} < {target}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes `count` fresh keys `prefix-N` through the running nodes, 32 at a time.
fn write_keys(
    c: &Arc<Cluster>,
    running: &[usize],
    prefix: &str,
    count: u64,
    body: serde_json::Value,
) {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..32)
        .map(|w| {
            let (c, next, running, prefix, body) = (
                c.clone(),
                next.clone(),
                running.to_vec(),
                prefix.to_string(),
                body.clone(),
            );
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= count {
                    return;
                }
                let node = running[(w + n as usize) % running.len()];
                let r = c.reserve(node, "bulk", &format!("{prefix}-{n}"), body.clone());
                assert_eq!(r.status, 201, "{prefix}-{n}: {r:?}");
            })
        })
        .collect();
    for w in workers {
        w.join().expect("writer");
    }
}

#[test]
fn a_follower_that_missed_50000_writes_rejoins_through_a_snapshot() {
    // Commands share log entries (up to one per concurrent writer), so 50,000
    // writes may be as few as ~1,600 entries on a fast machine: snapshots
    // must come often enough that the leader's log is purged past the
    // stopped follower in any case (200 entries, and 200 kept behind each).
    let args = vec!["--snapshot-every".to_string(), "200".to_string()];
    let c = Arc::new(Cluster::start_with(Options {
        args,
        ..Options::default()
    }));
    let leader = c.leader();
    let follower = (leader + 1) % 3;
    c.kill(follower);
    let running: Vec<usize> = (0..3).filter(|i| *i != follower).collect();
    let started = Instant::now();
    write_keys(
        &c,
        &running,
        "k",
        50_000,
        json!({"fingerprint": "f", "lease_ms": 600000}),
    );
    println!("compaction: 50,000 reserves in {:?}", started.elapsed());

    c.restart(follower);
    let leader = c.leader();
    let target = c
        .status(leader)
        .and_then(|s| s["last_applied_index"].as_u64())
        .expect("leader status");
    wait_applied(&c, follower, target);

    // Compare the two state machines record by record, offline.
    let leader_data = c.nodes[leader].data.clone();
    let follower_data = c.nodes[follower].data.clone();
    for i in 0..3 {
        c.kill(i);
    }
    let a = Store::open(&leader_data).expect("leader store");
    let b = Store::open(&follower_data).expect("follower store");
    assert!(
        b.report.snapshot_index.is_some(),
        "the follower never installed a snapshot: {:?}",
        b.report
    );
    assert!(
        a.report.first_log_index.unwrap_or(0) > 1,
        "the leader's log was never compacted: {:?}",
        a.report
    );
    println!(
        "compaction: leader {:?}\ncompaction: follower {:?}",
        a.report, b.report
    );
    for n in 0..50_000 {
        let id = key_id("bulk", &format!("k-{n}"));
        let ra = a.reader.raw_record(&id).expect("read");
        assert!(ra.is_some(), "k-{n} missing on the leader");
        assert_eq!(ra, b.reader.raw_record(&id).expect("read"), "k-{n} differs");
    }
}

#[test]
fn records_whose_retention_ended_are_purged_and_the_disk_shrinks() {
    let args = vec![
        "--snapshot-every".to_string(),
        "2000".to_string(),
        "--purge-every-ms".to_string(),
        "200".to_string(),
    ];
    let c = Arc::new(Cluster::start_with(Options {
        args,
        ..Options::default()
    }));
    write_keys(
        &c,
        &[0, 1, 2],
        "short",
        5_000,
        json!({"fingerprint": "f", "lease_ms": 100, "retain_ms": 2000}),
    );
    write_keys(
        &c,
        &[0, 1, 2],
        "long",
        100,
        json!({"fingerprint": "f", "lease_ms": 600000, "retain_ms": 600000}),
    );

    let before: Vec<u64> = (0..3).map(|i| dir_bytes(&c.nodes[i].data)).collect();
    // Abandoned reservations are forgotten after lease + retention (2.1 s);
    // give the cleaner a few rounds after that.
    std::thread::sleep(Duration::from_secs(5));
    let r = support::get(&c.key_url(0, "bulk", "short-0", "")).expect("get");
    assert_eq!(r.status, 404, "{r:?}");
    let leader = c.leader();
    let target = c
        .status(leader)
        .and_then(|s| s["last_applied_index"].as_u64())
        .expect("status");
    for i in 0..3 {
        wait_applied(&c, i, target);
    }
    let data: Vec<_> = (0..3).map(|i| c.nodes[i].data.clone()).collect();
    for i in 0..3 {
        c.kill(i);
    }
    for (i, dir) in data.iter().enumerate() {
        let store = Store::open(dir).expect("store");
        for n in 0..5_000 {
            let id = key_id("bulk", &format!("short-{n}"));
            assert!(
                store.reader.raw_record(&id).expect("read").is_none(),
                "node {i}: short-{n} not purged"
            );
        }
        for n in 0..100 {
            let id = key_id("bulk", &format!("long-{n}"));
            assert!(
                store.reader.raw_record(&id).expect("read").is_some(),
                "node {i}: long-{n} purged early"
            );
        }
        store.compact().expect("compact");
        drop(store);
        let after = dir_bytes(dir);
        println!(
            "compaction: node {i} data dir {} bytes before clean-up, {after} after ({} bytes per live key)",
            before[i],
            after / 100
        );
        assert!(
            after < before[i],
            "node {i}: data dir did not shrink ({} → {after})",
            before[i]
        );
    }
}
