//! Commands: the only way the replicated state changes.
//!
//! A command is built at the edge from validated input, proposed to the
//! leader, stamped, replicated, and applied on every replica by
//! [`crate::apply`]. Anything random (a minted key, a new namespace secret) is
//! chosen before proposing and carried here, so applying stays deterministic.

use serde::{Deserialize, Serialize};

use crate::derive::CanonicalPayload;
use crate::durations::{LeaseDuration, RetainDuration};
use crate::fingerprint::Fingerprint;
use crate::names::{KeyId, Namespace};
use crate::namespace::{NamespaceSecret, PolicyChange};
use crate::response::StoredResponse;
use crate::time::Stamp;
use crate::token::{FencingToken, LogPosition};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Reserve(Reserve),
    Heartbeat(Heartbeat),
    Complete(Complete),
    Release(Release),
    Purge(Purge),
    Mint(Mint),
    Derive(Derive),
    SetPolicy(SetPolicy),
}

/// Claim a key before running its side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reserve {
    pub id: KeyId,
    pub fingerprint: Option<Fingerprint>,
    /// `None`: the namespace's default.
    pub lease: Option<LeaseDuration>,
    /// `None`: the namespace's default.
    pub retain: Option<RetainDuration>,
}

/// The owner extends its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub id: KeyId,
    pub token: FencingToken,
    /// `None`: the lease length the key was reserved with.
    pub lease: Option<LeaseDuration>,
}

/// The owner stores the side effect's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complete {
    pub id: KeyId,
    pub token: FencingToken,
    pub response: StoredResponse,
}

/// The owner gives the key up (a retryable failure): the key becomes free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub id: KeyId,
    pub token: FencingToken,
}

/// Delete records whose forget deadline has passed. Proposed by the leader
/// with candidates from its deadline index; each is checked again at apply
/// time, so a candidate that is not yet due is left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub ids: Vec<KeyId>,
}

/// Register a server-generated key (a UUIDv7 drawn by the proposing node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mint {
    pub id: KeyId,
    /// Used only if the namespace does not exist yet.
    pub secret_if_new: NamespaceSecret,
}

/// Compute the deterministic key for a payload under the namespace's secret,
/// creating the namespace (with `secret_if_new`) on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derive {
    pub namespace: Namespace,
    pub payload: CanonicalPayload,
    pub secret_if_new: NamespaceSecret,
}

/// Change a namespace's policy, creating it (with `secret_if_new`) on first
/// use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPolicy {
    pub namespace: Namespace,
    pub change: PolicyChange,
    pub secret_if_new: NamespaceSecret,
}

/// A command as it comes out of the log: where it sits and when the leader
/// stamped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub position: LogPosition,
    pub stamp: Stamp,
    pub command: Command,
}

impl Command {
    /// The token a command presents, for those that need one.
    pub fn token(&self) -> Option<FencingToken> {
        match self {
            Command::Heartbeat(c) => Some(c.token),
            Command::Complete(c) => Some(c.token),
            Command::Release(c) => Some(c.token),
            _ => None,
        }
    }

    /// The one key a command is about, for those about one key.
    pub fn key(&self) -> Option<&KeyId> {
        match self {
            Command::Reserve(c) => Some(&c.id),
            Command::Heartbeat(c) => Some(&c.id),
            Command::Complete(c) => Some(&c.id),
            Command::Release(c) => Some(&c.id),
            Command::Mint(c) => Some(&c.id),
            Command::Purge(_) | Command::Derive(_) | Command::SetPolicy(_) => None,
        }
    }
}

/// What the leader puts in the Raft log: a command and the stamp it was
/// given when proposed. The entry's log position is added by the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampedCommand {
    pub stamp: Stamp,
    pub command: Command,
}

impl StampedCommand {
    /// The entry to apply, once the log has placed it at `position`.
    pub fn at(self, position: LogPosition) -> Entry {
        Entry {
            position,
            stamp: self.stamp,
            command: self.command,
        }
    }
}
