//! etcd through its v3 JSON gateway (keys and values base64).
//! reserve: `POST /v3/kv/txn`, if the key's create_revision is 0 (absent)
//! then put it; complete: `POST /v3/kv/put` of the value; replay:
//! `POST /v3/kv/range` (linearizable, etcd's default).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

use super::{excerpt, Reservation};
use crate::http_conn::{HttpConnection, HttpReply};
use crate::plan::{Endpoint, Plan};
use crate::stats::{OpResult, Outcome, Reply};

/// Every benchmark key lives under this prefix.
pub const KEY_PREFIX: &str = "/idem-bench/";
/// What a reserved, not yet completed key holds.
pub const IN_PROGRESS: &str = "in_progress";

pub struct EtcdClient {
    connection: HttpConnection,
    value: String,
}

impl EtcdClient {
    pub fn new(endpoint: Endpoint, plan: &Plan) -> EtcdClient {
        EtcdClient {
            connection: HttpConnection::new(endpoint, plan.timeout).with_tls(plan.tls.clone()),
            value: plan.value.clone(),
        }
    }

    pub async fn reserve(&mut self, key: &str) -> Reservation {
        match self
            .connection
            .post_json("/v3/kv/txn", put_if_absent_body(key, IN_PROGRESS))
            .await
        {
            Ok(reply) => classify_txn(&reply),
            Err(error) => Reservation::Refused(error.into()),
        }
    }

    pub async fn complete(&mut self, key: &str) -> OpResult {
        match self
            .connection
            .post_json("/v3/kv/put", put_body(key, &self.value))
            .await
        {
            Ok(reply) => classify_put(&reply),
            Err(error) => error.into(),
        }
    }

    pub async fn replay(&mut self, key: &str) -> OpResult {
        match self
            .connection
            .post_json("/v3/kv/range", range_body(key))
            .await
        {
            Ok(reply) => classify_range(&reply),
            Err(error) => error.into(),
        }
    }
}

fn encoded_key(key: &str) -> String {
    BASE64.encode(format!("{KEY_PREFIX}{key}"))
}

/// A transaction that puts `value` only if the key does not exist.
pub fn put_if_absent_body(key: &str, value: &str) -> Vec<u8> {
    let key = encoded_key(key);
    json!({
        "compare": [{ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
        "success": [{ "request_put": { "key": key, "value": BASE64.encode(value) } }],
    })
    .to_string()
    .into_bytes()
}

pub fn put_body(key: &str, value: &str) -> Vec<u8> {
    json!({ "key": encoded_key(key), "value": BASE64.encode(value) })
        .to_string()
        .into_bytes()
}

pub fn range_body(key: &str) -> Vec<u8> {
    json!({ "key": encoded_key(key) }).to_string().into_bytes()
}

fn parse(reply: &HttpReply) -> Result<Value, OpResult> {
    if reply.status != 200 {
        return Err(OpResult::unexpected(
            Reply::Http(reply.status),
            excerpt(&reply.body),
        ));
    }
    serde_json::from_slice(&reply.body).map_err(|error| {
        OpResult::unexpected(Reply::Protocol, format!("reply is not JSON: {error}"))
    })
}

/// `succeeded` is omitted from the JSON when false. The token is the
/// revision the put created.
pub fn classify_txn(reply: &HttpReply) -> Reservation {
    let body = match parse(reply) {
        Ok(body) => body,
        Err(result) => return Reservation::Refused(result),
    };
    let status = Reply::Http(reply.status);
    if !body["succeeded"].as_bool().unwrap_or(false) {
        return Reservation::Refused(OpResult::new(Outcome::Conflict, status));
    }
    let revision = &body["header"]["revision"];
    let token = revision
        .as_u64()
        .or_else(|| revision.as_str().and_then(|r| r.parse().ok()));
    match token {
        Some(token) => Reservation::Granted {
            token,
            reply: status,
        },
        None => Reservation::Refused(OpResult::unexpected(
            Reply::Protocol,
            "txn reply without a header revision",
        )),
    }
}

pub fn classify_put(reply: &HttpReply) -> OpResult {
    match parse(reply) {
        Ok(_) => OpResult::new(Outcome::Ok, Reply::Http(reply.status)),
        Err(result) => result,
    }
}

/// A completed key must be found.
pub fn classify_range(reply: &HttpReply) -> OpResult {
    match parse(reply) {
        Ok(body) if body["kvs"].as_array().is_some_and(|kvs| !kvs.is_empty()) => {
            OpResult::new(Outcome::Ok, Reply::Http(reply.status))
        }
        Ok(_) => OpResult::unexpected(Reply::Http(reply.status), "range found no key"),
        Err(result) => result,
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
    fn put_if_absent_compares_the_create_revision_with_zero() {
        let body: Value =
            serde_json::from_slice(&put_if_absent_body("r1-k0", "in_progress")).expect("json");
        let key = BASE64.encode("/idem-bench/r1-k0");
        assert_eq!(
            body,
            json!({
                "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                "success": [{"request_put": {"key": key, "value": BASE64.encode("in_progress")}}],
            })
        );
    }

    #[test]
    fn put_and_range_encode_key_and_value_in_base64() {
        let put: Value = serde_json::from_slice(&put_body("k", "done")).expect("json");
        assert_eq!(
            put,
            json!({"key": "L2lkZW0tYmVuY2gvaw==", "value": "ZG9uZQ=="})
        );
        let range: Value = serde_json::from_slice(&range_body("k")).expect("json");
        assert_eq!(range, json!({"key": "L2lkZW0tYmVuY2gvaw=="}));
    }

    #[test]
    fn txn_replies_are_classified() {
        let granted = classify_txn(&reply(
            200,
            r#"{"header":{"revision":"42"},"succeeded":true,"responses":[]}"#,
        ));
        assert_eq!(
            granted,
            Reservation::Granted {
                token: 42,
                reply: Reply::Http(200)
            }
        );
        let Reservation::Refused(taken) =
            classify_txn(&reply(200, r#"{"header":{"revision":"42"}}"#))
        else {
            panic!("granted")
        };
        assert_eq!(taken.outcome, Outcome::Conflict);
        let Reservation::Refused(failed) =
            classify_txn(&reply(503, r#"{"error":"etcdserver: leader changed"}"#))
        else {
            panic!("granted")
        };
        assert_eq!(
            (failed.outcome, failed.reply),
            (Outcome::Error, Reply::Http(503))
        );
        let Reservation::Refused(garbled) = classify_txn(&reply(200, "<html>")) else {
            panic!("granted")
        };
        assert_eq!(garbled.reply, Reply::Protocol);
    }

    #[test]
    fn range_must_find_the_key() {
        assert_eq!(
            classify_range(&reply(200, r#"{"kvs":[{"key":"aw=="}],"count":"1"}"#)).outcome,
            Outcome::Ok
        );
        assert_eq!(
            classify_range(&reply(200, r#"{"header":{}}"#)).outcome,
            Outcome::Error
        );
        assert_eq!(
            classify_put(&reply(200, r#"{"header":{}}"#)).outcome,
            Outcome::Ok
        );
    }
}
