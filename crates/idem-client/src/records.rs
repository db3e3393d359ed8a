//! What the read routes answer: a key's record, a namespace's policy, a
//! minted key, the cluster's status.

use std::time::Duration;

use idem_core::{FencingToken, StoredResponse};
use serde::Deserialize;

/// A key's record as `GET` shows it (the attempt id is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyRecord {
    Minted {
        minted_at_ms: u64,
        retain_remaining_ms: u64,
    },
    InProgress {
        token: FencingToken,
        fingerprint: Option<String>,
        lease_ms: u64,
        lease_remaining_ms: u64,
        lease_expired: bool,
        committing: bool,
        committing_tokens: Vec<FencingToken>,
    },
    Completed {
        token: FencingToken,
        fingerprint: Option<String>,
        retain_remaining_ms: u64,
        response: StoredResponse,
    },
    Released {
        token: FencingToken,
        fingerprint: Option<String>,
        retain_remaining_ms: u64,
        committing_tokens: Vec<FencingToken>,
    },
}

/// A stored completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub token: FencingToken,
    /// How long the response is kept from now.
    pub retained_for: Duration,
    /// The same completion had been stored before (a retry).
    pub replayed: bool,
}

/// A namespace's policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamespacePolicy {
    pub namespace: String,
    pub default_lease_ms: u64,
    pub default_retain_ms: u64,
    pub require_minted_keys: bool,
}

/// A key the server minted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MintedKey {
    pub key: String,
    pub retain_remaining_ms: u64,
}

/// One node's view of the cluster (`GET /v1/cluster`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClusterStatus {
    pub node_id: u64,
    pub state: String,
    pub leader: Option<u64>,
    pub term: u64,
    pub cluster_time_synced: bool,
    pub members: Vec<MemberStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub raft_addr: String,
    pub http_addr: String,
    pub voter: bool,
}
