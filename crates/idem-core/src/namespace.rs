//! A namespace's settings: defaults for its keys, and its derive secret.

use serde::{Deserialize, Serialize};

use crate::durations::{LeaseDuration, RetainDuration};
use crate::error::InvalidInput;

/// The secret under which a namespace derives keys from payloads. It is drawn
/// at random by the node that proposes the namespace's creation and carried
/// in the command, so every replica stores the same one.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceSecret([u8; 32]);

impl NamespaceSecret {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        NamespaceSecret(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidInput> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| InvalidInput::SecretLength {
            got: bytes.len(),
            expected: Self::LEN,
        })?;
        Ok(NamespaceSecret(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for NamespaceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamespaceSecret(..)")
    }
}

/// The settings a namespace's keys follow when a request does not say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespacePolicy {
    pub default_lease: LeaseDuration,
    pub default_retain: RetainDuration,
    /// When set, only keys minted by the server (`POST /v1/ns/{ns}/keys`) may
    /// be reserved, so a client cannot invent colliding keys.
    pub require_minted_keys: bool,
}

impl Default for NamespacePolicy {
    /// The cluster defaults every namespace starts with.
    fn default() -> Self {
        NamespacePolicy {
            default_lease: LeaseDuration::DEFAULT,
            default_retain: RetainDuration::DEFAULT,
            require_minted_keys: false,
        }
    }
}

/// A namespace as stored: its policy and its derive secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceRecord {
    pub policy: NamespacePolicy,
    pub secret: NamespaceSecret,
}

/// A change to a namespace's policy; fields left `None` keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct PolicyChange {
    pub default_lease: Option<LeaseDuration>,
    pub default_retain: Option<RetainDuration>,
    pub require_minted_keys: Option<bool>,
}

impl PolicyChange {
    pub fn applied_to(&self, policy: &NamespacePolicy) -> NamespacePolicy {
        NamespacePolicy {
            default_lease: self.default_lease.unwrap_or(policy.default_lease),
            default_retain: self.default_retain.unwrap_or(policy.default_retain),
            require_minted_keys: self
                .require_minted_keys
                .unwrap_or(policy.require_minted_keys),
        }
    }
}
