//! End-to-end: kill -9 of the leader under a steady load of reserve +
//! complete. Writes resume (the figure is printed), every acknowledged
//! completion replays identically afterwards, and the killed node restarts
//! and catches up.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{post, Cluster};

#[derive(Default)]
struct Acked {
    /// key → the response body whose completion was acknowledged.
    completions: BTreeMap<String, String>,
    /// When each successful reserve was sent and answered.
    grants: Vec<(Instant, Instant)>,
}

#[test]
fn killing_the_leader_under_load_loses_no_acknowledged_completion() {
    let c = Cluster::start();
    let urls: Vec<String> = (0..3).map(|i| c.url(i)).collect();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let down: Arc<Mutex<Option<usize>>> = Arc::new(Mutex::new(None));

    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (urls, acked, stop, down) =
                (urls.clone(), acked.clone(), stop.clone(), down.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let node = (w + n as usize) % 3;
                    if *down.lock().expect("lock") == Some(node) {
                        continue;
                    }
                    let key = format!("w{w}-{n}");
                    let sent = Instant::now();
                    let url = format!("{}/v1/ns/load/keys/{key}", urls[node]);
                    let Ok(r) = post(
                        &format!("{url}/reserve"),
                        json!({"fingerprint": "f", "lease_ms": 10000}),
                    ) else {
                        continue;
                    };
                    if r.status != 201 {
                        continue;
                    }
                    acked
                        .lock()
                        .expect("lock")
                        .grants
                        .push((sent, Instant::now()));
                    let token = r.body["token"].as_u64().expect("token");
                    let body = format!("response of {key}");
                    let done = post(
                        &format!("{url}/complete"),
                        json!({"token": token, "response": {"status": 200, "body": body}}),
                    );
                    if done.is_ok_and(|d| d.status == 200) {
                        acked.lock().expect("lock").completions.insert(key, body);
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(2));
    let leader = c.leader();
    *down.lock().expect("lock") = Some(leader);
    let killed_at = Instant::now();
    c.kill(leader);
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }

    let acked = acked.lock().expect("lock");
    let before = acked
        .grants
        .iter()
        .filter(|(_, done)| *done < killed_at)
        .count();
    let first_after = acked
        .grants
        .iter()
        .filter(|(sent, _)| *sent >= killed_at)
        .map(|(_, done)| *done)
        .min();
    let recovery = first_after.map(|t| t - killed_at);
    println!(
        "failover: {before} grants before the kill, {} after; first write after kill -9 of the leader succeeded {recovery:?} later",
        acked.grants.len() - before
    );
    // Liveness, not speed: writes must resume within the 5 s of load after
    // the kill (the figure itself is reported above, not asserted).
    recovery.expect("writes resumed after the leader was killed");
    assert!(before > 0, "no load before the kill");

    // The killed node restarts and catches up.
    c.restart(leader);
    let new_leader = c.leader();
    let target = c
        .status(new_leader)
        .and_then(|s| s["last_applied_index"].as_u64())
        .expect("leader status");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let applied = c
            .status(leader)
            .and_then(|s| s["last_applied_index"].as_u64())
            .unwrap_or(0);
        if applied >= target {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarted node stuck at {applied} < {target}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Every acknowledged completion replays identically, from every node.
    for (i, (key, body)) in acked.completions.iter().enumerate() {
        let node = if i % 2 == 0 { leader } else { i % 3 };
        let r = c.reserve(node, "load", key, json!({"fingerprint": "f"}));
        assert_eq!(r.status, 200, "{key} via node {node}: {r:?}");
        assert_eq!(r.replayed.as_deref(), Some("true"));
        assert_eq!(r.body["response"]["body"], body.as_str(), "{key}");
    }
    println!(
        "failover: {} acknowledged completions replayed identically",
        acked.completions.len()
    );
}
