//! End-to-end: replacing a dead node. Kill one node, wipe its data, add a
//! fresh node in its place, remove the old one: under a steady load, no
//! acknowledged record is lost and the cluster never stops serving.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{get, post, send, Cluster};

#[test]
fn replacing_a_dead_node_loses_nothing_and_never_stops_serving() {
    let c = Arc::new(Cluster::start());
    let leader = c.leader();
    let victim = (leader + 1) % 3;
    let spare = 3;
    let up: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(vec![0, 1, 2]));
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let successes: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (c, up, acked, successes, stop) = (
                c.clone(),
                up.clone(),
                acked.clone(),
                successes.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let nodes = up.lock().expect("lock").clone();
                    let node = nodes[(w + n) % nodes.len()];
                    let key = format!("w{w}-{n}");
                    let Ok(r) = post(
                        &c.key_url(node, "m", &key, "reserve"),
                        json!({"fingerprint": "f"}),
                    ) else {
                        continue;
                    };
                    if r.status != 201 {
                        continue;
                    }
                    let token = r.body["token"].as_u64().expect("token");
                    let body = format!("done {key}");
                    let done = post(
                        &c.key_url(node, "m", &key, "complete"),
                        json!({"token": token, "response": {"status": 200, "body": body}}),
                    );
                    if done.is_ok_and(|d| d.status == 200) {
                        acked.lock().expect("lock").insert(key, body);
                        successes.lock().expect("lock").push(Instant::now());
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(1));
    // The victim dies and its disk is lost.
    up.lock().expect("lock").retain(|i| *i != victim);
    c.kill(victim);
    std::fs::remove_dir_all(&c.nodes[victim].data).expect("wipe");

    // A fresh node takes its place.
    c.start_joining(spare);
    let live = (victim + 1) % 3;
    let add = post(
        &format!("{}/v1/cluster/members", c.url(live)),
        json!({"id": c.nodes[spare].id, "raft_addr": c.nodes[spare].raft, "http_addr": c.nodes[spare].http}),
    )
    .expect("add answered");
    assert_eq!(add.status, 200, "{add:?}");
    c.wait_ready(spare);
    let remove = send(
        "DELETE",
        &format!("{}/v1/cluster/members/{}", c.url(live), c.nodes[victim].id),
        None,
        None,
    )
    .expect("remove answered");
    assert_eq!(remove.status, 200, "{remove:?}");
    up.lock().expect("lock").push(spare);
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let ended = Instant::now();

    // The membership is the two survivors and the new node, all voters.
    let members = get(&format!("{}/v1/cluster/members", c.url(spare)))
        .expect("members")
        .body;
    let mut ids: Vec<u64> = members
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect();
    ids.sort();
    let mut expected: Vec<u64> = [0, 1, 2, 3]
        .iter()
        .filter(|i| **i != victim)
        .map(|i| c.nodes[*i].id)
        .collect();
    expected.sort();
    assert_eq!(ids, expected, "{members}");

    // It never stopped serving: a write succeeded in every second of the run.
    let successes = successes.lock().expect("lock");
    let mut t = started;
    while t + Duration::from_secs(1) <= ended {
        let window = t..t + Duration::from_secs(1);
        assert!(
            successes.iter().any(|s| window.contains(s)),
            "no write succeeded {:?} after the start",
            t - started
        );
        t += Duration::from_millis(500);
    }

    // No acknowledged completion was lost; the new node serves them all.
    let acked = acked.lock().expect("lock");
    for (i, (key, body)) in acked.iter().enumerate() {
        let node = if i % 2 == 0 { spare } else { live };
        let r = c.reserve(node, "m", key, json!({"fingerprint": "f"}));
        assert_eq!(r.status, 200, "{key}: {r:?}");
        assert_eq!(r.body["response"]["body"], body.as_str());
    }
    println!(
        "membership: {} acknowledged completions survived the replacement",
        acked.len()
    );
}
