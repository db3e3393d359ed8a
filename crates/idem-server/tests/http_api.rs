//! The HTTP API end to end over the in-memory backend: every route's happy
//! path, a table of bad requests (each refused with a clear problem and
//! changing nothing), and the mapping of cluster failures to 503/500.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use idem_core::{
    ApiKeyId, ApiKeyRecord, Command, DeriveOutcome, IdemKey, KeyId, Namespace, NamespacePolicy,
    Outcome, Refusal, ReleaseOutcome,
};
use idem_server::backend::{
    AuthView, Backend, ClusterError, ClusterStatus, Freshness, MembershipChange, RecordRead,
};
use idem_server::http::{router, ApiLimits, AuthMode};
use idem_server::memory_backend::MemoryBackend;
use serde_json::{json, Value};
use tower::ServiceExt;

// ---- a small client ----

/// One answer: status, headers, and the body as JSON (`Null` if not JSON).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    fn token(&self) -> u64 {
        self.json["token"]
            .as_u64()
            .unwrap_or_else(|| panic!("no token in {}", self.text))
    }

    /// Asserts a problem+json answer with `status` and a real detail.
    fn assert_problem(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert!(
            self.json["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:idem:problem:")),
            "{}",
            self.text
        );
        assert!(
            self.json["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.json["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{}",
            self.text
        );
    }
}

struct Api {
    app: Router,
}

impl Api {
    fn new(backend: impl Backend) -> Self {
        Api {
            app: router(backend, ApiLimits::default(), AuthMode::Off),
        }
    }

