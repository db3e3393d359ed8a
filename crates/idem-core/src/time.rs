//! The time model: how the cluster decides that a lease or a retention window
//! has ended, without ever ending one early.
//!
//! # The promise
//!
//! A lease or a retention window never ends early, whatever any node's wall
//! clock says, as long as a majority of nodes is up. It may end late, by at
//! most one lease length after a leader change.
//!
//! # How it is kept
//!
//! Replicas never read a clock while applying the log. Every entry carries a
//! [`Stamp`] made by the leader when it proposed the entry, and expiry is
//! decided from stamps alone, so every replica decides the same way. A stamp
//! holds two clocks:
//!
//! * a hybrid logical clock timestamp ([`HlcTimestamp`]): wall-clock
//!   milliseconds merged with everything the cluster has seen, so it never
//!   goes backwards and follows real time while clocks are sane;
//! * the leader's term and its *monotonic* milliseconds since it became leader
//!   of that term ([`Stamp::term_elapsed_ms`]). A monotonic clock cannot be
//!   stepped by NTP or an operator.
//!
//! A [`Deadline`] has passed only when **both** bounds have passed:
//!
//! 1. the HLC bound: `now.hlc.wall_ms >= start.hlc.wall_ms + duration`;
//! 2. the monotonic bound: if `now` is in the same term as `start`,
//!    `now.term_elapsed_ms >= start.term_elapsed_ms + duration`; if `now` is in
//!    a later term, `now.term_elapsed_ms >= duration`, i.e. the duration is
//!    counted again from the start of the current term.
//!
//! # Why that is safe
//!
//! Let a lease start at stamp `s` (taken at real time `t_s`, after the
//! client's request arrived) with duration `d`, and let a takeover be decided
//! at stamp `n` (taken at real time `t_n`, before the reply is sent). We need
//! `t_n >= t_s + d`.
//!
//! * Same term: both stamps come from the same process's monotonic clock
//!   (only the leader of a term makes stamps for that term, and the state
//!   machine refuses an entry whose stamp term differs from its log term), so
//!   `n.term_elapsed_ms - s.term_elapsed_ms` is real elapsed time:
//!   `t_n - t_s >= d`.
//! * Later term: the entry stamped `s` was applied, so it was committed, so it
//!   was in the log of every later leader when that leader was elected (Raft's
//!   leader completeness). Stamping happens before an entry enters any log, so
//!   `t_s` is before the moment the current leader's term began, and counting
//!   `d` from the term's start counts from a later moment than `t_s`.
//!
//! The monotonic bound alone therefore keeps the promise; it does not depend
//! on any wall clock. A wall clock that is fast, slow, or stepped on every node
//! at once can only make the HLC bound pass early, and then the monotonic bound
//! still holds the lease. The HLC bound gives the deadline a meaning in wall
//! time (what clients see as `lease_expires_at_ms`), and because a fast
//! leader's stamps are refused by followers (the offset limiter in the cluster
//! layer) HLC time stays close to real time.
//!
//! The price is lateness: after a leader change a lease is counted again from
//! the new term's start, so it may run up to one full duration longer.
//!
//! Within one term, entries may be stamped in a different order than they are
//! appended. The state machine keeps an [`AppliedClock`]: the largest stamp it
//! has applied. An entry is judged at that clock, which is never earlier than
//! its own stamp and was read before the entry's reply, so the argument above
//! still holds.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hybrid logical clock reading: wall-clock milliseconds since the Unix
/// epoch, and a counter that orders events within the same millisecond.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct HlcTimestamp {
    pub wall_ms: u64,
    pub logical: u32,
}

impl HlcTimestamp {
    pub fn new(wall_ms: u64, logical: u32) -> Self {
        HlcTimestamp { wall_ms, logical }
    }
}

impl fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.wall_ms, self.logical)
    }
}

/// The time a leader attaches to an entry when it proposes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// The leader's hybrid logical clock.
    pub hlc: HlcTimestamp,
    /// The term in which the leader made this stamp.
    pub term: u64,
    /// Monotonic milliseconds since the leader became leader of `term`.
    pub term_elapsed_ms: u64,
}

