//! End-to-end: three real `idem` processes serving the key API from any
//! node.

mod support;

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};
use support::{get, post, record_facts, send, Cluster};

fn followers(c: &Cluster) -> (usize, usize, usize) {
    let leader = c.leader();
    let mut others = (0..3).filter(|i| *i != leader);
    (
        leader,
        others.next().expect("a follower"),
        others.next().expect("a follower"),
    )
}

#[test]
fn reserve_on_a_follower_complete_on_another_replay_from_the_leader() {
    let c = Cluster::start();
    let (leader, f1, f2) = followers(&c);
    let r = c.reserve(
        f1,
        "shop",
        "order-1",
        json!({"fingerprint": "fp-1", "lease_ms": 30000}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["outcome"], "reserved");
    assert_eq!(r.body["takeover"], false);
    let token = r.body["token"].as_u64().expect("token");

    let response =
        json!({"status": 201, "headers": {"location": "/orders/1"}, "body": "{\"id\":1}"});
    let done = c.complete(f2, "shop", "order-1", token, response.clone());
    assert_eq!(done.status, 200, "{done:?}");

    let replay = c.reserve(leader, "shop", "order-1", json!({"fingerprint": "fp-1"}));
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.replayed.as_deref(), Some("true"));
    assert_eq!(replay.body["outcome"], "completed");
    assert_eq!(replay.body["response"], response);

    // Every node reads the same record.
    let reads: Vec<Value> = (0..3)
        .map(|i| record_facts(get(&c.key_url(i, "shop", "order-1", "")).expect("get").body))
        .collect();
    assert_eq!(reads[0], reads[1]);
    assert_eq!(reads[1], reads[2]);
    assert_eq!(reads[0]["state"], "completed");
}

/// Followers serve linearizable reads themselves (they ask the leader only
/// how far they must have applied): a write the leader has acknowledged is
/// seen by the very next read on either follower, though the followers learn
/// of its commit only after the leader has answered.
#[test]
fn followers_read_every_write_the_leader_acknowledged() {
    let c = Cluster::start();
    let (leader, f1, f2) = followers(&c);
    for n in 0..150 {
        let key = format!("k{n}");
        let r = c.reserve(
            leader,
            "shop",
            &key,
            json!({"fingerprint": "fp", "lease_ms": 30000}),
        );
        assert_eq!(r.status, 201, "{r:?}");
        let token = r.body["token"].as_u64().expect("token");
        let seen = get(&c.key_url(f1, "shop", &key, "")).expect("get");
        assert_eq!(seen.status, 200, "key {key} just reserved: {seen:?}");
        assert_eq!(seen.body["state"], "in_progress", "{seen:?}");

        let response = json!({"status": 201, "headers": {}, "body": format!("order {n}")});
        let done = c.complete(leader, "shop", &key, token, response.clone());
        assert_eq!(done.status, 200, "{done:?}");
        let seen = get(&c.key_url(f2, "shop", &key, "")).expect("get");
        assert_eq!(seen.body["state"], "completed", "key {key}: {seen:?}");
        let replay = c.reserve(f1, "shop", &key, json!({"fingerprint": "fp"}));
        assert_eq!(replay.status, 200, "key {key}: {replay:?}");
        assert_eq!(replay.body["response"], response);
    }
}

/// A follower that restarts behind the leader answers reads only once it
/// has applied what the leader had acknowledged: never an older state.
#[test]
fn a_follower_catching_up_never_reads_an_older_state() {
    let c = Arc::new(Cluster::start());
    let (leader, f1, _) = followers(&c);
    c.kill(f1);
    // Thousands of log entries for it to catch up on.
    c.reserve_fresh_keys(leader, "t", 8, 250);
    let last = c.reserve(leader, "shop", "last", json!({"fingerprint": "fp"}));
    assert_eq!(last.status, 201, "{last:?}");

    c.restart(f1); // back as soon as it knows the leader, still catching up
    let behind = c.status(f1).and_then(|s| s["last_applied_index"].as_u64());
    let seen = get(&c.key_url(f1, "shop", "last", "")).expect("get");
    assert_eq!(
        seen.status, 200,
        "restarted follower (applied {behind:?} at restart): {seen:?}"
    );
    assert_eq!(seen.body["token"], last.body["token"], "{seen:?}");
}