    fn with_limits(backend: impl Backend, limits: ApiLimits) -> Self {
        Api {
            app: router(backend, limits, AuthMode::Off),
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn post(&self, uri: &str, body: Value) -> Answer {
        self.raw(
            Method::POST,
            uri,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    async fn put(&self, uri: &str, body: Value) -> Answer {
        self.raw(Method::PUT, uri, Some("application/json"), body.to_string())
            .await
    }

    async fn post_empty(&self, uri: &str) -> Answer {
        self.raw(Method::POST, uri, None, Body::empty()).await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.raw(Method::GET, uri, None, Body::empty()).await
    }
}

fn ok_response() -> Value {
    json!({"status": 201, "headers": {"content-type": "application/json"}, "body": "{\"order\":42}"})
}

// ---- happy paths ----

#[tokio::test]
async fn reserve_complete_then_replay() {
    let api = Api::new(MemoryBackend::new());
    let reserved = api
        .post(
            "/v1/ns/payments/keys/order-1/reserve",
            json!({"fingerprint": "sha256:abc"}),
        )
        .await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{}", reserved.text);
    assert_eq!(reserved.content_type(), "application/json");
    assert_eq!(reserved.json["outcome"], "reserved");
    assert_eq!(reserved.json["takeover"], false);
    assert!(reserved.json["lease_expires_at_ms"].as_u64().unwrap() > 0);
    let token = reserved.token();
    assert!(token > 0);

    let completed = api
        .post(
            "/v1/ns/payments/keys/order-1/complete",
            json!({"token": token, "response": ok_response()}),
        )
        .await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.text);
    assert_eq!(completed.json["outcome"], "completed");
    assert_eq!(completed.json["token"], token);
    assert_eq!(completed.json["replayed"], false);
    let retain_until = completed.json["retain_until_ms"].as_u64().unwrap();

    // The same completion again is idempotent.
    let again = api
        .post(
            "/v1/ns/payments/keys/order-1/complete",
            json!({"token": token, "response": ok_response()}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["replayed"], true);
    assert_eq!(again.json["retain_until_ms"], retain_until);

    // A different response by the same owner is a conflict; the first stands.
    let different = json!({"token": token, "response": {"status": 500, "body": "oops"}});
    let conflict = api
        .post("/v1/ns/payments/keys/order-1/complete", different)
        .await;
    conflict.assert_problem(409);
    assert_eq!(
        conflict.json["type"],
        "urn:idem:problem:conflicting-completion"
    );

    // A retry of the original request replays the stored response.
    let replay = api
        .post(
            "/v1/ns/payments/keys/order-1/reserve",
            json!({"fingerprint": "sha256:abc"}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json["outcome"], "completed");
    assert_eq!(replay.json["token"], token);
    assert_eq!(replay.json["response"], ok_response());

    // The same key for a different request is refused.
    let mismatch = api
        .post(
            "/v1/ns/payments/keys/order-1/reserve",
            json!({"fingerprint": "sha256:other"}),
        )
        .await;
    mismatch.assert_problem(422);
    assert_eq!(
        mismatch.json["type"],
        "urn:idem:problem:fingerprint-mismatch"
    );

    let record = api.get("/v1/ns/payments/keys/order-1").await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.text);
    assert_eq!(record.json["state"], "completed");
    assert_eq!(record.json["namespace"], "payments");
    assert_eq!(record.json["key"], "order-1");
    assert_eq!(record.json["token"], token);
    assert_eq!(record.json["fingerprint"], "sha256:abc");
    assert_eq!(record.json["retain_until_ms"], retain_until);
    assert_eq!(record.json["response"], ok_response());
}

#[tokio::test]
async fn a_live_reservation_answers_in_progress_with_retry_after() {
    let api = Api::new(MemoryBackend::new());
    let first = api
        .post("/v1/ns/orders/keys/k1/reserve", json!({"lease_ms": 5000}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = api.post_empty("/v1/ns/orders/keys/k1/reserve").await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
    assert_eq!(second.content_type(), "application/json");
    assert_eq!(second.json["outcome"], "in_progress");
    let retry_after_ms = second.json["retry_after_ms"].as_u64().unwrap();
    assert!(
        retry_after_ms > 0 && retry_after_ms <= 5000,
        "{retry_after_ms}"
    );
    let retry_after: u64 = second.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry_after, retry_after_ms.div_ceil(1000).max(1));
    assert!((1..=5).contains(&retry_after));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_token_is_fenced() {
    let api = Api::new(MemoryBackend::new());
    let first = api
        .post("/v1/ns/orders/keys/k1/reserve", json!({"lease_ms": 100}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let old_token = first.token();
    tokio::time::sleep(Duration::from_millis(250)).await;

    let takeover = api
        .post("/v1/ns/orders/keys/k1/reserve", json!({"lease_ms": 100}))
        .await;
    assert_eq!(takeover.status, StatusCode::CREATED, "{}", takeover.text);
    assert_eq!(takeover.json["takeover"], true);
    let new_token = takeover.token();
    assert!(new_token > old_token);

    let heartbeat = api
        .post(
            "/v1/ns/orders/keys/k1/heartbeat",
            json!({"token": old_token}),
        )
        .await;
    heartbeat.assert_problem(409);
    assert_eq!(heartbeat.json["type"], "urn:idem:problem:key-lost");
    assert_eq!(heartbeat.json["reason"], "superseded");
    assert_eq!(heartbeat.json["current_token"], new_token);
    assert!(heartbeat.json["detail"]
        .as_str()
        .unwrap()
        .contains("superseded"));

    let complete = api
        .post(
            "/v1/ns/orders/keys/k1/complete",
            json!({"token": old_token, "response": ok_response()}),
        )
        .await;
    complete.assert_problem(409);
    assert_eq!(complete.json["reason"], "superseded");
    let release = api
        .post("/v1/ns/orders/keys/k1/release", json!({"token": old_token}))
        .await;
    release.assert_problem(409);

    let record = api.get("/v1/ns/orders/keys/k1").await;
    assert_eq!(record.json["state"], "in_progress");
    assert_eq!(record.json["token"], new_token);
}

#[tokio::test]
async fn heartbeat_extends_the_lease() {
    let api = Api::new(MemoryBackend::new());
    let reserved = api
        .post("/v1/ns/orders/keys/k1/reserve", json!({"lease_ms": 1000}))
        .await;
    let token = reserved.token();
    let first_deadline = reserved.json["lease_expires_at_ms"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let extended = api
        .post(
            "/v1/ns/orders/keys/k1/heartbeat",
            json!({"token": token, "lease_ms": 60000}),
        )
        .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.text);
    assert_eq!(extended.json["outcome"], "extended");
    assert_eq!(extended.json["token"], token);
    assert!(extended.json["lease_expires_at_ms"].as_u64().unwrap() >= first_deadline + 59_000);
    let record = api.get("/v1/ns/orders/keys/k1").await;
    assert_eq!(record.json["lease_ms"], 60000);
    assert_eq!(record.json["lease_expired"], false);
    assert_eq!(
        record.json["lease_expires_at_ms"],
        extended.json["lease_expires_at_ms"]
    );

    // Without lease_ms the lease keeps its length.
    let again = api
        .post("/v1/ns/orders/keys/k1/heartbeat", json!({"token": token}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
}

#[tokio::test]
async fn release_frees_the_key() {
    let api = Api::new(MemoryBackend::new());
    let token = api
        .post_empty("/v1/ns/orders/keys/k1/reserve")
        .await
        .token();
    let released = api
        .post("/v1/ns/orders/keys/k1/release", json!({"token": token}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(
        released.json,
        json!({"outcome": "released", "token": token})
    );

    api.get("/v1/ns/orders/keys/k1").await.assert_problem(404);
    let again = api
        .post("/v1/ns/orders/keys/k1/release", json!({"token": token}))
        .await;
    again.assert_problem(409);
    assert_eq!(again.json["reason"], "absent");

    let reserved = api.post_empty("/v1/ns/orders/keys/k1/reserve").await;
    assert_eq!(reserved.status, StatusCode::CREATED);
    assert!(reserved.token() > token);
    assert_eq!(reserved.json["takeover"], false);
}

const ATTEMPT: &str = "6f1c2a9e-4b7d-4c3a-9e8f-1a2b3c4d5e6f";

#[tokio::test]
async fn a_retry_by_the_same_attempt_resumes_its_grant() {
    let api = Api::new(MemoryBackend::new());
    let uri = "/v1/ns/orders/keys/k1/reserve";
    let body = json!({"fingerprint": "fp", "attempt": ATTEMPT, "lease_ms": 5000});
    let first = api.post(uri, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json["resumed"], false);
    // The reply was lost; the retry gets the same grant back.
    let again = api.post(uri, body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.token(), first.token());
    assert_eq!(again.json["resumed"], true);
    assert_eq!(again.json["takeover"], false);
    assert_eq!(again.json["previous_committing"], false);
    assert_eq!(again.json["previous_committing_tokens"], json!([]));
    // Another attempt is told to wait.
    let other = api
        .post(
            uri,
            json!({"fingerprint": "fp", "attempt": "Zm9vYmFyYmF6cXV4cXV1eA"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text);
    // The attempt id is a secret: the record never shows it.
    let record = api.get("/v1/ns/orders/keys/k1").await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(!record.text.contains(ATTEMPT), "{}", record.text);
    assert!(record.json.get("attempt").is_none(), "{}", record.text);
}

#[tokio::test]
async fn a_waiting_reserve_gets_the_replay_once_the_owner_completes() {
    let api = std::sync::Arc::new(Api::new(MemoryBackend::new()));
    let key = "/v1/ns/orders/keys/k1";
    let token = api
        .post(&format!("{key}/reserve"), json!({"lease_ms": 30_000}))
        .await
        .token();
    let waiter = {
        let api = api.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let answer = api
                .post(&format!("{key}/reserve"), json!({"wait_ms": 20_000}))
                .await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "the waiter is held");
    let done = api
        .post(
            &format!("{key}/complete"),
            json!({"token": token, "response": ok_response()}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let (answer, waited) = waiter.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("idempotent-replayed"), Some("true"));
    assert_eq!(answer.json["token"], token);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test]
async fn a_waiting_reserve_is_granted_when_the_lease_runs_out_or_answers_409_in_time() {
    let api = Api::new(MemoryBackend::new());
    let key = "/v1/ns/orders/keys/k1";
    let first = api
        .post(&format!("{key}/reserve"), json!({"lease_ms": 300}))
        .await
        .token();
    // The lease runs out while the waiter waits: it gets the key.
    let grant = api
        .post(&format!("{key}/reserve"), json!({"wait_ms": 5_000}))
        .await;
    assert_eq!(grant.status, StatusCode::CREATED, "{}", grant.text);
    assert_eq!(grant.json["takeover"], true);
    assert!(grant.token() > first);
    // A wait shorter than the lease ends with today's 409.
    let started = std::time::Instant::now();
    let busy = api
        .post(&format!("{key}/reserve"), json!({"wait_ms": 200}))
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.text);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(busy.json["outcome"], "in_progress");
}

#[tokio::test]
async fn a_committing_reservation_is_reported_to_the_next_owner() {
    let api = Api::new(MemoryBackend::new());
    let key = "/v1/ns/orders/keys/k1";
    let token = api
        .post(&format!("{key}/reserve"), json!({"lease_ms": 100}))
        .await
        .token();
    let marked = api
        .post(
            &format!("{key}/heartbeat"),
            json!({"token": token, "committing": true}),
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.text);
    assert_eq!(marked.json["committing"], true);
    let record = api.get(key).await;
    assert_eq!(record.json["committing"], true, "{}", record.text);
    assert_eq!(record.json["committing_tokens"], json!([token]));
    // Releasing it needs the owner to say it did not commit.
    let refused = api
        .post(&format!("{key}/release"), json!({"token": token}))
        .await;
    refused.assert_problem(409);
    assert_eq!(
        refused.json["type"], "urn:idem:problem:release-of-committing",
        "{}",
        refused.text
    );
    assert_eq!(refused.json["token"], token);
    // Its lease lapses (the memory backend's clock is real time) and the
    // next owner hears who may have acted.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let next = api.post(&format!("{key}/reserve"), json!({})).await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.text);
    assert_eq!(next.json["takeover"], true);
    assert_eq!(next.json["previous_committing"], true);
    assert_eq!(next.json["previous_committing_tokens"], json!([token]));
    // It reconciles, finds nothing, and gives the key up: the history
    // stays for whoever comes next.
    let released = api
        .post(&format!("{key}/release"), json!({"token": next.token()}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    let record = api.get(key).await;
    assert_eq!(record.json["state"], "released", "{}", record.text);
    assert_eq!(record.json["committing_tokens"], json!([token]));
    let third = api.post(&format!("{key}/reserve"), json!({})).await;
    assert_eq!(third.json["previous_committing_tokens"], json!([token]));
}

#[tokio::test]
async fn a_completed_key_refuses_heartbeat_and_release() {
    let api = Api::new(MemoryBackend::new());
    let token = api
        .post_empty("/v1/ns/orders/keys/k1/reserve")
        .await
        .token();
    let done = api
        .post(
            "/v1/ns/orders/keys/k1/complete",
            json!({"token": token, "response": {"status": 204}}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    for action in ["heartbeat", "release"] {
        let lost = api
            .post(
                &format!("/v1/ns/orders/keys/k1/{action}"),
                json!({"token": token}),
            )
            .await;
        lost.assert_problem(409);
        assert_eq!(lost.json["reason"], "completed");
        assert_eq!(lost.json["completed_by_token"], token);
    }
    // A stored response with no headers and no body replays as such.
    let replay = api.post_empty("/v1/ns/orders/keys/k1/reserve").await;
    assert_eq!(
        replay.json["response"],
        json!({"status": 204, "headers": {}, "body": ""})
    );
}

#[tokio::test]
async fn get_shows_an_in_progress_record_or_404() {
    let api = Api::new(MemoryBackend::new());
    let missing = api.get("/v1/ns/orders/keys/nope").await;
    missing.assert_problem(404);
    assert_eq!(missing.json["type"], "urn:idem:problem:key-not-found");

    let token = api
        .post(
            "/v1/ns/orders/keys/k1/reserve",
            json!({"fingerprint": "f1", "retain_ms": 60000}),
        )
        .await
        .token();
    let record = api.get("/v1/ns/orders/keys/k1").await;
    assert_eq!(record.status, StatusCode::OK);
    assert_eq!(record.json["state"], "in_progress");
    assert_eq!(record.json["token"], token);
    assert_eq!(record.json["fingerprint"], "f1");
    assert_eq!(record.json["lease_ms"], 30000);
    assert_eq!(record.json["retain_ms"], 60000);
    assert_eq!(record.json["lease_expired"], false);
    assert_eq!(record.json["minted"], false);
    assert!(record.json["lease_expires_at_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn namespace_policy_put_and_get() {
    let api = Api::new(MemoryBackend::new());
    let defaults = api.get("/v1/ns/billing").await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(
        defaults.json,
        json!({"namespace": "billing", "default_lease_ms": 30000, "default_retain_ms": 86400000, "require_minted_keys": false})
    );
    let changed = api
        .put("/v1/ns/billing", json!({"default_lease_ms": 5000}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.json["default_lease_ms"], 5000);
    assert_eq!(changed.json["default_retain_ms"], 86400000);
    let changed = api
        .put("/v1/ns/billing", json!({"default_retain_ms": 3600000}))
        .await;
    assert_eq!(changed.json["default_lease_ms"], 5000);
    assert_eq!(changed.json["default_retain_ms"], 3600000);
    assert_eq!(api.get("/v1/ns/billing").await.json, changed.json);
    // An empty PUT changes nothing and answers the policy.
    let empty = api
        .raw(Method::PUT, "/v1/ns/billing", None, Body::empty())
        .await;
    assert_eq!(empty.json, changed.json);

    // New keys follow the namespace's default lease.
    api.post_empty("/v1/ns/billing/keys/k1/reserve").await;
    assert_eq!(
        api.get("/v1/ns/billing/keys/k1").await.json["lease_ms"],
        5000
    );
}

#[tokio::test]
async fn require_minted_keys_admits_only_minted_keys() {
    let api = Api::new(MemoryBackend::new());
    let policy = api
        .put("/v1/ns/strict", json!({"require_minted_keys": true}))
        .await;
    assert_eq!(policy.json["require_minted_keys"], true);

    let invented = api
        .post_empty("/v1/ns/strict/keys/my-own-key/reserve")
        .await;
    invented.assert_problem(422);
    assert_eq!(invented.json["type"], "urn:idem:problem:key-not-minted");

    let minted = api.post_empty("/v1/ns/strict/keys").await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.text);
    let key = minted.json["key"].as_str().unwrap().to_owned();
    let record = api.get(&format!("/v1/ns/strict/keys/{key}")).await;
    assert_eq!(record.json["state"], "minted");
    assert_eq!(record.json["retain_until_ms"], minted.json["expires_at_ms"]);

    // A minted key, never reserved, cannot be heartbeaten.
    let lost = api
        .post(
            &format!("/v1/ns/strict/keys/{key}/heartbeat"),
            json!({"token": 1}),
        )
        .await;
    lost.assert_problem(409);
    assert_eq!(lost.json["reason"], "not_reserved");

    let reserved = api
        .post_empty(&format!("/v1/ns/strict/keys/{key}/reserve"))
        .await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{}", reserved.text);
    assert_eq!(
        api.get(&format!("/v1/ns/strict/keys/{key}")).await.json["minted"],
        true
    );
}

#[tokio::test]
async fn mint_draws_uuidv7_keys() {
    let api = Api::new(MemoryBackend::new());
    let first = api.post_empty("/v1/ns/orders/keys").await;
    let second = api.post("/v1/ns/orders/keys", json!({})).await;
    for minted in [&first, &second] {
        assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.text);
        let key = minted.json["key"].as_str().unwrap();
        assert_eq!(key.len(), 36, "{key}");
        assert_eq!(key.as_bytes()[14], b'7', "UUID version 7: {key}");
        assert!(minted.json["expires_at_ms"].as_u64().unwrap() > 0);
    }
    assert_ne!(first.json["key"], second.json["key"]);
}

#[tokio::test]
async fn derive_is_deterministic_per_namespace() {
    let api = Api::new(MemoryBackend::new());
    let a = api
        .post(
            "/v1/ns/shop/derive",
            json!({"payload": {"amount": 10, "customer": "c1"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let key = a.json["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 43);
    // Member order and whitespace do not matter.
    let reordered = r#"{ "payload": { "customer": "c1", "amount": 10 } }"#;
    let b = api
        .raw(
            Method::POST,
            "/v1/ns/shop/derive",
            Some("application/json"),
            reordered,
        )
        .await;
    assert_eq!(b.json["key"], key.as_str());
    let other = api
        .post(
            "/v1/ns/shop/derive",
            json!({"payload": {"amount": 11, "customer": "c1"}}),
        )
        .await;
    assert_ne!(other.json["key"], key.as_str());
    // Another namespace has another secret.
    let elsewhere = api
        .post(
            "/v1/ns/shop-eu/derive",
            json!({"payload": {"amount": 10, "customer": "c1"}}),
        )
        .await;
    assert_ne!(elsewhere.json["key"], key.as_str());
    // The derived key works as a key.
    let reserved = api
        .post_empty(&format!("/v1/ns/shop/keys/{key}/reserve"))
        .await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{}", reserved.text);
}

#[tokio::test]
async fn a_key_with_a_slash_is_sent_percent_encoded() {
    let api = Api::new(MemoryBackend::new());
    let reserved = api
        .post_empty("/v1/ns/orders/keys/tenant%2F42/reserve")
        .await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{}", reserved.text);
    let record = api.get("/v1/ns/orders/keys/tenant%2F42").await;
    assert_eq!(record.json["key"], "tenant/42");
    // Percent-encoding other characters works the same way.
    let spaced = api
        .post_empty("/v1/ns/orders/keys/hello%20world/reserve")
        .await;
    assert_eq!(spaced.status, StatusCode::CREATED);
    assert_eq!(
        api.get("/v1/ns/orders/keys/hello%20world").await.json["key"],
        "hello world"
    );
    // Unencoded, the slash splits the path: no such route.
    let unencoded = api.post_empty("/v1/ns/orders/keys/tenant/42/reserve").await;
    unencoded.assert_problem(404);
    assert!(unencoded.json["detail"].as_str().unwrap().contains("%2F"));
}

#[tokio::test]
async fn health_ready_cluster_and_metrics() {
    let backend = MemoryBackend::new();
    let api = Api::new(backend.clone());
    let health = api.get("/health").await;
    assert_eq!(
        (health.status, health.json),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let ready = api.get("/ready").await;
    assert_eq!(
        (ready.status, ready.json),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    backend.set_ready(false);
    let not_ready = api.get("/ready").await;
    not_ready.assert_problem(503);
    assert_eq!(not_ready.header("retry-after"), Some("1"));
    backend.set_ready(true);

    api.post_empty("/v1/ns/orders/keys/k1/reserve").await;
    let cluster = api.get("/v1/cluster").await;
    assert_eq!(cluster.status, StatusCode::OK);
    assert_eq!(cluster.json["leader"], 1);
    assert_eq!(cluster.json["last_applied_index"], 1);
    assert_eq!(cluster.json["members"][0]["clock_offset_ms"], 0);
    assert_eq!(cluster.json["members"][0]["wall_offset_ms"], 0);
    assert_eq!(cluster.json["cluster_time_synced"], true);
    let cluster_time = cluster.json["cluster_time_ms"]
        .as_u64()
        .expect("cluster time");
    assert!(cluster_time.abs_diff(idem_cluster::system_wall_ms()) < 60_000);

    api.get("/no/such/route").await;
    let metrics = api.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    for line in [
        r#"idem_http_requests_total{route="/v1/ns/{ns}/keys/{key}/reserve",method="POST",status="201"} 1"#,
        r#"idem_http_requests_total{route="/ready",method="GET",status="503"} 1"#,
        r#"idem_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"idem_http_request_duration_seconds_count{route="/v1/ns/{ns}/keys/{key}/reserve"} 1"#,
        "idem_cluster_is_leader 1",
        "idem_cluster_last_applied_index 1",
        r#"idem_cluster_member_clock_offset_ms{member="1"} 0"#,
        r#"idem_cluster_member_wall_offset_ms{member="1"} 0"#,
        "idem_cluster_time_synced 1",
    ] {
        assert!(
            metrics.text.contains(line),
            "missing {line:?} in\n{}",
            metrics.text
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let api = Api::new(MemoryBackend::new());
    let unknown = api.get("/v2/anything").await;
    unknown.assert_problem(404);
    assert_eq!(unknown.json["type"], "urn:idem:problem:route-not-found");
    assert_eq!(unknown.json["instance"], "/v2/anything");

    let wrong = api.get("/v1/ns/orders/keys/k1/reserve").await;
    wrong.assert_problem(405);
    assert_eq!(wrong.header("allow"), Some("POST"));
    let wrong = api
        .raw(Method::DELETE, "/v1/ns/orders", None, Body::empty())
        .await;
    wrong.assert_problem(405);
    let allow = wrong.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
}

// ---- bad requests ----

/// A malformed request and the status it must get.
struct BadRequest {
    name: &'static str,
    method: Method,
    uri: String,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    /// Expected problem kind (after `urn:idem:problem:`).
    kind: &'static str,
}

fn bad(
    name: &'static str,
    uri: &str,
    body: impl Into<String>,
    status: u16,
    kind: &'static str,
) -> BadRequest {
    BadRequest {
        name,
        method: Method::POST,
        uri: uri.to_owned(),
        content_type: Some("application/json"),
        body: body.into(),
        status,
        kind,
    }
}

const KEY: &str = "/v1/ns/shop/keys/order-1";

fn bad_requests(token: u64) -> Vec<BadRequest> {
    let reserve = format!("{KEY}/reserve");
    let heartbeat = format!("{KEY}/heartbeat");
    let complete = format!("{KEY}/complete");
    let release = format!("{KEY}/release");
    let complete_with = |response: Value| json!({"token": token, "response": response}).to_string();
    let many_headers: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let deep_payload = format!("{{\"payload\":{}1{}}}", "[".repeat(80), "]".repeat(80));
    vec![
        bad(
            "reserve: body is not JSON",
            &reserve,
            "{\"fingerprint\":",
            400,
            "malformed-json",
        ),
        bad(
            "reserve: trailing garbage",
            &reserve,
            "{} {}",
            400,
            "malformed-json",
        ),
        bad(
            "reserve: body is an array",
            &reserve,
            "[]",
            400,
            "invalid-body",
        ),
        bad(
            "reserve: fields given as an array",
            &reserve,
            r#"["f1",1000,86400000]"#,
            400,
            "invalid-body",
        ),
        bad(
            "reserve: body is a string",
            &reserve,
            r#""order-1""#,
            400,
            "invalid-body",
        ),
        bad(
            "reserve: unknown field",
            &reserve,
            r#"{"fingerprnt":"x"}"#,
            400,
            "invalid-body",
        ),
        bad(
            "reserve: lease_ms wrong type",
            &reserve,
            r#"{"lease_ms":"30s"}"#,
            400,
            "invalid-body",
        ),
        bad(
            "reserve: lease_ms negative",
            &reserve,
            r#"{"lease_ms":-1}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: lease_ms too short",
            &reserve,
            r#"{"lease_ms":5}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: lease_ms absurd",
            &reserve,
            r#"{"lease_ms":999999999999}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: lease_ms fractional",
            &reserve,
            r#"{"lease_ms":100.5}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: lease_ms past u64",
            &reserve,
            r#"{"lease_ms":1e30}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: retain_ms negative",
            &reserve,
            r#"{"retain_ms":-86400000}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: retain_ms absurd",
            &reserve,
            r#"{"retain_ms":18446744073709551615}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: fingerprint empty",
            &reserve,
            r#"{"fingerprint":""}"#,
            400,
            "invalid-fingerprint",
        ),
        bad(
            "reserve: fingerprint control char",
            &reserve,
            r#"{"fingerprint":"a\u0007b"}"#,
            400,
            "invalid-fingerprint",
        ),
        bad(
            "reserve: fingerprint too long",
            &reserve,
            json!({"fingerprint": "f".repeat(513)}).to_string(),
            400,
            "invalid-fingerprint",
        ),
        bad(
            "reserve: attempt too short to be random",
            &reserve,
            r#"{"attempt":"retry-1"}"#,
            400,
            "invalid-attempt",
        ),
        bad(
            "reserve: attempt of 30 hex digits (120 bits)",
            &reserve,
            r#"{"attempt":"0123456789abcdef0123456789abcd"}"#,
            400,
            "invalid-attempt",
        ),
        bad(
            "reserve: attempt with spaces",
            &reserve,
            r#"{"attempt":"this is not base64url at all, no"}"#,
            400,
            "invalid-attempt",
        ),
        bad(
            "reserve: wait_ms over the cap",
            &reserve,
            r#"{"wait_ms":60001}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: wait_ms negative",
            &reserve,
            r#"{"wait_ms":-1}"#,
            400,
            "invalid-duration",
        ),
        bad(
            "reserve: attempt not a string",
            &reserve,
            r#"{"attempt":12345678901234567890}"#,
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: missing token",
            &heartbeat,
            "{}",
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: empty body (no token)",
            &heartbeat,
            "",
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: token 0",
            &heartbeat,
            r#"{"token":0}"#,
            400,
            "invalid-token",
        ),
        bad(
            "heartbeat: token negative",
            &heartbeat,
            r#"{"token":-3}"#,
            400,
            "invalid-token",
        ),
        bad(
            "heartbeat: token as string",
            &heartbeat,
            format!(r#"{{"token":"{token}"}}"#),
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: token null",
            &heartbeat,
            r#"{"token":null}"#,
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: lease_ms absurd",
            &heartbeat,
            format!(r#"{{"token":{token},"lease_ms":86400000000}}"#),
            400,
            "invalid-duration",
        ),
        bad(
            "complete: missing response",
            &complete,
            format!(r#"{{"token":{token}}}"#),
            400,
            "invalid-body",
        ),
        bad(
            "complete: status 700",
            &complete,
            complete_with(json!({"status": 700})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: status 99",
            &complete,
            complete_with(json!({"status": 99})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: status 70000",
            &complete,
            complete_with(json!({"status": 70000})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: response as an array",
            &complete,
            complete_with(json!([200, {}, "x"])),
            400,
            "invalid-body",
        ),
        bad(
            "complete: status missing",
            &complete,
            complete_with(json!({"body": "x"})),
            400,
            "invalid-body",
        ),
        bad(
            "complete: bad header name",
            &complete,
            complete_with(json!({"status": 200, "headers": {"bad header": "v"}})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: header value with newline",
            &complete,
            complete_with(json!({"status": 200, "headers": {"x-a": "v\r\nx-b: injected"}})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: header value not a string",
            &complete,
            complete_with(json!({"status": 200, "headers": {"x-a": 1}})),
            400,
            "invalid-body",
        ),
        bad(
            "complete: too many headers",
            &complete,
            complete_with(json!({"status": 200, "headers": many_headers})),
            400,
            "invalid-response",
        ),
        bad(
            "complete: unknown field in response",
            &complete,
            complete_with(json!({"status": 200, "extra": true})),
            400,
            "invalid-body",
        ),
        bad(
            "complete: stored body over the limit",
            &complete,
            complete_with(json!({"status": 200, "body": "b".repeat(5000)})),
            413,
            "response-too-large",
        ),
        bad(
            "complete: request body over the limit",
            &complete,
            complete_with(json!({"status": 200, "body": "b".repeat(20_000)})),
            413,
            "body-too-large",
        ),
        bad(
            "release: token 0",
            &release,
            r#"{"token":0}"#,
            400,
            "invalid-token",
        ),
        bad(
            "release: token fractional",
            &release,
            r#"{"token":1.5}"#,
            400,
            "invalid-token",
        ),
        bad(
            "release: not_committed not a boolean",
            &release,
            format!(r#"{{"token":{token},"not_committed":"yes"}}"#),
            400,
            "invalid-body",
        ),
        bad(
            "heartbeat: committing not a boolean",
            &heartbeat,
            format!(r#"{{"token":{token},"committing":1}}"#),
            400,
            "invalid-body",
        ),
        bad(
            "release: unknown field",
            &release,
            format!(r#"{{"token":{token},"force":true}}"#),
            400,
            "invalid-body",
        ),
        bad(
            "key: too long",
            &format!("/v1/ns/shop/keys/{}/reserve", "k".repeat(256)),
            "",
            400,
            "invalid-key",
        ),
        bad(
            "key: newline %0A",
            "/v1/ns/shop/keys/order%0A1/reserve",
            "",
            400,
            "invalid-key",
        ),
        bad(
            "key: NUL %00",
            "/v1/ns/shop/keys/order%001/reserve",
            "",
            400,
            "invalid-key",
        ),
        bad(
            "key: invalid UTF-8 %FF",
            "/v1/ns/shop/keys/order%FF/reserve",
            "",
            400,
            "invalid-path",
        ),
        bad(
            "key: empty",
            "/v1/ns/shop/keys//reserve",
            "",
            400,
            "invalid-key",
        ),
        bad(
            "namespace: upper case",
            "/v1/ns/Shop/keys/order-1/reserve",
            "",
            400,
            "invalid-namespace",
        ),
        bad(
            "namespace: starts with '-'",
            "/v1/ns/-shop/keys/order-1/reserve",
            "",
            400,
            "invalid-namespace",
        ),
        bad(
            "namespace: too long",
            &format!("/v1/ns/{}/keys/order-1/reserve", "n".repeat(65)),
            "",
            400,
            "invalid-namespace",
        ),
        bad(
            "namespace: invalid UTF-8",
            "/v1/ns/sh%C3op/keys/order-1/reserve",
            "",
            400,
            "invalid-path",
        ),
        BadRequest {
            content_type: Some("text/plain"),
            ..bad(
                "reserve: text/plain body",
                &reserve,
                r#"{"lease_ms":1000}"#,
                415,
                "unsupported-media-type",
            )
        },
        BadRequest {
            content_type: None,
            ..bad(
                "reserve: body without content type",
                &reserve,
                r#"{"lease_ms":1000}"#,
                415,
                "unsupported-media-type",
            )
        },
        BadRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            ..bad(
                "release: form body",
                &release,
                "token=1",
                415,
                "unsupported-media-type",
            )
        },
        BadRequest {
            method: Method::PUT,
            ..bad(
                "namespace: default_lease_ms 0",
                "/v1/ns/shop",
                r#"{"default_lease_ms":0}"#,
                400,
                "invalid-duration",
            )
        },
        BadRequest {
            method: Method::PUT,
            ..bad(
                "namespace: default_retain_ms negative",
                "/v1/ns/shop",
                r#"{"default_retain_ms":-5}"#,
                400,
                "invalid-duration",
            )
        },
        BadRequest {
            method: Method::PUT,
            ..bad(
                "namespace: require_minted_keys as string",
                "/v1/ns/shop",
                r#"{"require_minted_keys":"yes"}"#,
                400,
                "invalid-body",
            )
        },
        BadRequest {
            method: Method::PUT,
            ..bad(
                "namespace: unknown field",
                "/v1/ns/shop",
                r#"{"default_ttl":1000}"#,
                400,
                "invalid-body",
            )
        },
        bad(
            "mint: unknown field",
            "/v1/ns/shop/keys",
            r#"{"key":"mine"}"#,
            400,
            "invalid-body",
        ),
        bad(
            "derive: missing payload",
            "/v1/ns/shop/derive",
            "{}",
            400,
            "invalid-body",
        ),
        bad(
            "derive: body is not JSON",
            "/v1/ns/shop/derive",
            "payload=1",
            400,
            "malformed-json",
        ),
        bad(
            "derive: payload too deep",
            "/v1/ns/shop/derive",
            deep_payload,
            400,
            "invalid-payload",
        ),
        bad(
            "derive: payload deeper than the JSON parser allows",
            "/v1/ns/shop/derive",
            format!("{{\"payload\":{}1{}}}", "[".repeat(200), "]".repeat(200)),
            400,
            "malformed-json",
        ),
    ]
}

/// What a bad request could have touched: the record (its facts, not what
/// is judged at the read's time), the namespace, and the log.
async fn snapshot(api: &Api) -> (Value, Value, Value) {
    let mut record = api.get(KEY).await;
    assert_eq!(record.status, StatusCode::OK);
    if let Some(fields) = record.json.as_object_mut() {
        fields.retain(|name, _| name != "lease_expired" && !name.ends_with("_remaining_ms"));
    }
    let policy = api.get("/v1/ns/shop").await;
    let cluster = api.get("/v1/cluster").await;
    (
        record.json,
        policy.json,
        cluster.json["last_applied_index"].clone(),
    )
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_problem_and_change_nothing() {
    let limits = ApiLimits {
        max_request_body_bytes: 16 * 1024,
        max_stored_response_bytes: 4 * 1024,
        ..ApiLimits::default()
    };
    let api = Api::with_limits(MemoryBackend::new(), limits);
    let reserved = api
        .post(&format!("{KEY}/reserve"), json!({"fingerprint": "f1"}))
        .await;
    assert_eq!(reserved.status, StatusCode::CREATED);
    let token = reserved.token();

    let cases = bad_requests(token);
    assert!(cases.len() >= 25);
    for case in cases {
        let before = snapshot(&api).await;
        let mut request = Request::builder()
            .method(case.method.clone())
            .uri(&case.uri);
        if let Some(content_type) = case.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let answer = api
            .send(request.body(Body::from(case.body.clone())).unwrap())
            .await;
        assert_eq!(
            answer.status.as_u16(),
            case.status,
            "{}: {}",
            case.name,
            answer.text
        );
        assert_eq!(
            answer.content_type(),
            "application/problem+json",
            "{}",
            case.name
        );
        let detail = answer.json["detail"].as_str().unwrap_or("");
        assert!(
            !detail.is_empty(),
            "{}: no detail in {}",
            case.name,
            answer.text
        );
        assert_eq!(
            answer.json["type"],
            format!("urn:idem:problem:{}", case.kind),
            "{}: {}",
            case.name,
            answer.text
        );
        assert_eq!(snapshot(&api).await, before, "{} changed state", case.name);
    }

    // The owner's token still works afterwards.
    let completed = api
        .post(
            &format!("{KEY}/complete"),
            json!({"token": token, "response": ok_response()}),
        )
        .await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.text);
}

#[tokio::test]
async fn problem_details_say_which_rule_was_broken() {
    let api = Api::new(MemoryBackend::new());
    let cases = [
        (
            "/v1/ns/a/keys/k/reserve",
            r#"{"lease_ms":-1}"#,
            "lease_ms must be a whole number of milliseconds from 100 to 3600000, got -1",
        ),
        (
            "/v1/ns/a/keys/k/reserve",
            r#"{"retain_ms":5}"#,
            "retain_ms must be a whole number of milliseconds from 1000 to 2592000000, got 5",
        ),
        (
            "/v1/ns/a/keys/k/reserve",
            r#"{"lease":1}"#,
            "unknown field `lease`",
        ),
        ("/v1/ns/a/keys/k/heartbeat", "{}", "missing field `token`"),
        (
            "/v1/ns/a/keys/k/heartbeat",
            r#"{"token":0}"#,
            "token must be a positive integer",
        ),
        (
            "/v1/ns/a/keys/k/heartbeat",
            r#"{"token":"7"}"#,
            "token: invalid type: string",
        ),
        (
            "/v1/ns/a/keys/k/complete",
            r#"{"token":1,"response":{"status":99}}"#,
            "between 100 and 599",
        ),
        (
            "/v1/ns/a/keys/k/complete",
            r#"{"token":1,"response":{"status":200,"headers":{"x":3}}}"#,
            "response.headers.x",
        ),
        ("/v1/ns/a/keys/order%0A/reserve", "", "control characters"),
        ("/v1/ns/A/keys/k/reserve", "", "namespace must be"),
        ("/v1/ns/a/keys/%FF/reserve", "", "UTF-8"),
    ];
    for (uri, body, expected) in cases {
        let answer = api
            .raw(Method::POST, uri, Some("application/json"), body)
            .await;
        assert!(
            answer.status.is_client_error(),
            "{uri} {body}: {}",
            answer.text
        );
        let detail = answer.json["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains(expected),
            "{uri} {body}: {detail:?} lacks {expected:?}"
        );
    }
}

#[tokio::test]
async fn default_limits_admit_a_full_size_response_and_refuse_more() {
    let api = Api::new(MemoryBackend::new());
    let token = api.post_empty("/v1/ns/big/keys/k1/reserve").await.token();
    let limit = ApiLimits::DEFAULT_MAX_STORED_RESPONSE_BYTES;
    let too_big =
        json!({"token": token, "response": {"status": 200, "body": "x".repeat(limit + 1)}});
    api.post("/v1/ns/big/keys/k1/complete", too_big)
        .await
        .assert_problem(413);
    let just_fits = json!({"token": token, "response": {"status": 200, "body": "x".repeat(limit)}});
    let stored = api.post("/v1/ns/big/keys/k1/complete", just_fits).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
    let huge = "x".repeat(ApiLimits::DEFAULT_MAX_REQUEST_BODY_BYTES + 1);
    api.raw(
        Method::POST,
        "/v1/ns/big/keys/k2/reserve",
        Some("application/json"),
        huge,
    )
    .await
    .assert_problem(413);
    // A body declared too large is refused before it is read.
    let declared = Request::builder()
        .method(Method::POST)
        .uri("/v1/ns/big/keys/k2/reserve")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "99999999")
        .body(Body::from("{}"))
        .unwrap();
    let answer = api.send(declared).await;
    answer.assert_problem(413);
    assert_eq!(answer.json["type"], "urn:idem:problem:body-too-large");
    api.get("/v1/ns/big/keys/k2").await.assert_problem(404);
}

// ---- a cluster that fails ----

/// How [`FailingBackend`] misbehaves.
#[derive(Debug, Clone)]
enum Failure {
    /// Every call fails with this error.
    Error(ClusterError),
    /// Every command is refused by the state machine.
    Refused,
    /// Every command answers an outcome of the wrong kind.
    WrongOutcome,
}

#[derive(Debug, Clone)]
struct FailingBackend(Failure);

impl Backend for FailingBackend {
    async fn execute(&self, command: Command) -> Result<Outcome, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            Failure::Refused => Ok(Outcome::Refused(Refusal::StampFromAnotherTerm {
                stamp_term: 1,
                entry_term: 2,
            })),
            Failure::WrongOutcome => {
                let key = IdemKey::new("x").unwrap();
                Ok(match command {
                    Command::Derive(_) => Outcome::Release(ReleaseOutcome::Released {
                        token: idem_core::FencingToken(1),
                    }),
                    _ => Outcome::Derive(DeriveOutcome { key }),
                })
            }
        }
    }

    async fn read_record(
        &self,
        _id: KeyId,
        _by: Option<ApiKeyId>,
    ) -> Result<RecordRead, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(RecordRead {
                record: None,
                now: idem_core::Stamp::ZERO,
            }),
        }
    }

    async fn namespace_policy(
        &self,
        _ns: Namespace,
        _by: Option<ApiKeyId>,
    ) -> Result<NamespacePolicy, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(NamespacePolicy::default()),
        }
    }

    async fn namespace_quota(
        &self,
        _ns: Namespace,
        _by: Option<ApiKeyId>,
    ) -> Result<(idem_core::NamespaceQuota, idem_core::NamespaceUsage), ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(Default::default()),
        }
    }

    fn local_quota(&self, _ns: &Namespace) -> Result<idem_core::NamespaceQuota, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(Default::default()),
        }
    }

    async fn auth_view(&self, _id: ApiKeyId, _: Freshness) -> Result<AuthView, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(AuthView {
                key: None,
                secret: None,
                now_ms: 0,
            }),
        }
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(Vec::new()),
        }
    }

    async fn cluster_status(&self) -> ClusterStatus {
        ClusterStatus::default()
    }

    async fn reserve_waiting(
        &self,
        command: idem_core::Reserve,
        _by: Option<ApiKeyId>,
        _wait: Duration,
    ) -> Result<Outcome, ClusterError> {
        self.execute(Command::Reserve(command)).await
    }

    async fn change_membership(&self, _change: MembershipChange) -> Result<(), ClusterError> {
        match &self.0 {
            Failure::Error(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }

    async fn is_ready(&self) -> bool {
        false
    }
}

/// One request to each route that reaches the backend.
fn backend_requests() -> Vec<(Method, &'static str, &'static str)> {
    vec![
        (Method::POST, "/v1/ns/a/keys/k/reserve", "{}"),
        (Method::POST, "/v1/ns/a/keys/k/heartbeat", r#"{"token":1}"#),
        (
            Method::POST,
            "/v1/ns/a/keys/k/complete",
            r#"{"token":1,"response":{"status":200}}"#,
        ),
        (Method::POST, "/v1/ns/a/keys/k/release", r#"{"token":1}"#),
        (Method::PUT, "/v1/ns/a", "{}"),
        (Method::POST, "/v1/ns/a/keys", "{}"),
        (Method::POST, "/v1/ns/a/derive", r#"{"payload":1}"#),
    ]
}

#[tokio::test]
async fn backend_errors_are_503_with_retry_after() {
    // Refused before anything was written: any retry is safe. Timed out or
    // broken off: it may have been applied.
    for (error, kind) in [
        (
            ClusterError::NotLeader(None),
            "urn:idem:problem:not-applied",
        ),
        (ClusterError::Timeout, "urn:idem:problem:outcome-unknown"),
        (
            ClusterError::LeadershipChanged,
            "urn:idem:problem:not-applied",
        ),
        (
            ClusterError::Unavailable("disk".into()),
            "urn:idem:problem:outcome-unknown",
        ),
    ] {
        let api = Api::new(FailingBackend(Failure::Error(error.clone())));
        let mut requests = backend_requests();
        requests.push((Method::GET, "/v1/ns/a/keys/k", ""));
        requests.push((Method::GET, "/v1/ns/a", ""));
        for (method, uri, body) in requests {
            let answer = api
                .raw(method.clone(), uri, Some("application/json"), body)
                .await;
            answer.assert_problem(503);
            assert_eq!(answer.header("retry-after"), Some("1"), "{method} {uri}");
            assert_eq!(answer.json["type"], kind, "{error:?}");
            assert_eq!(answer.json["detail"], error.to_string());
        }
    }
}

#[tokio::test]
async fn a_refusal_is_503_and_a_wrong_outcome_is_500() {
    let refusing = Api::new(FailingBackend(Failure::Refused));
    let confused = Api::new(FailingBackend(Failure::WrongOutcome));
    for (method, uri, body) in backend_requests() {
        let refused = refusing
            .raw(method.clone(), uri, Some("application/json"), body)
            .await;
        refused.assert_problem(503);
        assert_eq!(refused.header("retry-after"), Some("1"));
        let wrong = confused
            .raw(method.clone(), uri, Some("application/json"), body)
            .await;
        wrong.assert_problem(500);
        assert_eq!(wrong.json["type"], "urn:idem:problem:internal");
    }
    // A node that is not ready says so.
    refusing.get("/ready").await.assert_problem(503);
}

// ---- membership ----

#[tokio::test]
async fn membership_requests_are_checked() {
    let api = Api::new(MemoryBackend::new());
    let members = api.get("/v1/cluster/members").await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.text);
    assert_eq!(members.json.as_array().map(Vec::len), Some(1));
    for body in [
        json!({"id": 0, "raft_addr": "127.0.0.1:7104"}),
        json!({"id": 4, "raft_addr": "no-port"}),
        json!({"id": 4, "raft_addr": "127.0.0.1:99999"}),
        json!({"id": 4, "raft_addr": "127.0.0.1:7104", "http_addr": ":8104"}),
        json!({"id": -4, "raft_addr": "127.0.0.1:7104"}),
        json!({"id": 4}),
        json!({"id": 4, "raft_addr": "127.0.0.1:7104", "extra": true}),
    ] {
        api.post("/v1/cluster/members", body)
            .await
            .assert_problem(400);
    }
    api.raw(
        Method::DELETE,
        "/v1/cluster/members/abc",
        None,
        Body::empty(),
    )
    .await
    .assert_problem(400);
    api.raw(Method::DELETE, "/v1/cluster/members/0", None, Body::empty())
        .await
        .assert_problem(400);
    api.raw(Method::DELETE, "/v1/cluster/members/9", None, Body::empty())
        .await
        .assert_problem(404);
    // The in-memory backend is one node: a well-formed change is refused as
    // unavailable, never half-done.
    let add = api
        .post(
            "/v1/cluster/members",
            json!({"id": 4, "raft_addr": "127.0.0.1:7104"}),
        )
        .await;
    add.assert_problem(503);
    assert_eq!(api.get("/v1/cluster/members").await.json, members.json);
}
