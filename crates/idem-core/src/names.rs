//! What a key is called: its namespace, its name, and the pair of both.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// A tenant or service that owns a set of keys: a short slug such as
/// `payments` or `orders-eu.v2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    pub const MAX_LEN: usize = 64;

    pub fn new(name: impl Into<String>) -> Result<Self, InvalidInput> {
        let name = name.into();
        let syntax = InvalidInput::NamespaceSyntax { max: Self::MAX_LEN };
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
        if !first_ok || !rest_ok || name.len() > Self::MAX_LEN {
            return Err(syntax);
        }
        Ok(Namespace(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Namespace {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Namespace::new(s)
    }
}

impl From<Namespace> for String {
    fn from(n: Namespace) -> String {
        n.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's name for one side effect, e.g. the `Idempotency-Key` header
/// value: 1 to 255 bytes of UTF-8 without control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdemKey(String);

impl IdemKey {
    pub const MAX_LEN: usize = 255;

    pub fn new(key: impl Into<String>) -> Result<Self, InvalidInput> {
        let key = key.into();
        if key.is_empty() || key.len() > Self::MAX_LEN {
            return Err(InvalidInput::KeyLength {
                len: key.len(),
                max: Self::MAX_LEN,
            });
        }
        if let Some(c) = key.chars().find(|c| c.is_control()) {
            return Err(InvalidInput::KeyControlCharacter { code: c as u32 });
        }
        Ok(IdemKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdemKey {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdemKey::new(s)
    }
}

impl From<IdemKey> for String {
    fn from(k: IdemKey) -> String {
        k.0
    }
}

impl fmt::Display for IdemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key together with its namespace: the identity of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyId {
    pub namespace: Namespace,
    pub key: IdemKey,
}

impl KeyId {
    pub fn new(namespace: Namespace, key: IdemKey) -> Self {
        KeyId { namespace, key }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.key)
    }
}
