//! Every way a request can fail, and the one table that maps each to a
//! status code and a problem type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idem_core::{
    ApiKeyId, FencingToken, Forbidden, InvalidInput, KeyId, LostKey, Namespace, NotAuthenticated,
    OverQuota, QuotaLimit, Refusal,
};
use thiserror::Error;

use crate::backend::ClusterError;
use crate::http::problem::Problem;

/// How long a client should wait before retrying a 503, in seconds.
const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 1;

/// A numeric field whose value broke its range rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberField {
    Token,
    LeaseMs,
    RetainMs,
    DefaultLeaseMs,
    DefaultRetainMs,
    ResponseStatus,
    WaitMs,
    ExpiresInS,
    OldExpiresInS,
    MaxRecords,
    MaxStoredBytes,
    MaxRequestsPerS,
}

impl NumberField {
    /// The field's name in the request body.
    pub fn name(self) -> &'static str {
        match self {
            NumberField::Token => "token",
            NumberField::LeaseMs => "lease_ms",
            NumberField::RetainMs => "retain_ms",
            NumberField::DefaultLeaseMs => "default_lease_ms",
            NumberField::DefaultRetainMs => "default_retain_ms",
            NumberField::ResponseStatus => "response.status",
            NumberField::WaitMs => "wait_ms",
            NumberField::ExpiresInS => "expires_in_s",
            NumberField::OldExpiresInS => "old_expires_in_s",
            NumberField::MaxRecords => "max_records",
            NumberField::MaxStoredBytes => "max_stored_bytes",
            NumberField::MaxRequestsPerS => "max_requests_per_s",
        }
    }
}

/// The 503 of a request that certainly changed nothing (any retry is
/// safe); `outcome-unknown` is the 503 of one that may have been applied
/// (only a retry that means the same, the same key and token, is safe).
const NOT_APPLIED: &str = "not-applied";

/// Why a request was not carried out. None of these changed any state,
/// except possibly a [`ClusterError`] whose `certainly_not_applied()` is
/// false (a timeout: the request may have been applied; retrying with the
/// same key and token is safe).
#[derive(Debug, Error)]
pub enum ApiError {
    // The request breaks a rule (4xx).
    /// A name, fingerprint, response or payload breaks a domain rule.
    #[error("{0}")]
    Input(#[from] InvalidInput),
    #[error("{} must be {expected}, got {got}", .field.name())]
    NumberOutOfRange {
        field: NumberField,
        expected: String,
        got: String,
    },
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not have the expected fields and types: {0}")]
    BodyShape(String),
    #[error("could not read the request body: {0}")]
    UnreadableBody(String),
    #[error("a request body must be JSON (Content-Type: application/json), got {got}")]
    UnsupportedMediaType { got: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body did not arrive within {after:?}")]
    BodyTimeout { after: std::time::Duration },
    #[error(
        "the response to store is {size} bytes (body plus header names and values), over the limit of {limit} bytes"
    )]
    StoredResponseTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    InvalidPath(String),
    #[error("no route for {method} {path}{hint}")]
    RouteNotFound {
        method: String,
        path: String,
        hint: &'static str,
    },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },

    // The request is well formed, but the key's state refuses it.
    #[error("key {:?} in namespace {:?} has no record: it was never reserved, was released, or was forgotten after its retention", .0.key.as_str(), .0.namespace.as_str())]
    RecordNotFound(KeyId),
    #[error("key {:?} in namespace {:?} is bound to a request with a different fingerprint; use a new key for a different request", .0.key.as_str(), .0.namespace.as_str())]
    FingerprintMismatch(KeyId),
    #[error("namespace {:?} accepts only keys minted by the server (POST /v1/ns/{{ns}}/keys), and key {:?} was not minted or has been forgotten", .0.namespace.as_str(), .0.key.as_str())]
    KeyNotMinted(KeyId),
    #[error("{}", lost_key_detail(.id, *.token, .why))]
    LostKey {
        id: KeyId,
        token: FencingToken,
        why: LostKey,
    },
    #[error("key {:?} was already completed by token {token} with a different response; the first response stands", .id.key.as_str())]
    ConflictingResponse { id: KeyId, token: FencingToken },
    #[error("token {token} marked key {:?} committing, so it may have run the side effect; release it only with \"not_committed\": true if it certainly did not, otherwise complete it", .id.key.as_str())]
    ReleaseOfCommitting { id: KeyId, token: FencingToken },

    // Quotas (429).
    #[error("{}", over_quota_detail(.namespace, .over))]
    OverQuota {
        namespace: Namespace,
        over: OverQuota,
    },
    #[error("namespace {:?} is over its rate of {per_s} requests per second on this node; retry after the Retry-After", .namespace.as_str())]
    RateLimited {
        namespace: Namespace,
        per_s: u32,
        retry_after_secs: u64,
    },

    // Who may do what (401, 403) and the keys themselves.
    #[error("{}", unauthenticated_detail(.0))]
    Unauthenticated(NotAuthenticated),
    #[error("{0}")]
    Forbidden(Forbidden),
    #[error("the cluster has no API key {0}")]
    ApiKeyNotFound(ApiKeyId),
    #[error("{0}")]
    InvalidApiKeyRequest(String),

    #[error("{0}")]
    InvalidMember(String),
    #[error("node {0} is not a member of the cluster")]
    MemberNotFound(u64),
    #[error("node {0} is already a member of the cluster")]
    MemberExists(u64),

    // The cluster could not answer (5xx).
    #[error("{0}")]
    Backend(ClusterError),
    #[error("the cluster refused the request because leadership changed while it was in flight ({0:?}); nothing was applied, retry")]
    Refused(Refusal),
    #[error("this node is not ready to serve requests (no leader known, or still catching up)")]
    NotReady,
    #[error("could not draw an unused key after {attempts} attempts; retry")]
    MintCollisions { attempts: u32 },
    #[error("the cluster answered {operation} with an unexpected outcome; this is a bug in idem")]
    UnexpectedOutcome {
        operation: &'static str,
        outcome: String,
    },
}

