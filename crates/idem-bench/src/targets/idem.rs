//! idem over its HTTP API: reserve is `POST .../reserve`, complete is
//! `POST .../complete` with the token, replay is a reserve of a completed key
//! (the linearizable read path, answered 200).

use serde::Deserialize;
use serde_json::json;

use super::{excerpt, Reservation};
use crate::error::OpError;
use crate::http_conn::{HttpConnection, HttpReply};
use crate::plan::{Endpoint, Plan};
use crate::stats::{OpResult, Outcome, Reply};

/// The fingerprint every benchmark request carries (replay must match it).
pub const FINGERPRINT: &str = "idem-bench";

pub struct IdemClient {
    connection: HttpConnection,
    namespace: String,
    reserve_body: Vec<u8>,
    value: String,
    /// `Some(n)`: each reserve carries a fresh attempt id (the n-th).
    attempts: Option<u64>,
    lease_ms: u64,
    retain_ms: Option<u64>,
}

impl IdemClient {
    pub fn new(endpoint: Endpoint, plan: &Plan) -> IdemClient {
        IdemClient {
            connection: HttpConnection::new(endpoint, plan.timeout)
                .with_tls(plan.tls.clone())
                .with_api_key(plan.api_key.as_deref()),
            namespace: plan.namespace.clone(),
            reserve_body: reserve_body(plan.lease_ms, plan.retain_ms),
            value: plan.value.clone(),
            attempts: plan.attempts.then_some(0),
            lease_ms: plan.lease_ms,
            retain_ms: plan.retain_ms,
        }
    }

    pub async fn reserve(&mut self, key: &str) -> Reservation {
        let body = match &mut self.attempts {
            None => self.reserve_body.clone(),
            Some(n) => {
                *n += 1;
                let mut v: serde_json::Value =
                    json!({ "fingerprint": FINGERPRINT, "lease_ms": self.lease_ms });
                if let Some(r) = self.retain_ms {
                    v["retain_ms"] = json!(r);
                }
                v["attempt"] = json!(format!("bench-{key}-{n:016x}-attempt"));
                v.to_string().into_bytes()
            }
        };
        match self.post(key, "reserve", body).await {
            Ok(reply) => classify_reserve(&reply),
            Err(error) => Reservation::Refused(error.into()),
        }
    }

    pub async fn complete(&mut self, key: &str, token: u64) -> OpResult {
        match self
            .post(key, "complete", complete_body(token, &self.value))
            .await
        {
            Ok(reply) => classify_complete(&reply),
            Err(error) => error.into(),
        }
    }

    pub async fn replay(&mut self, key: &str) -> OpResult {
        match self.post(key, "reserve", self.reserve_body.clone()).await {
            Ok(reply) => classify_replay(&reply),
            Err(error) => error.into(),
        }
    }

    async fn post(&mut self, key: &str, action: &str, body: Vec<u8>) -> Result<HttpReply, OpError> {
        let path = key_path(&self.namespace, key, action);
        self.connection.post_json(&path, body).await
    }
}

/// Keys and namespaces of the benchmark are plain slugs: no percent-encoding.
pub fn key_path(namespace: &str, key: &str, action: &str) -> String {
    format!("/v1/ns/{namespace}/keys/{key}/{action}")
}

pub fn reserve_body(lease_ms: u64, retain_ms: Option<u64>) -> Vec<u8> {
    match retain_ms {
        Some(retain_ms) => {
            json!({ "fingerprint": FINGERPRINT, "lease_ms": lease_ms, "retain_ms": retain_ms })
        }
        None => json!({ "fingerprint": FINGERPRINT, "lease_ms": lease_ms }),
    }
    .to_string()
    .into_bytes()
}

pub fn complete_body(token: u64, value: &str) -> Vec<u8> {
    json!({ "token": token, "response": { "status": 200, "headers": {}, "body": value } })
        .to_string()
        .into_bytes()
}

#[derive(Deserialize)]
struct Reserved {
    token: u64,
}