#[test]
fn sixty_four_concurrent_reserves_grant_exactly_one() {
    let c = Arc::new(Cluster::start());
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let c = c.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                c.reserve(
                    i % 3,
                    "pay",
                    "charge-42",
                    json!({"fingerprint": "same", "lease_ms": 60000}),
                )
            })
        })
        .collect();
    let replies: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let granted = replies.iter().filter(|r| r.status == 201).count();
    let in_progress = replies
        .iter()
        .filter(|r| r.status == 409 && r.body["outcome"] == "in_progress")
        .count();
    assert_eq!(granted, 1, "{replies:#?}");
    assert_eq!(in_progress, 63, "{replies:#?}");
    for r in replies.iter().filter(|r| r.status == 409) {
        assert!(r.retry_after.is_some(), "409 without Retry-After: {r:?}");
    }

    // After completion, every retry replays the one response.
    let token = replies
        .iter()
        .find(|r| r.status == 201)
        .and_then(|r| r.body["token"].as_u64())
        .expect("token");
    c.complete(
        0,
        "pay",
        "charge-42",
        token,
        json!({"status": 200, "body": "charged once"}),
    );
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let c = c.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                c.reserve(i % 3, "pay", "charge-42", json!({"fingerprint": "same"}))
            })
        })
        .collect();
    for h in handles {
        let r = h.join().expect("thread");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["response"]["body"], "charged once");
    }
}

#[test]
fn a_full_cluster_restart_keeps_every_record_and_tokens_keep_increasing() {
    let c = Cluster::start();
    let mut tokens = Vec::new();
    for k in 0..20 {
        let r = c.reserve(k % 3, "ns", &format!("k{k}"), json!({"fingerprint": "f"}));
        assert_eq!(r.status, 201, "{r:?}");
        let token = r.body["token"].as_u64().expect("token");
        tokens.push(token);
        if k % 2 == 0 {
            let done = c.complete(
                k % 3,
                "ns",
                &format!("k{k}"),
                token,
                json!({"status": 200, "body": format!("r{k}")}),
            );
            assert_eq!(done.status, 200);
        }
    }
    let before: Vec<Value> = (0..20)
        .map(|k| {
            get(&c.key_url(0, "ns", &format!("k{k}"), ""))
                .expect("get")
                .body
        })
        .collect();
    c.restart_all();
    for (k, expected) in before.iter().enumerate() {
        let after = get(&c.key_url(k % 3, "ns", &format!("k{k}"), ""))
            .expect("get")
            .body;
        // Deadlines are judged at read time; the stored facts must match.
        for field in [
            "state",
            "token",
            "fingerprint",
            "response",
            "lease_expires_at_ms",
            "retain_until_ms",
        ] {
            assert_eq!(after[field], expected[field], "k{k} {field}");
        }
    }
    let r = c.reserve(1, "ns", "after-restart", json!({}));
    assert_eq!(r.status, 201, "{r:?}");
    let max_before = tokens.iter().max().copied().unwrap_or(0);
    assert!(r.body["token"].as_u64().expect("token") > max_before);
}