impl Stamp {
    /// The earliest possible stamp: what a fresh state machine starts from.
    pub const ZERO: Stamp = Stamp {
        hlc: HlcTimestamp {
            wall_ms: 0,
            logical: 0,
        },
        term: 0,
        term_elapsed_ms: 0,
    };
}

/// An entry's stamp was made in an earlier term than time already applied:
/// it cannot be trusted to measure elapsed time, so the entry is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleStamp {
    pub stamp_term: u64,
    pub applied_term: u64,
}

/// The largest stamp the state machine has applied: the time at which it
/// judges the next entry. It never goes backwards, and it is part of the
/// replicated state (so a restarted node resumes from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppliedClock(pub Stamp);

impl Default for AppliedClock {
    fn default() -> Self {
        AppliedClock(Stamp::ZERO)
    }
}

impl AppliedClock {
    pub fn now(&self) -> Stamp {
        self.0
    }

    /// Moves the clock to cover `stamp` and returns the time to judge the
    /// entry at: the HLC is the larger of the two; the monotonic part is the
    /// larger of the two within a term, and the stamp's own in a newer term.
    pub fn advance(&self, stamp: &Stamp) -> Result<AppliedClock, StaleStamp> {
        let cur = self.0;
        if stamp.term < cur.term {
            return Err(StaleStamp {
                stamp_term: stamp.term,
                applied_term: cur.term,
            });
        }
        let term_elapsed_ms = if stamp.term == cur.term {
            stamp.term_elapsed_ms.max(cur.term_elapsed_ms)
        } else {
            stamp.term_elapsed_ms
        };
        Ok(AppliedClock(Stamp {
            hlc: stamp.hlc.max(cur.hlc),
            term: stamp.term,
            term_elapsed_ms,
        }))
    }
}

/// A moment that ends a lease or a retention window: a duration counted from
/// the stamp at which it was set. See the module docs for why it never passes
/// early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deadline {
    pub start: Stamp,
    pub duration_ms: u64,
}

impl Deadline {
    pub fn after(start: Stamp, duration_ms: u64) -> Self {
        Deadline { start, duration_ms }
    }

    /// The deadline in wall-clock terms, as shown to clients.
    pub fn wall_ms(&self) -> u64 {
        self.start.hlc.wall_ms.saturating_add(self.duration_ms)
    }

    /// Whether the HLC bound alone has passed.
    pub fn hlc_passed(&self, now: &Stamp) -> bool {
        now.hlc.wall_ms >= self.wall_ms()
    }

    /// Whether the monotonic bound alone has passed.
    pub fn monotonic_passed(&self, now: &Stamp) -> bool {
        self.monotonic_remaining_ms(now) == 0
    }

    /// Whether the deadline has passed: both bounds must have.
    pub fn has_passed(&self, now: &Stamp) -> bool {
        self.hlc_passed(now) && self.monotonic_passed(now)
    }

    /// How long until the deadline passes as seen from `now` (0 when it has):
    /// the longer of the two bounds' remaining times. A client told to retry
    /// after this long will not be early by the leader's clocks.
    pub fn remaining_ms(&self, now: &Stamp) -> u64 {
        let hlc = self.wall_ms().saturating_sub(now.hlc.wall_ms);
        hlc.max(self.monotonic_remaining_ms(now))
    }

    fn monotonic_remaining_ms(&self, now: &Stamp) -> u64 {
        if now.term == self.start.term {
            self.start
                .term_elapsed_ms
                .saturating_add(self.duration_ms)
                .saturating_sub(now.term_elapsed_ms)
        } else if now.term > self.start.term {
            self.duration_ms.saturating_sub(now.term_elapsed_ms)
        } else {
            // A stamp from an older term than the deadline itself cannot
            // measure anything: the deadline has not passed.
            self.duration_ms.max(1)
        }
    }
}