/// A key found not in force where the request took effect is a 401 like
/// any other; every other cluster error is the cluster's.
impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::KeyNotInForce(why) => ApiError::Unauthenticated(why),
            other => ApiError::Backend(other),
        }
    }
}

fn unauthenticated_detail(why: &NotAuthenticated) -> String {
    match why {
        NotAuthenticated::Missing => format!("{why}: send Authorization: Bearer <API key>"),
        other => other.to_string(),
    }
}

/// `reason` of a 401 as problem+json shows it.
fn not_authenticated_reason(why: &NotAuthenticated) -> &'static str {
    match why {
        NotAuthenticated::Missing => "missing",
        NotAuthenticated::Unknown => "unknown",
        NotAuthenticated::Expired => "expired",
        NotAuthenticated::Revoked => "revoked",
    }
}

/// What the worker holding `token` must be told when it no longer owns a key.
fn lost_key_detail(id: &KeyId, token: FencingToken, why: &LostKey) -> String {
    let key = id.key.as_str();
    let reason = match why {
        LostKey::Absent => format!("key {key:?} is not reserved (it was never reserved, was released, or was forgotten)"),
        LostKey::NotReserved => format!("key {key:?} was minted but is not reserved"),
        LostKey::Superseded { current } if *current > token => format!(
            "token {token} was superseded by the newer token {current} (its lease ran out and another worker took key {key:?} over)"
        ),
        LostKey::Superseded { current } => format!("key {key:?} is owned by token {current}, not {token}"),
        LostKey::Completed { by } if *by == token => format!("key {key:?} is already completed by this token"),
        LostKey::Completed { by } => format!("key {key:?} was completed by token {by}"),
    };
    format!("token {token} does not own the key: {reason}; do not commit the side effect")
}

/// `reason` as problem+json shows it.
fn lost_key_reason(why: &LostKey) -> &'static str {
    match why {
        LostKey::Absent => "absent",
        LostKey::NotReserved => "not_reserved",
        LostKey::Superseded { .. } => "superseded",
        LostKey::Completed { .. } => "completed",
    }
}

