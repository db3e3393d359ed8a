//! The JSON bodies of requests and replies, exactly as they are on the wire.
//!
//! Request bodies refuse unknown fields. Their values are checked against
//! the domain's rules in [`crate::http::commands`], not here, so that each
//! broken rule gets its own message.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use idem_core::{FencingToken, NamespacePolicy, StoredResponse};
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

/// A request body: always a JSON object. (A derived `Deserialize` would also
/// take the struct's fields from an array, positionally.)
#[derive(Debug, Clone)]
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object_only(deserializer).map(JsonObject)
    }
}

/// Deserializes `T` from a JSON object only, refusing arrays.
fn object_only<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

/// A JSON number kept as sent (negative, fractional or huge), so that its
/// range rule can say what it got.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct JsonNumber(pub Number);

impl JsonNumber {
    /// The value if it is a whole number from 0 to `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.as_u64()
    }
}

impl fmt::Display for JsonNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// ---- requests ----

/// `POST /v1/cluster/members`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with fields id, raft_addr and optional http_addr"
)]
pub struct AddMemberRequest {
    pub id: u64,
    pub raft_addr: String,
    #[serde(default)]
    pub http_addr: String,
}

/// `POST /v1/ns/{ns}/keys/{key}/reserve`; an empty body is `{}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with optional fields fingerprint, lease_ms, retain_ms, attempt, wait_ms"
)]
pub struct ReserveRequest {
    pub fingerprint: Option<String>,
    pub lease_ms: Option<JsonNumber>,
    pub retain_ms: Option<JsonNumber>,
    /// The caller's secret attempt id (resumes its own grant).
    pub attempt: Option<String>,
    /// How long to hold the request while another attempt has the key in
    /// progress.
    pub wait_ms: Option<JsonNumber>,
}

/// `POST /v1/ns/{ns}/keys/{key}/heartbeat`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with fields token and optional lease_ms, committing"
)]
pub struct HeartbeatRequest {
    pub token: JsonNumber,
    pub lease_ms: Option<JsonNumber>,
    /// Mark the reservation committing (the side effect is about to run).
    #[serde(default)]
    pub committing: bool,
}

/// `POST /v1/ns/{ns}/keys/{key}/complete`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with fields token and response"
)]
pub struct CompleteRequest {
    pub token: JsonNumber,
    #[serde(deserialize_with = "object_only")]
    pub response: ResponseToStore,
}

/// The response a completion stores, before its rules are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with fields status, optional headers and optional body"
)]
pub struct ResponseToStore {
    pub status: JsonNumber,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

/// `POST /v1/ns/{ns}/keys/{key}/release`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with field token and optional not_committed"
)]
pub struct ReleaseRequest {
    pub token: JsonNumber,
    /// The owner asserts it did not run the side effect (required to
    /// release a reservation it marked committing).
    #[serde(default)]
    pub not_committed: bool,
}

/// `PUT /v1/ns/{ns}`; fields left out keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with optional fields default_lease_ms, default_retain_ms, require_minted_keys"
)]
pub struct PolicyRequest {
    pub default_lease_ms: Option<JsonNumber>,
    pub default_retain_ms: Option<JsonNumber>,
    pub require_minted_keys: Option<bool>,
}

/// `PUT /v1/ns/{ns}/quota`: the whole quota; a field left out or `null`
/// is unlimited.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with optional fields max_records, max_stored_bytes, max_requests_per_s"
)]
pub struct QuotaRequest {
    pub max_records: Option<JsonNumber>,
    pub max_stored_bytes: Option<JsonNumber>,
    pub max_requests_per_s: Option<JsonNumber>,
}

/// `POST /v1/ns/{ns}/keys` (mint): no fields; an empty body is `{}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an empty JSON object")]
pub struct MintRequest {}

/// `POST /v1/ns/{ns}/derive`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object with field payload")]
pub struct DeriveRequest {
    /// Any JSON value; `null` is a payload like any other.
    pub payload: Value,
}

// ---- replies ----

/// The reply to reserve, by outcome (`"outcome"` names it).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReserveReply {
    /// 201: the caller owns the key.
    Reserved {
        token: FencingToken,
        lease_expires_at_ms: u64,
        lease_remaining_ms: u64,
        takeover: bool,
        /// The caller's attempt resumed its own grant.
        resumed: bool,
        /// Earlier owners marked the key committing: reconcile, do not repeat.
        previous_committing: bool,
        previous_committing_tokens: Vec<FencingToken>,
    },
    /// 200: the side effect already ran; replay this response.
    Completed {
        response: StoredResponse,
        token: FencingToken,
    },
    /// 409: another worker owns the key under a live lease.
    InProgress { retry_after_ms: u64 },
}

/// 200 to heartbeat.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename = "extended")]
pub struct HeartbeatReply {
    pub token: FencingToken,
    pub lease_expires_at_ms: u64,
    pub lease_remaining_ms: u64,
    pub committing: bool,
}

/// 200 to complete. `replayed` is true when the same completion was already
/// stored.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename = "completed")]
pub struct CompleteReply {
    pub token: FencingToken,
    pub retain_until_ms: u64,
    pub retain_remaining_ms: u64,
    pub replayed: bool,
}

/// 200 to release.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename = "released")]
pub struct ReleaseReply {
    pub token: FencingToken,
}

/// A namespace's policy (`GET`/`PUT /v1/ns/{ns}`).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReply {
    pub namespace: String,
    pub default_lease_ms: u64,
    pub default_retain_ms: u64,
    pub require_minted_keys: bool,
}

impl PolicyReply {
    pub fn new(namespace: &idem_core::Namespace, policy: &NamespacePolicy) -> Self {
        PolicyReply {
            namespace: namespace.as_str().to_owned(),
            default_lease_ms: policy.default_lease.as_ms(),
            default_retain_ms: policy.default_retain.as_ms(),
            require_minted_keys: policy.require_minted_keys,
        }
    }
}

/// A namespace's quota (`null`: unlimited) and, on `GET`, what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct QuotaReply {
    pub namespace: String,
    pub max_records: Option<u64>,
    pub max_stored_bytes: Option<u64>,
    pub max_requests_per_s: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageReply>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageReply {
    pub records: u64,
    pub stored_bytes: u64,
}

impl QuotaReply {
    pub fn new(
        namespace: &idem_core::Namespace,
        quota: &idem_core::NamespaceQuota,
        usage: Option<idem_core::NamespaceUsage>,
    ) -> Self {
        QuotaReply {
            namespace: namespace.as_str().to_owned(),
            max_records: quota.max_records,
            max_stored_bytes: quota.max_stored_bytes,
            max_requests_per_s: quota.max_requests_per_s,
            usage: usage.map(|u| UsageReply {
                records: u.records,
                stored_bytes: u.stored_bytes,
            }),
        }
    }
}

/// 201 to mint: the new key and when it is forgotten if never reserved.
#[derive(Debug, Clone, Serialize)]
pub struct MintReply {
    pub key: String,
    pub expires_at_ms: u64,
    pub retain_remaining_ms: u64,
}

/// 200 to derive.
#[derive(Debug, Clone, Serialize)]
pub struct DeriveReply {
    pub key: String,
}

/// `GET /health` and a ready `GET /ready`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReply {
    pub status: &'static str,
}
