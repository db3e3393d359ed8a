//! End-to-end: the tower face. The axum payments example
//! (`examples/axum-payments`), served in this process behind
//! `IdempotencyLayer`, on a real three-node idem cluster: concurrent
//! duplicates charge once and all get its answer; a key reused with another
//! body is refused; a 500 is not stored and the retry charges; a handler
//! slower than the maximum run time is never run again.

mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use axum_payments::{app, Ledger};
use idem_client::{ApiKey, Client, ClientConfig};
use idem_tower::{Guard, GuardConfig};
use serde_json::{json, Value};
use support::{post_with_headers, Cluster, Reply};

/// The example service on a free port, on its own runtime thread.
struct Service {
    url: String,
    ledger: Arc<Ledger>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Service {
    fn start(c: &Cluster, first: usize, tune: impl FnOnce(&mut GuardConfig)) -> Service {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledger = Arc::new(Ledger::new(dir.path().join("payments.jsonl")));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let nodes: Vec<String> = (0..3).map(|i| c.url((first + i) % 3)).collect();
        let key = c.create_key("client", &["payments"], None);
        let mut config = GuardConfig::new("payments");
        tune(&mut config);
        let router = {
            let _enter = runtime.enter();
            let client_config = ClientConfig {
                api_key: Some(ApiKey::new(&key)),
                ..ClientConfig::default()
            };
            let client = Client::with_config(nodes, client_config).expect("client");
            app(Guard::new(client, config).expect("guard"), ledger.clone())
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Service {
            url,
            ledger,
            _dir: dir,
            _runtime: runtime,
        }
    }

    fn pay(&self, key: &str, body: &Value, extra: &[(&str, &str)]) -> Reply {
        let mut headers = vec![("idempotency-key", key)];
        headers.extend_from_slice(extra);
        post_with_headers(&format!("{}/payments", self.url), &headers, body)
    }

    fn charges(&self, key: &str) -> usize {
        self.ledger.all().iter().filter(|c| c["key"] == key).count()
    }
}

#[test]
fn concurrent_duplicates_through_the_layer_charge_once() {
    let c = Cluster::start();
    let services: Vec<Arc<Service>> = (0..3)
        .map(|i| Arc::new(Service::start(&c, i, |_| {})))
        .collect();
    let barrier = Arc::new(Barrier::new(64));
    let replies: Vec<Reply> = (0..64)
        .map(|i| {
            let s = services[i % 3].clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                s.pay("\"pay-64\"", &json!({"customer": "c1", "amount": 900}), &[])
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let charged: usize = services.iter().map(|s| s.charges("\"pay-64\"")).sum();
    assert_eq!(charged, 1, "one charge across the three service instances");
    for r in &replies {
        assert_eq!(r.status, 201, "{}", r.raw);
        assert_eq!(r.body, replies[0].body);
    }
    let replayed = replies
        .iter()
        .filter(|r| r.replayed.as_deref() == Some("true"))
        .count();
    assert_eq!(replayed, 63);
}

#[test]
fn reuse_500_and_timeouts_through_the_layer() {
    let c = Cluster::start();
    let s = Service::start(&c, 1, |g| {
        g.max_run_time = Duration::from_millis(500);
        g.lease = Duration::from_millis(1000);
        g.wait = Duration::from_millis(300);
    });
    let body = json!({"customer": "c", "amount": 10});
    // Reused with another body: 422, nothing charged twice.
    assert_eq!(s.pay("k-1", &body, &[]).status, 201);
    let other = s.pay("k-1", &json!({"customer": "c", "amount": 11}), &[]);
    assert_eq!(other.status, 422, "{}", other.raw);
    assert_eq!(s.charges("k-1"), 1);
    // A 500 is not stored: the retry charges, the next one replays.
    let failed = s.pay("k-2", &body, &[("x-payments-fail", "500")]);
    assert_eq!(failed.status, 500);
    let ran = s.pay("k-2", &body, &[]);
    assert_eq!(
        (ran.status, ran.replayed.is_none()),
        (201, true),
        "{}",
        ran.raw
    );
    let replay = s.pay("k-2", &body, &[]);
    assert_eq!(replay.replayed.as_deref(), Some("true"));
    assert_eq!(s.charges("k-2"), 1);
    // Slower than the maximum run time: unknown, and never run again.
    let slow = s.pay("k-3", &body, &[("x-payments-sleep-ms", "1500")]);
    assert_eq!(slow.status, 504, "{}", slow.raw);
    let until = Instant::now() + Duration::from_secs(3);
    let mut last = slow;
    while Instant::now() < until {
        last = s.pay("k-3", &body, &[]);
        assert!(
            matches!(last.status, 409 | 502),
            "{} {}",
            last.status,
            last.raw
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(last.status, 502, "{}", last.raw);
    assert_eq!(s.charges("k-3"), 1, "charged once, never again");
}