#[test]
fn bad_requests_get_a_4xx_problem_and_change_nothing() {
    let c = Cluster::start();
    let r = c.reserve(
        0,
        "bad",
        "k",
        json!({"fingerprint": "f", "lease_ms": 60000}),
    );
    assert_eq!(r.status, 201);
    let token = r.body["token"].as_u64().expect("token");
    let key = |i: usize, action: &str| c.key_url(i, "bad", "k", action);
    let big = "x".repeat(1024 * 1024 + 100_000); // over the stored-response limit, under the request limit
    let cases: Vec<(&str, String, Option<&str>, String, u16)> = vec![
        (
            "POST",
            key(0, "reserve"),
            Some("application/json"),
            "{not json".into(),
            400,
        ),
        (
            "POST",
            key(1, "reserve"),
            Some("application/json"),
            r#"{"fingerprint":"f","bogus":1}"#.into(),
            400,
        ),
        (
            "POST",
            key(2, "reserve"),
            Some("application/json"),
            r#"{"lease_ms":-5}"#.into(),
            400,
        ),
        (
            "POST",
            key(0, "reserve"),
            Some("application/json"),
            r#"{"lease_ms":99999999999}"#.into(),
            400,
        ),
        (
            "POST",
            key(1, "reserve"),
            Some("application/json"),
            r#"{"retain_ms":0}"#.into(),
            400,
        ),
        (
            "POST",
            key(2, "reserve"),
            Some("application/json"),
            r#"{"lease_ms":"soon"}"#.into(),
            400,
        ),
        (
            "POST",
            key(0, "reserve"),
            Some("application/json"),
            r#"{"fingerprint":""}"#.into(),
            400,
        ),
        (
            "POST",
            key(1, "reserve"),
            Some("application/json"),
            "[1,2]".into(),
            400,
        ),
        (
            "POST",
            key(2, "reserve"),
            Some("text/plain"),
            "hello".into(),
            415,
        ),
        (
            "POST",
            key(0, "heartbeat"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "POST",
            key(1, "heartbeat"),
            Some("application/json"),
            r#"{"token":-1}"#.into(),
            400,
        ),
        (
            "POST",
            key(2, "heartbeat"),
            Some("application/json"),
            r#"{"token":"x"}"#.into(),
            400,
        ),
        (
            "POST",
            key(0, "complete"),
            Some("application/json"),
            format!(r#"{{"token":{token}}}"#),
            400,
        ),
        (
            "POST",
            key(1, "complete"),
            Some("application/json"),
            format!(r#"{{"token":{token},"response":{{"status":99}}}}"#),
            400,
        ),
        (
            "POST",
            key(2, "complete"),
            Some("application/json"),
            format!(
                r#"{{"token":{token},"response":{{"status":200,"headers":{{"bad name":"v"}}}}}}"#
            ),
            400,
        ),
        (
            "POST",
            key(0, "complete"),
            Some("application/json"),
            format!(
                r#"{{"token":{token},"response":{{"status":200,"headers":{{"x":"a\r\nb"}}}}}}"#
            ),
            400,
        ),
        (
            "POST",
            key(1, "complete"),
            Some("application/json"),
            format!(r#"{{"token":{token},"response":{{"status":200,"body":"{big}"}}}}"#),
            413,
        ),
        (
            "POST",
            key(2, "release"),
            Some("application/json"),
            r#"{"token":1.5}"#.into(),
            400,
        ),
        (
            "POST",
            c.key_url(0, "bad", "a%0Ab", "reserve"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "POST",
            c.key_url(1, "bad", "a%00b", "reserve"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "POST",
            c.key_url(2, "bad", "%FF", "reserve"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "POST",
            c.key_url(0, "bad", &"k".repeat(256), "reserve"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "POST",
            c.key_url(1, "Not_A_Slug!", "k", "reserve"),
            Some("application/json"),
            "{}".into(),
            400,
        ),
        (
            "PUT",
            format!("{}/v1/ns/bad", c.url(2)),
            Some("application/json"),
            r#"{"default_lease_ms":1}"#.into(),
            400,
        ),
        (
            "POST",
            format!("{}/v1/ns/bad/derive", c.url(0)),
            Some("application/json"),
            r#"{"payload":"#.into(),
            400,
        ),
        (
            "POST",
            key(1, "explode"),
            Some("application/json"),
            "{}".into(),
            404,
        ),
        ("DELETE", key(2, ""), None, String::new(), 405),
    ];
    assert!(cases.len() >= 20);
    let before = record_facts(get(&key(0, "")).expect("get").body);
    for (method, url, ct, body, status) in &cases {
        let r = send(
            method,
            url,
            *ct,
            if body.is_empty() { None } else { Some(body) },
        )
        .expect("an answer");
        let shown: String = body.chars().take(80).collect();
        assert_eq!(r.status, *status, "{method} {url} {shown}: {r:?}");
        assert!(
            r.content_type.starts_with("application/problem+json"),
            "{method} {url}: {r:?}"
        );
        assert!(
            r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{method} {url}: {r:?}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            record_facts(get(&key(i, "")).expect("get").body),
            before,
            "record changed (node {i})"
        );
    }
    // The nodes still serve.
    let ok = post(&key(1, "heartbeat"), json!({"token": token})).expect("heartbeat");
    assert_eq!(ok.status, 200, "{ok:?}");
}
