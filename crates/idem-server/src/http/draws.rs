//! What the proposing node draws before it proposes: minted keys and new
//! namespace secrets. Drawn here, carried in the command, so that applying
//! stays deterministic on every replica.

use idem_core::{minted_key, IdemKey, NamespaceSecret};

/// A fresh secret for a namespace that may not exist yet (used only if it
/// does not). `thread_rng` is a cryptographically secure generator seeded
/// from the operating system.
pub fn namespace_secret() -> NamespaceSecret {
    NamespaceSecret::from_bytes(rand::random::<[u8; NamespaceSecret::LEN]>())
}

/// A new UUIDv7 key from this node's wall clock and 10 random bytes.
pub fn new_minted_key() -> IdemKey {
    minted_key(idem_cluster::system_wall_ms(), rand::random::<[u8; 10]>())
}
