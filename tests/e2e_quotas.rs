//! End-to-end: quotas per namespace on a real cluster. A namespace at its
//! `max_records` gets 429 `quota-exceeded` (with Retry-After) for a new
//! key, on every node, and nothing is created; a complete past its
//! `max_stored_bytes` stores nothing and leaves the key in progress;
//! room comes back with a release; a namespace over its request rate gets
//! 429 `rate-limited`; another namespace is served as before throughout.
//! Only an admin sets a quota, and a bad one changes nothing.

mod support;

use serde_json::{json, Value};
use support::{send_as, Cluster, Reply};

fn put_quota(c: &Cluster, ns: &str, key: Option<&str>, body: Value) -> Reply {
    let url = format!("{}/v1/ns/{ns}/quota", c.url(0));
    let key = key
        .map(str::to_owned)
        .unwrap_or_else(|| c.admin_key.clone());
    send_as(
        "PUT",
        &url,
        Some(&key),
        Some("application/json"),
        Some(&body.to_string()),
    )
    .expect("answered")
}

fn call(
    c: &Cluster,
    i: usize,
    key: &str,
    ns: &str,
    name: &str,
    action: &str,
    body: Value,
) -> Reply {
    send_as(
        "POST",
        &c.key_url(i, ns, name, action),
        Some(key),
        Some("application/json"),
        Some(&body.to_string()),
    )
    .expect("answered")
}

fn state_everywhere(c: &Cluster, key: &str, ns: &str, name: &str) -> Vec<Value> {
    (0..3)
        .map(|i| {
            let r = send_as("GET", &c.key_url(i, ns, name, ""), Some(key), None, None)
                .expect("answered");
            if r.status == 404 {
                json!("absent")
            } else {
                r.body["state"].clone()
            }
        })
        .collect()
}

#[test]
fn a_namespace_over_its_quota_gets_429_and_changes_nothing() {
    let c = Cluster::start();
    let client = c.create_key("client", &["capped", "free"], None);
    let r = put_quota(
        &c,
        "capped",
        None,
        json!({"max_records": 3, "max_stored_bytes": 20}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["max_records"], 3);
    assert_eq!(r.body["max_requests_per_s"], Value::Null);

    let mut tokens = Vec::new();
    for (i, name) in ["k1", "k2", "k3"].iter().enumerate() {
        let r = call(&c, i, &client, "capped", name, "reserve", json!({}));
        assert_eq!(r.status, 201, "{r:?}");
        tokens.push(r.body["token"].as_u64().expect("token"));
    }
    for i in 0..3 {
        let r = call(&c, i, &client, "capped", "k4", "reserve", json!({}));
        assert_eq!(r.status, 429, "node {}: {r:?}", i + 1);
        assert_eq!(r.body["type"], "urn:idem:problem:quota-exceeded", "{r:?}");
        assert_eq!(r.body["limit"], "max_records");
        assert_eq!(r.retry_after.as_deref(), Some("1"));
    }
    assert_eq!(
        state_everywhere(&c, &client, "capped", "k4"),
        vec![json!("absent"); 3]
    );
    // Minting makes a record too.
    let mint = send_as(
        "POST",
        &format!("{}/v1/ns/capped/keys", c.url(1)),
        Some(&client),
        Some("application/json"),
        Some("{}"),
    )
    .expect("answered");
    assert_eq!(mint.status, 429, "{mint:?}");
    // Another namespace is not held to it.
    let r = call(&c, 0, &client, "free", "k4", "reserve", json!({}));
    assert_eq!(r.status, 201, "{r:?}");

    // Stored bytes: 15 fit, 10 more do not; the key stays in progress.
    let done = |body: &str| json!({"token": 0, "response": {"status": 200, "body": body}});
    let mut first = done("fifteen-bytes!!");
    first["token"] = json!(tokens[0]);
    let r = call(&c, 1, &client, "capped", "k1", "complete", first);
    assert_eq!(r.status, 200, "{r:?}");
    let mut second = done("ten-bytes!");
    second["token"] = json!(tokens[1]);
    let r = call(&c, 2, &client, "capped", "k2", "complete", second.clone());
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.body["limit"], "max_stored_bytes", "{r:?}");
    assert_eq!(r.body["used"], 15, "{r:?}");
    assert_eq!(
        state_everywhere(&c, &client, "capped", "k2"),
        vec![json!("in_progress"); 3]
    );

    // What the namespace holds, as the quota route shows it.
    let q = send_as(
        "GET",
        &format!("{}/v1/ns/capped/quota", c.url(2)),
        Some(&client),
        None,
        None,
    )
    .expect("answered");
    assert_eq!(q.status, 200, "{q:?}");
    assert_eq!(
        q.body["usage"],
        json!({"records": 3, "stored_bytes": 15}),
        "{q:?}"
    );

    // A release leaves no record: room for one more key.
    let r = call(
        &c,
        0,
        &client,
        "capped",
        "k3",
        "release",
        json!({"token": tokens[2]}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = call(&c, 1, &client, "capped", "k4", "reserve", json!({}));
    assert_eq!(r.status, 201, "{r:?}");

    // Only an admin sets a quota; a bad one is refused and changes nothing.
    let r = put_quota(&c, "capped", Some(&client), json!({}));
    assert_eq!(r.status, 403, "{r:?}");
    for bad in [
        json!({"max_records": 0}),
        json!({"max_records": -1}),
        json!({"max_stored_bytes": "10"}),
        json!({"max_requests_per_s": 2_000_000}),
        json!({"max_records": 3, "burst": 1}),
    ] {
        let r = put_quota(&c, "capped", None, bad.clone());
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }
    let r = call(&c, 2, &client, "capped", "k5", "reserve", json!({}));
    assert_eq!(r.status, 429, "the quota still holds: {r:?}");
    // Lifting it lifts the refusals.
    let r = put_quota(&c, "capped", None, json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    let r = call(&c, 2, &client, "capped", "k5", "reserve", json!({}));
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn a_namespace_over_its_rate_gets_429_and_others_do_not() {
    let c = Cluster::start();
    let client = c.create_key("client", &["slow", "free"], None);
    let r = put_quota(&c, "slow", None, json!({"max_requests_per_s": 5}));
    assert_eq!(r.status, 200, "{r:?}");
    // Each node reads the rate within a second of applying it.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let (mut served, mut limited) = (0, Vec::new());
    for n in 0..20 {
        let r = call(
            &c,
            0,
            &client,
            "slow",
            &format!("s{n}"),
            "reserve",
            json!({}),
        );
        match r.status {
            201 => served += 1,
            429 => {
                assert_eq!(r.body["type"], "urn:idem:problem:rate-limited", "{r:?}");
                assert!(r.retry_after.is_some(), "{r:?}");
                limited.push(format!("s{n}"));
            }
            _ => panic!("{r:?}"),
        }
        let r = call(
            &c,
            0,
            &client,
            "free",
            &format!("f{n}"),
            "reserve",
            json!({}),
        );
        assert_eq!(r.status, 201, "the other namespace is served: {r:?}");
    }
    assert!(!limited.is_empty(), "served {served}, limited {limited:?}");
    assert!(served >= 5, "served {served}, limited {limited:?}");
    // The limited reserves created nothing (read once the buckets refill;
    // the reads count against the rate too).
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    for name in limited.iter().take(3) {
        assert_eq!(
            state_everywhere(&c, &client, "slow", name),
            vec![json!("absent"); 3],
            "{name}"
        );
    }
}
