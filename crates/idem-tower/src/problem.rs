//! The guard's own answers, as RFC 9457 problem documents: every refusal
//! and every outcome it cannot replay. Listed with their meaning in
//! `docs/PROXY.md`.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::error::RequestRefused;

pub const PROBLEM_JSON: &str = "application/problem+json";
pub const PROBLEM_TYPE_PREFIX: &str = "urn:idem:problem:";

/// One problem the guard answers.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardProblem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extensions: Map<String, Value>,
    pub retry_after: Option<Duration>,
}

impl GuardProblem {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: String) -> Self {
        GuardProblem {
            status,
            kind,
            title,
            detail,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn refused(why: &RequestRefused) -> Self {
        let (status, kind, title) = match why {
            RequestRefused::KeyMissing { .. } => (
                StatusCode::BAD_REQUEST,
                "idempotency-key-missing",
                "Idempotency key missing",
            ),
            RequestRefused::KeyInvalid { .. } => (
                StatusCode::BAD_REQUEST,
                "idempotency-key-invalid",
                "Idempotency key invalid",
            ),
            RequestRefused::IdentityMissing { .. } => (
                StatusCode::BAD_REQUEST,
                "caller-identity-missing",
                "Caller identity missing",
            ),
            RequestRefused::BodyTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request-too-large",
                "Request body too large",
            ),
            RequestRefused::BodyUnreadable(_) => (
                StatusCode::BAD_REQUEST,
                "request-unreadable",
                "Request body unreadable",
            ),
        };
        GuardProblem::new(status, kind, title, why.to_string())
    }

    /// 409: the first request with this key is still running.
    pub fn in_progress(retry_after: Duration) -> Self {
        GuardProblem::new(
            StatusCode::CONFLICT,
            "request-in-progress",
            "Request in progress",
            "a request with this idempotency key is still being processed; retry after the \
             Retry-After delay to get its answer"
                .into(),
        )
        .retry_after(retry_after.max(Duration::from_secs(1)))
    }

    /// 422: the key was used for a different request.
    pub fn key_reused() -> Self {
        GuardProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "this idempotency key was used for a different request (method, path, query, \
             body or fingerprinted headers differ); use a new key for a new request"
                .into(),
        )
    }

    /// 502 (504 when it timed out): the request may have run upstream and
    /// its answer is not known; it is not sent again.
    pub fn outcome_unknown(detail: String, timed_out: bool, tokens: &[u64]) -> Self {
        let status = if timed_out {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::BAD_GATEWAY
        };
        let p = GuardProblem::new(
            status,
            "upstream-outcome-unknown",
            "Upstream outcome unknown",
            format!(
                "{detail}; the request may have been carried out, so it is not sent again: \
                 look it up (by the idempotency key or the fencing tokens) before doing anything"
            ),
        );
        if tokens.is_empty() {
            p
        } else {
            p.with("fencing_tokens", json!(tokens))
        }
    }

    /// 502: the upstream could not be reached; nothing ran, retry.
    pub fn upstream_unavailable(detail: String) -> Self {
        GuardProblem::new(
            StatusCode::BAD_GATEWAY,
            "upstream-unavailable",
            "Upstream unavailable",
            format!("{detail}; the request was not sent, so a retry is safe"),
        )
        .retry_after(Duration::from_secs(1))
    }

    /// 503: idem could not be reached and the guard fails closed.
    pub fn idem_unavailable(detail: String) -> Self {
        GuardProblem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "idem-unavailable",
            "Idempotency store unavailable",
            format!("{detail}; the request was not sent upstream, so a retry is safe"),
        )
        .retry_after(Duration::from_secs(1))
    }

    /// 500: idem refused the reserve the guard built (an unknown namespace,
    /// one that takes minted keys only): the guard's configuration is wrong.
    pub fn idem_refused(detail: String) -> Self {
        GuardProblem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "idempotency-misconfigured",
            "Idempotency guard misconfigured",
            format!("idem refused the reservation: {detail}; the request was not sent upstream"),
        )
    }

    /// 502: it ran, but its answer was too large to store.
    pub fn too_large_to_replay(status: u16, bytes: u64) -> Self {
        GuardProblem::new(
            StatusCode::BAD_GATEWAY,
            "response-too-large-to-replay",
            "Stored response too large to replay",
            format!(
                "the request was carried out and answered {status} with a body of {bytes} \
                 bytes, too large to store; it is not run again"
            ),
        )
        .with("original_status", status)
        .with("body_bytes", bytes)
    }

    /// 502: the stored record does not decode.
    pub fn unreadable_record(detail: String) -> Self {
        GuardProblem::new(
            StatusCode::BAD_GATEWAY,
            "stored-response-unreadable",
            "Stored response unreadable",
            format!("the request was carried out, but its stored answer does not decode: {detail}"),
        )
    }

    /// The response, with `Retry-After` when set.
    pub fn into_response(self) -> Response<Bytes> {
        let mut doc = Map::new();
        doc.insert(
            "type".into(),
            json!(format!("{PROBLEM_TYPE_PREFIX}{}", self.kind)),
        );
        doc.insert("title".into(), json!(self.title));
        doc.insert("status".into(), json!(self.status.as_u16()));
        doc.insert("detail".into(), json!(self.detail));
        doc.extend(self.extensions);
        let body = serde_json::to_vec(&Value::Object(doc)).unwrap_or_default();
        let mut r = Response::new(Bytes::from(body));
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_a_problem_document_with_retry_after_when_set() {
        let r = GuardProblem::in_progress(Duration::from_millis(1500)).into_response();
        assert_eq!(r.status(), 409);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let doc: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(doc["type"], "urn:idem:problem:request-in-progress");
        assert_eq!(doc["status"], 409);
        let r = GuardProblem::outcome_unknown("x".into(), true, &[7, 9]).into_response();
        assert_eq!(r.status(), 504);
        let doc: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(doc["fencing_tokens"], json!([7, 9]));
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }
}