/// The problem kind of a domain rule violation.
fn invalid_input_kind(input: &InvalidInput) -> &'static str {
    match input {
        InvalidInput::KeyLength { .. } | InvalidInput::KeyControlCharacter { .. } => "invalid-key",
        InvalidInput::NamespaceSyntax { .. } => "invalid-namespace",
        InvalidInput::FingerprintLength { .. } | InvalidInput::FingerprintControlCharacter => {
            "invalid-fingerprint"
        }
        InvalidInput::DurationOutOfRange { .. } => "invalid-duration",
        InvalidInput::ResponseStatus(_)
        | InvalidInput::TooManyHeaders { .. }
        | InvalidInput::HeaderName(_)
        | InvalidInput::HeaderValue(_) => "invalid-response",
        InvalidInput::DerivePayload(_) | InvalidInput::DerivePayloadTooDeep { .. } => {
            "invalid-payload"
        }
        InvalidInput::AttemptId { .. } => "invalid-attempt",
        InvalidInput::SecretLength { .. } => "invalid-input",
        // A malformed key in a body (a presented one is a 401 at the edge).
        InvalidInput::ApiKey => "invalid-api-key",
    }
}

fn number_field_kind(field: NumberField) -> &'static str {
    match field {
        NumberField::Token => "invalid-token",
        NumberField::LeaseMs
        | NumberField::RetainMs
        | NumberField::DefaultLeaseMs
        | NumberField::DefaultRetainMs
        | NumberField::WaitMs => "invalid-duration",
        NumberField::ResponseStatus => "invalid-response",
        NumberField::ExpiresInS | NumberField::OldExpiresInS => "invalid-api-key-request",
        NumberField::MaxRecords | NumberField::MaxStoredBytes | NumberField::MaxRequestsPerS => {
            "invalid-quota"
        }
    }
}

fn over_quota_detail(ns: &Namespace, over: &OverQuota) -> String {
    match over.limit {
        QuotaLimit::Records => format!(
            "namespace {:?} holds {} records, its max_records is {}: no new key until records are released or forgotten; nothing was changed",
            ns.as_str(),
            over.used,
            over.max
        ),
        QuotaLimit::StoredBytes => format!(
            "storing this response would take namespace {:?} past its max_stored_bytes of {} ({} held); nothing was stored and the lease still holds",
            ns.as_str(),
            over.max,
            over.used
        ),
    }
}

