//! The client's digest of a request's payload, bound to a key at reserve.

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// An opaque digest of the request a key stands for (for example the hex
/// SHA-256 of the body). A retry must carry the same fingerprint as the
/// request that reserved the key; a different one means the client reused a
/// key for a different request, which is refused (422).
///
/// A request without a fingerprint matches only a record without one: the
/// check is never silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

impl Fingerprint {
    pub const MAX_LEN: usize = 512;

    pub fn new(value: impl Into<String>) -> Result<Self, InvalidInput> {
        let value = value.into();
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(InvalidInput::FingerprintLength {
                len: value.len(),
                max: Self::MAX_LEN,
            });
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(InvalidInput::FingerprintControlCharacter);
        }
        Ok(Fingerprint(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Fingerprint::new(s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.0
    }
}
