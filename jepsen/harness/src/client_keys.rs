//! The API keys the harness talks to idem with, once made
//! ([`crate::api_keys::bootstrap`]): node 1's bootstrap admin key (for
//! cluster status) and a client key for the workload, the payments
//! workers and the proxies. Set once, read by every connection.

use std::sync::OnceLock;

pub struct ApiKeys {
    pub admin: String,
    pub client: String,
}

static KEYS: OnceLock<ApiKeys> = OnceLock::new();

/// The keys, once made.
pub fn keys() -> Option<&'static ApiKeys> {
    KEYS.get()
}

/// Records the keys (the first call wins).
pub fn set(keys: ApiKeys) {
    let _ = KEYS.set(keys);
}
