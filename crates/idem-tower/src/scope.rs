//! The idem key a request is stored under: the client's key, scoped by the
//! caller's identity when one is configured, so that two callers' identical
//! keys never meet. The composition is unambiguous (the identity's length
//! comes first), and one longer than idem's key limit is replaced by its
//! SHA-256 under a prefix no composed key can start with.

use sha2::{Digest, Sha256};

use crate::key_header::RequestKey;

/// idem's limit on a key, in bytes.
pub const IDEM_KEY_MAX: usize = 255;

/// The key in idem's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedKey(String);

impl ScopedKey {
    /// `k:<key>` without an identity, `i<len>:<identity>/<key>` with one
    /// (`len` in bytes); `h:<hex sha-256 of that>` when it would exceed
    /// idem's limit.
    pub fn new(identity: Option<&str>, key: &RequestKey) -> ScopedKey {
        let composed = match identity {
            None => format!("k:{}", key.as_str()),
            Some(id) => format!("i{}:{id}/{}", id.len(), key.as_str()),
        };
        if composed.len() <= IDEM_KEY_MAX && !composed.chars().any(char::is_control) {
            return ScopedKey(composed);
        }
        let digest = Sha256::digest(composed.as_bytes());
        ScopedKey(format!("h:{}", hex(&digest)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> RequestKey {
        RequestKey::parse(k.as_bytes()).expect("key")
    }

    #[test]
    fn identities_keep_keys_apart_without_ambiguity() {
        assert_eq!(ScopedKey::new(None, &key("o-1")).as_str(), "k:o-1");
        assert_eq!(
            ScopedKey::new(Some("acct"), &key("o-1")).as_str(),
            "i4:acct/o-1"
        );
        // "a/b" + "c" and "a" + "b/c" differ.
        assert_ne!(
            ScopedKey::new(Some("a/b"), &key("c")),
            ScopedKey::new(Some("a"), &key("b/c"))
        );
        assert_ne!(
            ScopedKey::new(Some("x"), &key("o")),
            ScopedKey::new(None, &key("o"))
        );
    }

    #[test]
    fn a_long_key_is_hashed_into_idems_limit() {
        let long = "x".repeat(400);
        let s = ScopedKey::new(Some("acct"), &key(&long));
        assert!(
            s.as_str().starts_with("h:") && s.as_str().len() == 66,
            "{s:?}"
        );
        assert_ne!(s, ScopedKey::new(Some("other"), &key(&long)));
        assert_eq!(s, ScopedKey::new(Some("acct"), &key(&long)));
        let fits = "y".repeat(IDEM_KEY_MAX - 2);
        assert_eq!(
            ScopedKey::new(None, &key(&fits)).as_str().len(),
            IDEM_KEY_MAX
        );
    }

    #[test]
    fn an_identity_with_control_characters_is_hashed() {
        let s = ScopedKey::new(Some("a\u{7}b"), &key("k"));
        assert!(s.as_str().starts_with("h:"));
    }
}
