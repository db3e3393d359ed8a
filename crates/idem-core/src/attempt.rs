//! Attempt ids: the client's secret for one logical request.
//!
//! A client draws an attempt id at random once per logical request and sends
//! it with every reserve it makes for that request. A reserve that finds the
//! key in progress under the same attempt (and fingerprint) is a *resume*:
//! the caller gets its own grant back instead of a 409 that would leave the
//! key stuck for a whole lease. Since holding the attempt id is what proves a
//! caller is that request, it is a secret: the log and the records hold only
//! its SHA-256 digest, and nothing shows even that.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api_key::ApiKeyId;
use crate::error::InvalidInput;

/// A client's attempt id as it arrived: checked to be able to carry at least
/// [`AttemptId::MIN_BITS`] random bits, and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AttemptId(String);

impl AttemptId {
    /// The least randomness an attempt id must have room for: 16 bytes.
    pub const MIN_BITS: usize = 128;
    pub const MAX_LEN: usize = 128;

    /// Accepts base64url (22 or more of `A-Z a-z 0-9 - _`, 6 bits each) or
    /// hex with optional hyphens, such as a UUID (32 or more hex digits, 4
    /// bits each), up to [`AttemptId::MAX_LEN`] characters.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidInput> {
        let value = value.into();
        let refused = || InvalidInput::AttemptId {
            min_bits: Self::MIN_BITS,
            max_len: Self::MAX_LEN,
        };
        if value.len() > Self::MAX_LEN
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(refused());
        }
        let hex_like = value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        let bits = if hex_like {
            4 * value.bytes().filter(u8::is_ascii_hexdigit).count()
        } else {
            6 * value.len()
        };
        if bits < Self::MIN_BITS {
            return Err(refused());
        }
        Ok(AttemptId(value))
    }

    /// What the log and the record keep of it.
    /// The digest of this attempt made with API key `key`: the same attempt
    /// id under another key is another attempt, so only the key that made
    /// a grant can resume it. Without a key, [`AttemptId::digest`].
    pub fn digest_for(&self, key: Option<&ApiKeyId>) -> AttemptDigest {
        let Some(key) = key else {
            return self.digest();
        };
        let mut h = Sha256::new();
        h.update(b"idem attempt v1 by key\0");
        h.update(key.as_str().as_bytes());
        h.update(b"\0");
        h.update(self.0.as_bytes());
        AttemptDigest(h.finalize().into())
    }

    pub fn digest(&self) -> AttemptDigest {
        let mut h = Sha256::new();
        h.update(b"idem attempt v1\0");
        h.update(self.0.as_bytes());
        AttemptDigest(h.finalize().into())
    }
}

impl fmt::Debug for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttemptId(..)")
    }
}

/// The SHA-256 of an attempt id: equal digests mean the same attempt.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttemptDigest(pub [u8; 32]);

impl fmt::Debug for AttemptDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttemptDigest(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_id_must_have_room_for_sixteen_random_bytes() {
        for good in [
            "3f2b8c1e-7a4d-4e2b-9c1a-0d5e6f7a8b9c",
            "3f2b8c1e7a4d4e2b9c1a0d5e6f7a8b9c",
            "Zm9vYmFyYmF6cXV4cXV1eA",
            "a_b-c_d-e_f-g_h-i_j-kl",
        ] {
            assert!(AttemptId::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "short",
            "Zm9vYmFyYmF6cXV4cXV1e",              // 21 base64url: 126 bits
            "3f2b8c1e-7a4d-4e2b-9c1a-0d5e6f7a8b", // 30 hex digits
            "0123456789abcdef0123",               // 20 hex digits only
            "has space in it, which is not allowed",
            "ünïcödé-ünïcödé-ünïcödé-ünïcödé",
            &"a".repeat(129),
        ] {
            assert!(AttemptId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn neither_the_id_nor_its_digest_is_ever_printed() {
        let id = AttemptId::new("Zm9vYmFyYmF6cXV4cXV1eA").unwrap();
        assert!(!format!("{id:?}").contains("Zm9v"));
        let d = format!("{:?}", id.digest());
        assert_eq!(d, "AttemptDigest(..)");
        assert_eq!(
            id.digest(),
            AttemptId::new("Zm9vYmFyYmF6cXV4cXV1eA").unwrap().digest()
        );
        assert_ne!(
            id.digest(),
            AttemptId::new("Zm9vYmFyYmF6cXV4cXV1eB").unwrap().digest()
        );
    }
}