/// 201 grants the key; 409 (in progress) and 200 (completed) mean someone
/// else has it.
pub fn classify_reserve(reply: &HttpReply) -> Reservation {
    let status = Reply::Http(reply.status);
    match reply.status {
        201 => match serde_json::from_slice::<Reserved>(&reply.body) {
            Ok(reserved) => Reservation::Granted {
                token: reserved.token,
                reply: status,
            },
            Err(error) => Reservation::Refused(OpResult::unexpected(
                Reply::Protocol,
                format!("201 without a token: {error}"),
            )),
        },
        200 | 409 => Reservation::Refused(OpResult::new(Outcome::Conflict, status)),
        _ => Reservation::Refused(OpResult::unexpected(status, excerpt(&reply.body))),
    }
}

/// 200 stored (or the identical completion again); 409: the token lost the key.
pub fn classify_complete(reply: &HttpReply) -> OpResult {
    let status = Reply::Http(reply.status);
    match reply.status {
        200 => OpResult::new(Outcome::Ok, status),
        409 => OpResult::new(Outcome::Conflict, status),
        _ => OpResult::unexpected(status, excerpt(&reply.body)),
    }
}

/// A completed key must replay: 200. Anything else means it was not there.
pub fn classify_replay(reply: &HttpReply) -> OpResult {
    let status = Reply::Http(reply.status);
    match reply.status {
        200 => OpResult::new(Outcome::Ok, status),
        _ => OpResult::unexpected(
            status,
            format!("expected a 200 replay: {}", excerpt(&reply.body)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn requests_follow_the_api() {
        assert_eq!(
            key_path("bench", "r1-k3", "reserve"),
            "/v1/ns/bench/keys/r1-k3/reserve"
        );
        let reserve: serde_json::Value =
            serde_json::from_slice(&reserve_body(30000, None)).expect("json");
        assert_eq!(
            reserve,
            json!({"fingerprint": "idem-bench", "lease_ms": 30000})
        );
        let reserve: serde_json::Value =
            serde_json::from_slice(&reserve_body(30000, Some(60000))).expect("json");
        assert_eq!(
            reserve,
            json!({"fingerprint": "idem-bench", "lease_ms": 30000, "retain_ms": 60000})
        );
        let complete: serde_json::Value =
            serde_json::from_slice(&complete_body(7, "vv")).expect("json");
        assert_eq!(
            complete,
            json!({"token": 7, "response": {"status": 200, "headers": {}, "body": "vv"}})
        );
    }

    #[test]
    fn reserve_replies_are_classified() {
        let granted = classify_reserve(&reply(
            201,
            r#"{"outcome":"reserved","token":17,"lease_expires_at_ms":1,"takeover":false}"#,
        ));
        assert_eq!(
            granted,
            Reservation::Granted {
                token: 17,
                reply: Reply::Http(201)
            }
        );
        for status in [200, 409] {
            let Reservation::Refused(result) = classify_reserve(&reply(status, "{}")) else {
                panic!("{status} granted")
            };
            assert_eq!(result.outcome, Outcome::Conflict);
        }
        let Reservation::Refused(result) = classify_reserve(&reply(503, "unavailable")) else {
            panic!("503 granted")
        };
        assert_eq!(
            (result.outcome, result.reply),
            (Outcome::Error, Reply::Http(503))
        );
        let Reservation::Refused(result) = classify_reserve(&reply(201, "not json")) else {
            panic!("granted")
        };
        assert_eq!(
            (result.outcome, result.reply),
            (Outcome::Error, Reply::Protocol)
        );
    }

    #[test]
    fn replay_expects_200() {
        assert_eq!(classify_replay(&reply(200, "{}")).outcome, Outcome::Ok);
        assert_eq!(classify_replay(&reply(201, "{}")).outcome, Outcome::Error);
        assert_eq!(classify_complete(&reply(200, "{}")).outcome, Outcome::Ok);
        assert_eq!(
            classify_complete(&reply(409, "{}")).outcome,
            Outcome::Conflict
        );
    }
}
