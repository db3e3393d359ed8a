//! API keys and what each may do: the rules only. A key is shown to its
//! owner once, as `idem_<id>_<secret>` (a 16-hex-digit id, then 256 random
//! bits in 43 base64url characters); the cluster keeps only its id and a
//! keyed hash of it (HMAC-SHA-256 under the cluster's auth secret), so a
//! copy of the data directory does not reveal a usable key. Every key has a
//! role and the namespaces it may use; [`authenticate`] says whether a
//! presented key is one the cluster knows, unexpired and not revoked, and
//! [`authorize`] whether its role allows an action there.
//!
//! Nothing here draws randomness or reads a clock: the secret bytes arrive
//! from outside (the node that mints a key), and "now" is the time the
//! caller judges at (the applied stamp's cluster time, for a write).

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::InvalidInput;
use crate::keyed_hash::hmac_sha256;
use crate::names::Namespace;

/// Prefix of every presented key (so secret scanners can find leaked ones).
pub const KEY_PREFIX: &str = "idem_";

/// A key's public name: 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyId(String);

impl ApiKeyId {
    pub const LEN: usize = 16;

    pub fn new(id: impl Into<String>) -> Result<Self, InvalidInput> {
        let id = id.into();
        if id.len() != Self::LEN || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(InvalidInput::ApiKey);
        }
        Ok(ApiKeyId(id))
    }

    /// The id of eight random bytes.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        ApiKeyId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiKeyId {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ApiKeyId::new(s)
    }
}

impl From<ApiKeyId> for String {
    fn from(id: ApiKeyId) -> String {
        id.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key as a caller presents it (`Authorization: Bearer idem_<id>_<secret>`).
/// Its secret part never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    id: ApiKeyId,
    secret: [u8; 32],
}

impl PresentedKey {
    /// Characters of the secret part: 32 bytes in unpadded base64url.
    pub const SECRET_CHARS: usize = 43;

    /// The key made of `id` and 32 random bytes.
    pub fn new(id: ApiKeyId, secret: [u8; 32]) -> Self {
        PresentedKey { id, secret }
    }

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let rest = text.strip_prefix(KEY_PREFIX).ok_or(InvalidInput::ApiKey)?;
        let (id, secret) = rest.split_once('_').ok_or(InvalidInput::ApiKey)?;
        // The id is hex and the secret base64url; the latter may hold '_'
        // too, so split at the first one (the id has none).
        let id = ApiKeyId::new(id)?;
        if secret.len() != Self::SECRET_CHARS {
            return Err(InvalidInput::ApiKey);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| InvalidInput::ApiKey)?;
        let secret: [u8; 32] = bytes.try_into().map_err(|_| InvalidInput::ApiKey)?;
        Ok(PresentedKey { id, secret })
    }

    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    /// The text shown to the key's owner, once.
    pub fn reveal(&self) -> String {
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secret);
        format!("{KEY_PREFIX}{}_{secret}", self.id)
    }
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey({}, ..)", self.id)
    }
}

/// The cluster's secret for hashing API keys (drawn once, at bootstrap).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSecret([u8; 32]);

impl AuthSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        AuthSecret(bytes)
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(..)")
    }
}

/// What the cluster keeps of a key's secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyHash([u8; 32]);

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

fn mac(secret: &AuthSecret, key: &PresentedKey) -> Hmac<Sha256> {
    let mut m = hmac_sha256(&secret.0);
    m.update(b"idem api key v1\0");
    m.update(key.id.as_str().as_bytes());
    m.update(b"\0");
    m.update(&key.secret);
    m
}

/// The keyed hash stored for `key`.
pub fn key_hash(secret: &AuthSecret, key: &PresentedKey) -> KeyHash {
    KeyHash(mac(secret, key).finalize().into_bytes().into())
}