impl ApiError {
    /// The status, problem kind and title: the single mapping of failures to
    /// HTTP.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Input(input) => (S::BAD_REQUEST, invalid_input_kind(input), "Invalid input"),
            ApiError::NumberOutOfRange { field, .. } => {
                (S::BAD_REQUEST, number_field_kind(*field), "Invalid input")
            }
            ApiError::MalformedJson(_) => (S::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            ApiError::BodyShape(_) => (S::BAD_REQUEST, "invalid-body", "Invalid request body"),
            ApiError::UnreadableBody(_) => {
                (S::BAD_REQUEST, "unreadable-body", "Unreadable request body")
            }
            ApiError::UnsupportedMediaType { .. } => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::BodyTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
            ),
            ApiError::BodyTimeout { .. } => {
                (S::REQUEST_TIMEOUT, "body-timeout", "Request body too slow")
            }
            ApiError::StoredResponseTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "response-too-large",
                "Response to store too large",
            ),
            ApiError::InvalidPath(_) => (S::BAD_REQUEST, "invalid-path", "Invalid path"),
            ApiError::RouteNotFound { .. } => (S::NOT_FOUND, "route-not-found", "No such route"),
            ApiError::MethodNotAllowed { .. } => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::RecordNotFound(_) => (S::NOT_FOUND, "key-not-found", "Key not found"),
            ApiError::FingerprintMismatch(_) => (
                S::UNPROCESSABLE_ENTITY,
                "fingerprint-mismatch",
                "Key reused for a different request",
            ),
            ApiError::KeyNotMinted(_) => (
                S::UNPROCESSABLE_ENTITY,
                "key-not-minted",
                "Key was not minted",
            ),
            ApiError::LostKey { .. } => (S::CONFLICT, "key-lost", "Token does not own the key"),
            ApiError::ConflictingResponse { .. } => (
                S::CONFLICT,
                "conflicting-completion",
                "Key already completed with a different response",
            ),
            ApiError::ReleaseOfCommitting { .. } => (
                S::CONFLICT,
                "release-of-committing",
                "Reservation is committing",
            ),
            ApiError::OverQuota { .. } => (
                S::TOO_MANY_REQUESTS,
                "quota-exceeded",
                "Namespace quota exceeded",
            ),
            ApiError::RateLimited { .. } => (
                S::TOO_MANY_REQUESTS,
                "rate-limited",
                "Namespace request rate exceeded",
            ),
            ApiError::Unauthenticated(_) => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "Missing or invalid API key",
            ),
            ApiError::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Not allowed for this key"),
            ApiError::ApiKeyNotFound(_) => (S::NOT_FOUND, "api-key-not-found", "No such API key"),
            ApiError::InvalidApiKeyRequest(_) => (
                S::BAD_REQUEST,
                "invalid-api-key-request",
                "Invalid API key request",
            ),
            ApiError::InvalidMember(_) => (S::BAD_REQUEST, "invalid-member", "Invalid member"),
            ApiError::MemberNotFound(_) => (S::NOT_FOUND, "member-not-found", "No such member"),
            ApiError::MemberExists(_) => (S::CONFLICT, "member-exists", "Member already exists"),
            ApiError::Backend(e) if e.certainly_not_applied() => {
                (S::SERVICE_UNAVAILABLE, NOT_APPLIED, "Not applied")
            }
            ApiError::Backend(_) => (
                S::SERVICE_UNAVAILABLE,
                "outcome-unknown",
                "Cluster unavailable; the request may have been applied",
            ),
            ApiError::Refused(_) => (S::SERVICE_UNAVAILABLE, NOT_APPLIED, "Not applied"),
            ApiError::NotReady => (S::SERVICE_UNAVAILABLE, "not-ready", "Node not ready"),
            ApiError::MintCollisions { .. } => (S::SERVICE_UNAVAILABLE, NOT_APPLIED, "Not applied"),
            ApiError::UnexpectedOutcome { .. } => {
                (S::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
        }
    }

    /// The problem+json this error is answered with.
    pub fn to_problem(&self) -> Problem {
        let (status, kind, title) = self.classify();
        let mut problem = Problem::new(status, kind, title, self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            problem.retry_after_secs = Some(RETRY_AFTER_UNAVAILABLE_SECS);
        }
        match self {
            ApiError::LostKey { token, why, .. } => {
                problem = problem
                    .with_extension("reason", lost_key_reason(why))
                    .with_extension("token", token.0);
                match why {
                    LostKey::Superseded { current } => {
                        problem = problem.with_extension("current_token", current.0)
                    }
                    LostKey::Completed { by } => {
                        problem = problem.with_extension("completed_by_token", by.0)
                    }
                    LostKey::Absent | LostKey::NotReserved => {}
                }
            }
            ApiError::ConflictingResponse { token, .. }
            | ApiError::ReleaseOfCommitting { token, .. } => {
                problem = problem.with_extension("token", token.0)
            }
            ApiError::BodyTooLarge { limit } | ApiError::StoredResponseTooLarge { limit, .. } => {
                problem = problem.with_extension("limit_bytes", *limit)
            }
            ApiError::NumberOutOfRange { field, .. } => {
                problem = problem.with_extension("field", field.name())
            }
            ApiError::RouteNotFound { path, .. } | ApiError::MethodNotAllowed { path, .. } => {
                problem.instance = Some(path.clone())
            }
            ApiError::Unauthenticated(why) => {
                problem = problem.with_extension("reason", not_authenticated_reason(why));
                problem.www_authenticate = true;
            }
            ApiError::OverQuota { over, .. } => {
                let limit = match over.limit {
                    QuotaLimit::Records => "max_records",
                    QuotaLimit::StoredBytes => "max_stored_bytes",
                };
                problem = problem
                    .with_extension("limit", limit)
                    .with_extension("max", over.max)
                    .with_extension("used", over.used);
                // Room comes back as records are released or purged (the
                // cleaner runs about every second).
                problem.retry_after_secs = Some(1);
            }
            ApiError::RateLimited {
                per_s,
                retry_after_secs,
                ..
            } => {
                problem = problem
                    .with_extension("limit", "max_requests_per_s")
                    .with_extension("max", *per_s);
                problem.retry_after_secs = Some(*retry_after_secs);
            }
            _ => {}
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::UnexpectedOutcome { operation, outcome } => {
                tracing::error!(
                    operation,
                    outcome,
                    "backend returned an outcome of the wrong kind"
                )
            }
            ApiError::Backend(error) => tracing::warn!(%error, "backend could not serve a request"),
            ApiError::Refused(refusal) => {
                tracing::warn!(?refusal, "state machine refused an entry")
            }
            _ => {}
        }
        self.to_problem().into_response()
    }
}
