//! Fencing tokens and log positions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an entry sits in the replicated log: its index and the term of the
/// leader that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    pub term: u64,
    pub index: u64,
}

/// Proof of ownership of a key, handed out by reserve. It is the log index of
/// the entry that granted the key, so tokens strictly increase across the
/// whole cluster: a later grant (a takeover) always carries a larger token,
/// and a worker holding a smaller one has lost the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub u64);

impl FencingToken {
    pub fn granted_at(position: LogPosition) -> Self {
        FencingToken(position.index)
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