/// Whether `key` hashes to `hash`, compared in constant time.
pub fn key_matches(secret: &AuthSecret, key: &PresentedKey, hash: &KeyHash) -> bool {
    mac(secret, key).verify_slice(&hash.0).is_ok()
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reserve, heartbeat, complete, release, get, mint and derive in its
    /// namespaces, and read their settings.
    Client,
    /// `/metrics` and `/v1/cluster`.
    Monitor,
    /// Everything, in every namespace.
    Admin,
}

impl Role {
    /// As the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Monitor => "monitor",
            Role::Admin => "admin",
        }
    }
}

/// The namespaces a key may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceScope {
    All,
    Only(BTreeSet<Namespace>),
}

impl NamespaceScope {
    pub fn allows(&self, ns: &Namespace) -> bool {
        match self {
            NamespaceScope::All => true,
            NamespaceScope::Only(set) => set.contains(ns),
        }
    }
}

/// A key as the cluster knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub name: String,
    pub role: Role,
    pub scope: NamespaceScope,
    pub hash: KeyHash,
    /// Cluster time (ms since the epoch) from which it is refused.
    pub expires_at_ms: Option<u64>,
    pub revoked: bool,
}

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// A key operation (reserve, heartbeat, complete, release, get, mint,
    /// derive) in a namespace.
    UseKeys(&'a Namespace),
    /// Read a namespace's settings.
    ReadNamespace(&'a Namespace),
    /// Change a namespace's settings.
    ChangeNamespace(&'a Namespace),
    /// `/metrics`, `/v1/cluster`.
    Monitor,
    /// Create, list, rotate or revoke keys; change the membership.
    Administer,
}

/// Why a presented key is not accepted (answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum NotAuthenticated {
    #[error("no API key was presented")]
    Missing,
    #[error("the API key is not one this cluster knows")]
    Unknown,
    #[error("the API key has expired")]
    Expired,
    #[error("the API key was revoked")]
    Revoked,
}

/// Why a known key may not do what it asks (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    #[error("a {} key may not do this", role.name())]
    Role { role: Role },
    #[error("this key may not use namespace {namespace}")]
    Namespace { namespace: Namespace },
}

/// The record of `presented` if the cluster knows it under that id and
/// secret, and it is neither expired at `now_ms` nor revoked. An unknown
/// id and a wrong secret are the same answer.
pub fn authenticate<'r>(
    record: Option<&'r ApiKeyRecord>,
    secret: &AuthSecret,
    presented: &PresentedKey,
    now_ms: u64,
) -> Result<&'r ApiKeyRecord, NotAuthenticated> {
    let r = record
        .filter(|r| r.id == presented.id && key_matches(secret, presented, &r.hash))
        .ok_or(NotAuthenticated::Unknown)?;
    in_force(Some(r), now_ms)?;
    Ok(r)
}

/// Whether a key, known by its id alone (its secret was checked where the
/// request arrived), is in force at `now_ms`: known, not revoked, not
/// expired.
pub fn in_force(record: Option<&ApiKeyRecord>, now_ms: u64) -> Result<(), NotAuthenticated> {
    let r = record.ok_or(NotAuthenticated::Unknown)?;
    if r.revoked {
        return Err(NotAuthenticated::Revoked);
    }
    if r.expires_at_ms.is_some_and(|at| now_ms >= at) {
        return Err(NotAuthenticated::Expired);
    }
    Ok(())
}

/// Whether a known, valid key may do `action`.
pub fn authorize(record: &ApiKeyRecord, action: Action<'_>) -> Result<(), Forbidden> {
    let role = record.role;
    let in_scope = |ns: &Namespace| {
        if record.scope.allows(ns) {
            Ok(())
        } else {
            Err(Forbidden::Namespace {
                namespace: ns.clone(),
            })
        }
    };
    match (role, action) {
        (Role::Admin, _) => Ok(()),
        (Role::Client, Action::UseKeys(ns) | Action::ReadNamespace(ns)) => in_scope(ns),
        (Role::Monitor, Action::Monitor) => Ok(()),
        _ => Err(Forbidden::Role { role }),
    }
}
