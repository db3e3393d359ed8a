//! The three judgements every bug in this domain gets wrong: has a lease
//! ended, does a request match the key's fingerprint, does a token own the
//! key. Kept in one place so a test can plant a classic bug in each (with the
//! `planted-bugs` feature) and show that the property tests catch it.

use crate::fingerprint::Fingerprint;
use crate::time::{Deadline, Stamp};
use crate::token::FencingToken;

/// A classic idempotency-store bug, switched on for one test run.
#[cfg(feature = "planted-bugs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Leases and retention end by wall-clock (HLC) time alone, ignoring the
    /// monotonic bound: a fast or stepped clock ends them early.
    WallClockExpiry,
    /// Reserve ignores the fingerprint: a different request gets the key.
    SkipFingerprintCheck,
    /// Heartbeat, complete and release accept any token the key ever had.
    AcceptStaleToken,
}

/// The judgements apply uses. Without `planted-bugs` this is an empty struct
/// and every judgement is the correct one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    #[cfg(feature = "planted-bugs")]
    pub(crate) bug: Option<PlantedBug>,
}

impl Rules {
    pub(crate) fn has_passed(&self, deadline: &Deadline, now: &Stamp) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::WallClockExpiry) {
            return deadline.hlc_passed(now);
        }
        deadline.has_passed(now)
    }

    pub(crate) fn fingerprints_match(
        &self,
        request: Option<&Fingerprint>,
        record: Option<&Fingerprint>,
    ) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::SkipFingerprintCheck) {
            return true;
        }
        request == record
    }

    pub(crate) fn owns(&self, presented: FencingToken, owner: FencingToken) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::AcceptStaleToken) {
            return presented <= owner;
        }
        presented == owner
    }
}
