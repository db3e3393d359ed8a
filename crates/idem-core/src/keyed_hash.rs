//! HMAC-SHA-256 under a 32-byte secret: the one keyed hash idem-core uses
//! (deriving keys from payloads, hashing API keys).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A fresh HMAC-SHA-256 keyed by `secret`.
pub(crate) fn hmac_sha256(secret: &[u8; 32]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; 32 bytes always works.
        Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
    }
}
