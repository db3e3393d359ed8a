//! How long a lease lasts and how long a record is kept, within sane bounds.

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// How long a reservation is owned without a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct LeaseDuration(u64);

impl LeaseDuration {
    pub const MIN_MS: u64 = 100;
    pub const MAX_MS: u64 = 60 * 60 * 1000;
    pub const DEFAULT: LeaseDuration = LeaseDuration(30_000);

    pub fn from_ms(ms: u64) -> Result<Self, InvalidInput> {
        check("lease_ms", ms, Self::MIN_MS, Self::MAX_MS).map(LeaseDuration)
    }

    pub fn as_ms(self) -> u64 {
        self.0
    }
}

/// How long a finished (or abandoned, or minted and unused) record is kept
/// before the key is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct RetainDuration(u64);

impl RetainDuration {
    pub const MIN_MS: u64 = 1_000;
    pub const MAX_MS: u64 = 30 * 24 * 60 * 60 * 1000;
    pub const DEFAULT: RetainDuration = RetainDuration(24 * 60 * 60 * 1000);

    pub fn from_ms(ms: u64) -> Result<Self, InvalidInput> {
        check("retain_ms", ms, Self::MIN_MS, Self::MAX_MS).map(RetainDuration)
    }

    pub fn as_ms(self) -> u64 {
        self.0
    }
}

fn check(what: &'static str, got: u64, min: u64, max: u64) -> Result<u64, InvalidInput> {
    if (min..=max).contains(&got) {
        Ok(got)
    } else {
        Err(InvalidInput::DurationOutOfRange {
            what,
            got,
            min,
            max,
        })
    }
}

macro_rules! u64_conversions {
    ($t:ident) => {
        impl TryFrom<u64> for $t {
            type Error = InvalidInput;
            fn try_from(ms: u64) -> Result<Self, Self::Error> {
                $t::from_ms(ms)
            }
        }
        impl From<$t> for u64 {
            fn from(d: $t) -> u64 {
                d.0
            }
        }
    };
}
u64_conversions!(LeaseDuration);
u64_conversions!(RetainDuration);
