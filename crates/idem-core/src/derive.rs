//! Deterministic keys for clients that cannot persist one: the HMAC of the
//! request's canonical payload under the namespace's secret.
//!
//! The canonical form of a JSON value: object members sorted by key (byte
//! order of their UTF-8), no insignificant whitespace, strings escaped as
//! `serde_json` escapes them, numbers written as `serde_json` writes them
//! (so `1` and `1.0` are different payloads). Two payloads that differ only in
//! member order or whitespace derive the same key.

use std::fmt::Write as _;

use base64::Engine as _;
use hmac::Mac;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::InvalidInput;
use crate::keyed_hash::hmac_sha256;
use crate::names::IdemKey;
use crate::namespace::NamespaceSecret;

/// A JSON payload in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CanonicalPayload(String);

impl CanonicalPayload {
    pub const MAX_DEPTH: usize = 64;

    pub fn from_json(text: &str) -> Result<Self, InvalidInput> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| InvalidInput::DerivePayload(e.to_string()))?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self, InvalidInput> {
        let mut out = String::new();
        write_canonical(&mut out, value, 0)?;
        Ok(CanonicalPayload(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CanonicalPayload {
    type Error = InvalidInput;
    /// Accepts only text that is already canonical.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let canonical = CanonicalPayload::from_json(&text)?;
        if canonical.0 != text {
            return Err(InvalidInput::DerivePayload(
                "payload is not in canonical form".into(),
            ));
        }
        Ok(canonical)
    }
}

impl From<CanonicalPayload> for String {
    fn from(p: CanonicalPayload) -> String {
        p.0
    }
}

fn write_canonical(out: &mut String, value: &Value, depth: usize) -> Result<(), InvalidInput> {
    if depth > CanonicalPayload::MAX_DEPTH {
        return Err(InvalidInput::DerivePayloadTooDeep {
            max: CanonicalPayload::MAX_DEPTH,
        });
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_canonical(out, v, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Prefix that versions the derivation, so a future change of scheme cannot
/// collide with keys derived today.
const DERIVE_DOMAIN: &[u8] = b"idem-derive-v1\n";

/// The key derived from `payload` under `secret`: URL-safe base64 (no
/// padding) of HMAC-SHA256, 43 characters.
pub fn derive_key(secret: &NamespaceSecret, payload: &CanonicalPayload) -> IdemKey {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(DERIVE_DOMAIN);
    mac.update(payload.as_str().as_bytes());
    let digest = mac.finalize().into_bytes();
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    match IdemKey::new(text) {
        Ok(key) => key,
        Err(_) => unreachable!("43 base64url characters are a valid key"),
    }
}
