//! Fencing tokens and log positions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many bits of a virtual log position number the command within its
/// entry: a log entry carries at most `2^BATCH_BITS` commands.
pub const BATCH_BITS: u32 = 8;

/// The most commands one log entry may carry.
pub const MAX_BATCH: usize = 1 << BATCH_BITS;

/// Where an entry sits in the replicated log: its index and the term of the
/// leader that created it. A command is applied at a *virtual* position:
/// the index of its log entry times `2^BATCH_BITS` plus its slot in the
/// entry (see [`crate::StampedBatch`]), so each command has a position of its
/// own and positions increase in log order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    pub term: u64,
    pub index: u64,
}

/// Proof of ownership of a key, handed out by reserve. It is the (virtual)
/// log position of the command that granted the key, derived from the Raft
/// log index of its entry (`index * 2^BATCH_BITS + slot`), so tokens
/// strictly increase across the whole cluster: a later grant (a takeover)
/// always carries a larger token, and a worker holding a smaller one has lost
/// the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub u64);

impl LogPosition {
    /// The virtual position of command `slot` of the entry at this (Raft)
    /// position. `slot` must be below `2^BATCH_BITS` ([`crate::MAX_BATCH`]).
    pub fn virtual_slot(self, slot: u64) -> LogPosition {
        debug_assert!(slot < MAX_BATCH as u64);
        LogPosition {
            term: self.term,
            index: (self.index << BATCH_BITS) | slot,
        }
    }
}

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
