//! End-to-end: `idem proxy` in front of a real upstream process (the Python
//! ledger of `examples/python-ledger`, which appends every charge to a file),
//! on a real three-node idem cluster. Concurrent duplicates run once and all
//! get its answer; a key reused with another body is refused; a 500 is not
//! stored and the retry runs; an upstream that times out after the request
//! was sent is never called again; one slower than the lease keeps its key
//! by heartbeats; idem down means the upstream is not called (fail closed),
//! or is called unprotected and counted (fail open); two callers' identical
//! keys never meet; `--store everything` replays a 500; and a reconcile
//! route recovers an unknown outcome without charging again.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{free_port, get, post_with_headers, Cluster, Reply};

/// The ledger upstream, its file, and its port.
struct Ledger {
    child: Child,
    port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ledger {
    fn start() -> Ledger {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("ledger.jsonl");
        let port = free_port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/python-ledger/ledger.py");
        let log = std::fs::File::create(dir.path().join("ledger.log")).expect("log");
        let child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--ledger"])
            .arg(&file)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("python3 runs the ledger");
        let ledger = Ledger {
            child,
            port,
            file,
            _dir: dir,
        };
        wait_for(&format!("{}/health", ledger.url()));
        ledger
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The charges in the ledger file for the key header value `key`.
    fn charges(&self, key: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|c| c["key"] == key)
            .collect()
    }

    /// How many requests with key header value `key` reached the ledger.
    fn calls(&self, key: &str) -> u64 {
        let stats = get(&format!("{}/stats", self.url())).expect("stats");
        stats.body["calls"][key].as_u64().unwrap_or(0)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `idem proxy` process.
struct Proxy {
    child: Child,
    port: u16,
    metrics_port: u16,
}

impl Proxy {
    /// A proxy whose node list starts at node `first`.
    fn start(c: &Cluster, ledger: &Ledger, first: usize, extra: &[&str]) -> Proxy {
        let port = free_port();
        let metrics_port = free_port();
        let nodes: Vec<String> = (0..3).map(|i| c.url((first + i) % 3)).collect();
        let child = Command::new(env!("CARGO_BIN_EXE_idem"))
            .args(["proxy", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--upstream", &ledger.url(), "--namespace", "shop"])
            .args(["--nodes", &nodes.join(",")])
            .env(
                "IDEM_PROXY_API_KEY",
                c.create_key("client", &["shop"], None),
            )
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("idem proxy starts");
        let p = Proxy {
            child,
            port,
            metrics_port,
        };
        wait_for(&format!("http://127.0.0.1:{metrics_port}/health"));
        p
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn metrics(&self) -> String {
        get(&format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .expect("metrics")
            .raw
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if get(url).is_ok_and(|r| r.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

/// POST `body` to `url` with the key and extra headers.
fn post(url: &str, key: Option<&str>, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(k) = key {
        all.push(("idempotency-key", k));
    }
    post_with_headers(url, &all, body)
}

fn problem_type(r: &Reply) -> &str {
    r.body["type"].as_str().unwrap_or("")
}

#[test]
fn sixty_four_concurrent_duplicates_run_once_and_all_get_its_answer() {
    let c = Cluster::start();
    let ledger = Arc::new(Ledger::start());
    let proxies: Vec<Arc<Proxy>> = (0..3)
        .map(|i| Arc::new(Proxy::start(&c, &ledger, i, &[])))
        .collect();
    let key = "\"order-64\"";
    let barrier = Arc::new(Barrier::new(64));
    let replies: Vec<Reply> = (0..64)
        .map(|i| {
            let proxy = proxies[i % 3].clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                post(
                    &proxy.url("/charges"),
                    Some(key),
                    &json!({"customer": "c1", "amount": 500}),
                    // A forged token is replaced by the guard's.
                    &[("idem-fencing-token", "1")],
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let charges = ledger.charges(key);
    assert_eq!(charges.len(), 1, "exactly one charge");
    assert_eq!(ledger.calls(key), 1, "exactly one upstream call");
    let token = charges[0]["token"]
        .as_u64()
        .expect("the ledger got a token");
    assert!(token > 1, "the guard's token, not the forged one: {token}");
    let first = &replies[0];
    for r in &replies {
        assert_eq!(r.status, 201, "{}", r.raw);
        assert_eq!(r.body, first.body, "every caller gets the same body");
    }
    let replayed = replies
        .iter()
        .filter(|r| r.replayed.as_deref() == Some("true"))
        .count();
    assert_eq!(replayed, 63, "all but the one that ran are marked replayed");
    let executed: u64 = proxies
        .iter()
        .map(|p| metric(&p.metrics(), "executed"))
        .sum();
    assert_eq!(executed, 1);
}

/// `idem_guard_requests_total{outcome="..."}` from a metrics page.
fn metric(text: &str, outcome: &str) -> u64 {
    let prefix = format!("idem_guard_requests_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_key_reused_for_another_request_is_refused_and_keys_are_required() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(&c, &ledger, 0, &[]);
    let url = proxy.url("/charges");
    let first = post(
        &url,
        Some("reuse-1"),
        &json!({"customer": "c", "amount": 100}),
        &[],
    );
    assert_eq!(first.status, 201, "{}", first.raw);
    let other = post(
        &url,
        Some("reuse-1"),
        &json!({"customer": "c", "amount": 999}),
        &[],
    );
    assert_eq!(other.status, 422, "{}", other.raw);
    assert_eq!(
        problem_type(&other),
        "urn:idem:problem:idempotency-key-reused"
    );
    assert_eq!(other.content_type, "application/problem+json");
    assert_eq!(ledger.calls("reuse-1"), 1, "no upstream call for the reuse");
    // No key: refused; the ledger never sees it.
    let none = post(&url, None, &json!({"customer": "c", "amount": 1}), &[]);
    assert_eq!(none.status, 400, "{}", none.raw);
    assert_eq!(
        problem_type(&none),
        "urn:idem:problem:idempotency-key-missing"
    );
    assert_eq!(ledger.calls(""), 0);
    // Unguarded methods pass through.
    let listed = get(&proxy.url("/charges")).expect("get");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["charges"].as_array().map(Vec::len), Some(1));
}

#[test]
fn an_upstream_500_is_not_stored_and_the_retry_runs_again() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(&c, &ledger, 1, &[]);
    let url = proxy.url("/charges");
    let body = json!({"customer": "c", "amount": 250});
    let failed = post(&url, Some("flaky-1"), &body, &[("x-ledger-fail", "500")]);
    assert_eq!(failed.status, 500, "{}", failed.raw);
    assert!(failed.replayed.is_none());
    let again = post(&url, Some("flaky-1"), &body, &[]);
    assert_eq!(again.status, 201, "the retry ran: {}", again.raw);
    assert!(again.replayed.is_none(), "it ran, it is not a replay");
    assert_eq!(ledger.calls("flaky-1"), 2);
    let third = post(&url, Some("flaky-1"), &body, &[]);
    assert_eq!(third.status, 201);
    assert_eq!(third.replayed.as_deref(), Some("true"));
    assert_eq!(third.body, again.body);
    assert_eq!(ledger.calls("flaky-1"), 2, "the replay does not call");
    assert_eq!(ledger.charges("flaky-1").len(), 1);
}

#[test]
fn an_upstream_that_times_out_after_the_request_was_sent_is_never_called_again() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(
        &c,
        &ledger,
        2,
        &[
            "--max-run-ms",
            "500",
            "--lease-ms",
            "1000",
            "--wait-ms",
            "300",
        ],
    );
    let url = proxy.url("/charges");
    let body = json!({"customer": "c", "amount": 700});
    let slow = post(
        &url,
        Some("slow-1"),
        &body,
        &[("x-ledger-sleep-ms", "1500")],
    );
    assert_eq!(slow.status, 504, "{}", slow.raw);
    assert_eq!(
        problem_type(&slow),
        "urn:idem:problem:upstream-outcome-unknown"
    );
    let token = slow.body["fencing_tokens"][0]
        .as_u64()
        .expect("the token it ran under");
    // Retries for three seconds: in progress while the lease lasts, then
    // a takeover that reports the committing token; never a second call.
    let until = Instant::now() + Duration::from_secs(3);
    let mut last = None;
    while Instant::now() < until {
        let r = post(&url, Some("slow-1"), &body, &[]);
        assert!(
            (r.status == 409 && problem_type(&r) == "urn:idem:problem:request-in-progress")
                || (r.status == 502
                    && problem_type(&r) == "urn:idem:problem:upstream-outcome-unknown"),
            "{} {}",
            r.status,
            r.raw
        );
        last = Some(r);
        std::thread::sleep(Duration::from_millis(150));
    }
    let last = last.expect("retried");
    assert_eq!(last.status, 502, "after the lease: unknown, {}", last.raw);
    assert!(
        last.body["fencing_tokens"]
            .as_array()
            .is_some_and(|t| t.iter().any(|v| v.as_u64() == Some(token))),
        "names the token that may have run: {}",
        last.raw
    );
    assert_eq!(ledger.calls("slow-1"), 1, "never sent again");
    assert_eq!(ledger.charges("slow-1").len(), 1);
}

#[test]
fn with_idem_down_the_upstream_is_not_called() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(&c, &ledger, 0, &[]);
    for i in 0..3 {
        c.kill(i);
    }
    let r = post(
        &proxy.url("/charges"),
        Some("down-1"),
        &json!({"customer": "c", "amount": 1}),
        &[],
    );
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(problem_type(&r), "urn:idem:problem:idem-unavailable");
    assert!(r.retry_after.is_some());
    assert_eq!(ledger.calls("down-1"), 0);
}

#[test]
fn an_upstream_slower_than_the_lease_keeps_its_key_by_heartbeats() {
    let c = Cluster::start();
    let ledger = Arc::new(Ledger::start());
    let proxy = Arc::new(Proxy::start(
        &c,
        &ledger,
        0,
        &[
            "--lease-ms",
            "1000",
            "--max-run-ms",
            "10000",
            "--wait-ms",
            "300",
        ],
    ));
    let body = json!({"customer": "c", "amount": 300});
    let slow = {
        let (proxy, body) = (proxy.clone(), body.clone());
        std::thread::spawn(move || {
            post(
                &proxy.url("/charges"),
                Some("slow-ok"),
                &body,
                &[("x-ledger-sleep-ms", "2500")],
            )
        })
    };
    // Duplicates during the run, well past the first lease: in progress,
    // never a takeover (the lease is kept alive) and never a second call.
    std::thread::sleep(Duration::from_millis(300));
    let until = Instant::now() + Duration::from_millis(1800);
    while Instant::now() < until {
        let r = post(&proxy.url("/charges"), Some("slow-ok"), &body, &[]);
        assert_eq!(r.status, 409, "{}", r.raw);
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = slow.join().expect("slow caller");
    assert_eq!(first.status, 201, "{}", first.raw);
    let replay = post(&proxy.url("/charges"), Some("slow-ok"), &body, &[]);
    assert_eq!(replay.status, 201);
    assert_eq!(replay.replayed.as_deref(), Some("true"));
    assert_eq!(replay.body, first.body);
    assert_eq!(ledger.calls("slow-ok"), 1);
}

#[test]
fn failing_open_sends_the_request_unprotected_and_counts_it() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(&c, &ledger, 0, &["--fail", "open"]);
    for i in 0..3 {
        c.kill(i);
    }
    let r = post(
        &proxy.url("/charges"),
        Some("open-1"),
        &json!({"customer": "c", "amount": 1}),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(ledger.calls("open-1"), 1);
    assert_eq!(metric(&proxy.metrics(), "failed_open"), 1);
}

#[test]
fn callers_identities_keep_their_keys_apart() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(&c, &ledger, 1, &["--identity-header", "x-tenant"]);
    let url = proxy.url("/charges");
    let body = json!({"customer": "c", "amount": 5});
    let a = post(&url, Some("same-key"), &body, &[("x-tenant", "acme")]);
    let b = post(&url, Some("same-key"), &body, &[("x-tenant", "globex")]);
    assert_eq!((a.status, b.status), (201, 201), "{} / {}", a.raw, b.raw);
    assert!(
        a.replayed.is_none() && b.replayed.is_none(),
        "each tenant's request ran"
    );
    assert_ne!(a.body["charge"], b.body["charge"]);
    let again = post(&url, Some("same-key"), &body, &[("x-tenant", "acme")]);
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(again.body, a.body);
    let anonymous = post(&url, Some("same-key"), &body, &[]);
    assert_eq!(anonymous.status, 400, "{}", anonymous.raw);
    assert_eq!(
        problem_type(&anonymous),
        "urn:idem:problem:caller-identity-missing"
    );
    assert_eq!(ledger.calls("same-key"), 2);
}

#[test]
fn storing_everything_replays_a_500_and_reconcile_recovers_an_unknown_outcome() {
    let c = Cluster::start();
    let ledger = Ledger::start();
    let proxy = Proxy::start(
        &c,
        &ledger,
        2,
        &[
            "--store",
            "everything",
            "--reconcile-path",
            "/reconcile",
            "--max-run-ms",
            "500",
            "--lease-ms",
            "1000",
            "--wait-ms",
            "3000",
        ],
    );
    let url = proxy.url("/charges");
    let body = json!({"customer": "c", "amount": 40});
    // Stripe's policy: the 500 is the answer, replayed, never run again.
    let failed = post(&url, Some("e-500"), &body, &[("x-ledger-fail", "500")]);
    assert_eq!(failed.status, 500);
    let replay = post(&url, Some("e-500"), &body, &[]);
    assert_eq!(
        (replay.status, replay.replayed.as_deref()),
        (500, Some("true"))
    );
    assert_eq!(ledger.calls("e-500"), 1);
    // A charge whose answer came too late: unknown, then the retry (after
    // the lease) is sent to the reconcile route, which finds the charge.
    let slow = post(
        &url,
        Some("e-slow"),
        &body,
        &[("x-ledger-sleep-ms", "1500")],
    );
    assert_eq!(slow.status, 504, "{}", slow.raw);
    let charge = ledger.charges("e-slow");
    assert_eq!(charge.len(), 1);
    let retry = post(&url, Some("e-slow"), &body, &[]);
    assert_eq!(
        retry.status, 200,
        "the reconcile route's answer: {}",
        retry.raw
    );
    assert_eq!(
        retry.body["charge"], charge[0]["charge"],
        "the charge that ran"
    );
    assert_eq!(ledger.charges("e-slow").len(), 1, "not charged again");
    let after = post(&url, Some("e-slow"), &body, &[]);
    assert_eq!(after.replayed.as_deref(), Some("true"));
    assert_eq!(after.body, retry.body);
}
