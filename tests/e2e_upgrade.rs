//! End-to-end: the current build starts on a data directory written by an
//! earlier release (`tests/fixtures/`), reads every record as it was
//! written, and carries on: new writes, a restart, the same records. Two
//! releases: eba42ad (on-disk format 2) and 1d83a15 (format 3, the last on
//! openraft 0.9: its log, vote and snapshot as 0.9 wrote them).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{get, post};

const FIXTURE: &str = "tests/fixtures/data-eba42ad-single-node.tar.gz";
const FIXTURE_OPENRAFT_09: &str = "tests/fixtures/data-1d83a15-single-node.tar.gz";
/// Both fixtures' memberships hold the same addresses: one test at a time.
static ADDRESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());
const HTTP: &str = "127.0.0.1:19902";
const RAFT: &str = "127.0.0.1:19901";

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path) -> Node {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("idem.log"))
        .expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_idem"))
        .args([
            "start", "--id", "1", "--http", HTTP, "--raft", RAFT, "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "info,openraft=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start idem");
    let node = Node(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !get(&format!("http://{HTTP}/ready")).is_ok_and(|r| r.status == 200) {
        assert!(
            Instant::now() < deadline,
            "the node did not become ready on the old data:\n{}",
            std::fs::read_to_string(data.join("idem.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The old release had no API keys: the node that bootstrapped the
    // cluster draws its secret and admin key once it finds none.
    let admin = support::wait_for_admin_key(&format!("http://{HTTP}"), data).unwrap_or_else(|| {
        panic!(
            "no admin key on the old data:\n{}",
            std::fs::read_to_string(data.join("idem.log")).unwrap_or_default()
        )
    });
    support::register_key(HTTP, &admin);
    node
}

fn key(ns: &str, k: &str, action: &str) -> String {
    if action.is_empty() {
        format!("http://{HTTP}/v1/ns/{ns}/keys/{k}")
    } else {
        format!("http://{HTTP}/v1/ns/{ns}/keys/{k}/{action}")
    }
}

/// Both fixtures completed orders 1-30 alike: each reads back, and its
/// reserve replays the stored response.
fn the_completed_orders_replay() {
    for i in [1, 7, 30] {
        let r = get(&key("payments", &format!("order-{i}"), "")).expect("get");
        assert_eq!(r.status, 200, "order-{i}: {r:?}");
        assert_eq!(r.body["state"], "completed", "{r:?}");
        assert_eq!(r.body["fingerprint"], format!("fp-{i}"));
        assert_eq!(
            r.body["response"]["body"],
            format!("{{\"charge\":\"ch_{i}\"}}")
        );
        let replay = post(
            &key("payments", &format!("order-{i}"), "reserve"),
            json!({"fingerprint": format!("fp-{i}")}),
        )
        .expect("reserve");
        assert_eq!(replay.status, 200, "order-{i} replay: {replay:?}");
        assert_eq!(replay.replayed.as_deref(), Some("true"));
    }
}

/// Every kind of record the old release wrote reads as it was written.
fn the_old_records_are_there() {
    the_completed_orders_replay();
    let r = get(&key("payments", "order-7", "")).expect("get");
    assert_eq!(r.body["token"], 4096);
    let held = post(
        &key("payments", "held", "reserve"),
        json!({"fingerprint": "fp-held"}),
    )
    .expect("reserve");
    assert_eq!(
        held.status, 409,
        "the hour-long lease still holds: {held:?}"
    );
    let policy = get(&format!("http://{HTTP}/v1/ns/minted")).expect("policy");
    assert_eq!(policy.body["require_minted_keys"], true, "{policy:?}");
    assert_eq!(policy.body["default_lease_ms"], 10_000);
    let unminted = post(&key("minted", "not-minted", "reserve"), json!({})).expect("reserve");
    assert_eq!(unminted.status, 422, "{unminted:?}");
}

/// Unpacks `fixture` into `dir`.
fn unpack(fixture: &str, dir: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(fixture);
    let untar = Command::new("tar")
        .arg("xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(dir)
        .status()
        .expect("tar");
    assert!(untar.success(), "could not unpack {}", fixture.display());
}

#[test]
fn the_previous_releases_data_is_read_and_carried_forward() {
    let _one_at_a_time = ADDRESSES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    unpack(FIXTURE, dir.path());
    let data = dir.path().join("node1");

    let node = start(&data);
    the_old_records_are_there();
    let fresh = post(
        &key("payments", "after-upgrade", "reserve"),
        json!({"fingerprint": "new", "lease_ms": 60_000}),
    )
    .expect("reserve");
    assert_eq!(fresh.status, 201, "{fresh:?}");
    assert_eq!(fresh.body["lease_remaining_ms"], 60_000);
    let token = fresh.body["token"].as_u64().expect("token");
    assert!(token > 16_384, "tokens go on from the old ones: {token}");
    // A reservation written in the old format has no committing history,
    // and its owner can mark it committing (rewriting it in the new one).
    let held = get(&key("payments", "held", "")).expect("get");
    assert_eq!(held.body["committing"], false, "{held:?}");
    assert_eq!(held.body["committing_tokens"], json!([]), "{held:?}");
    let marked = post(
        &key("payments", "held", "heartbeat"),
        json!({"token": 16_384, "committing": true}),
    )
    .expect("heartbeat");
    assert_eq!(marked.status, 200, "{marked:?}");
    assert_eq!(marked.body["committing"], true, "{marked:?}");
    drop(node);

    // Carried forward: the new release's writes and the old records both
    // survive its own restart.
    let _node = start(&data);
    the_old_records_are_there();
    let r = get(&key("payments", "after-upgrade", "")).expect("get");
    assert_eq!(r.body["state"], "in_progress", "{r:?}");
    assert_eq!(r.body["token"], token);
    let held = get(&key("payments", "held", "")).expect("get");
    assert_eq!(held.body["committing_tokens"], json!([16_384]), "{held:?}");
}

/// What the openraft-0.9 release (1d83a15) wrote, as it wrote it: its
/// completed records, a reservation under an attempt marked committing, a
/// quota, a minted namespace and the API keys it issued.
fn the_openraft_09_records_are_there(client_key: &str) {
    the_completed_orders_replay();
    let r = get(&key("payments", "order-7", "")).expect("get");
    assert_eq!(r.body["token"], 5120);
    let held = get(&key("payments", "held", "")).expect("get");
    assert_eq!(held.body["state"], "in_progress", "{held:?}");
    assert_eq!(held.body["token"], 17_408);
    assert_eq!(held.body["committing"], true, "{held:?}");
    assert_eq!(held.body["committing_tokens"], json!([17_408]), "{held:?}");
    // Its owner's retry, under the same attempt, resumes it.
    let resumed = post(
        &key("payments", "held", "reserve"),
        json!({"fingerprint": "fp-held", "attempt": "aW5pdGlhbC1hdHRlbXB0LWZvci1maXh0dXJl"}),
    )
    .expect("reserve");
    assert_eq!(resumed.status, 201, "{resumed:?}");
    assert_eq!(resumed.body["resumed"], true, "{resumed:?}");
    assert_eq!(resumed.body["token"], 17_408);
    // Anyone else's is refused while the hour-long lease holds.
    let other = post(
        &key("payments", "held", "reserve"),
        json!({"fingerprint": "fp-held"}),
    )
    .expect("reserve");
    assert_eq!(other.status, 409, "{other:?}");
    let quota = get(&format!("http://{HTTP}/v1/ns/payments/quota")).expect("quota");
    assert_eq!(quota.status, 200, "{quota:?}");
    assert_eq!(quota.body["max_records"], 1000, "{quota:?}");
    assert_eq!(quota.body["max_stored_bytes"], 1_048_576, "{quota:?}");
    let policy = get(&format!("http://{HTTP}/v1/ns/minted")).expect("policy");
    assert_eq!(policy.body["require_minted_keys"], true, "{policy:?}");
    // The client key it issued still works, for its namespace only.
    let as_client = support::send_as(
        "GET",
        &key("payments", "order-1", ""),
        Some(client_key),
        None,
        None,
    )
    .expect("get");
    assert_eq!(as_client.status, 200, "{as_client:?}");
    let elsewhere = support::send_as(
        "GET",
        &format!("http://{HTTP}/v1/ns/minted"),
        Some(client_key),
        None,
        None,
    )
    .expect("get");
    assert_eq!(elsewhere.status, 403, "{elsewhere:?}");
}

#[test]
fn the_openraft_09_releases_data_is_read_and_carried_forward() {
    let _one_at_a_time = ADDRESSES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    unpack(FIXTURE_OPENRAFT_09, dir.path());
    let data = dir.path().join("node1");
    let client_key = std::fs::read_to_string(dir.path().join("client.key"))
        .expect("client key")
        .trim()
        .to_string();

    let node = start(&data);
    the_openraft_09_records_are_there(&client_key);
    let fresh = post(
        &key("payments", "after-upgrade", "reserve"),
        json!({"fingerprint": "new", "lease_ms": 60_000}),
    )
    .expect("reserve");
    assert_eq!(fresh.status, 201, "{fresh:?}");
    let token = fresh.body["token"].as_u64().expect("token");
    assert!(token > 17_408, "tokens go on from the old ones: {token}");
    drop(node);

    let _node = start(&data);
    the_openraft_09_records_are_there(&client_key);
    let r = get(&key("payments", "after-upgrade", "")).expect("get");
    assert_eq!(r.body["state"], "in_progress", "{r:?}");
    assert_eq!(r.body["token"], token);
}
