//! Cluster time: the physical part of the stamps a leader makes, as a pure
//! function of the clock readings it is given (no I/O: the cluster layer
//! reads the clocks and feeds them in).
//!
//! # Why
//!
//! The HLC's physical part used to be the wall clock. When every wall clock
//! stepped ten minutes ahead for a few seconds and was corrected, the HLC
//! stayed ten minutes ahead (it never goes back) and moved at the pace of
//! real time, so for ten minutes every lease and retention window counted
//! by the HLC ran ten minutes late. Safety did not suffer (a takeover also
//! needs the monotonic bound, see [`crate::time`]); liveness did.
//!
//! # The rule
//!
//! Cluster time follows real elapsed time, measured by the local monotonic
//! clock from the moment of its last reading, and is steered toward the
//! wall clock by at most `steer_ppm` parts per million of the elapsed time:
//!
//! ```text
//! next = last + elapsed ± min(|wall − (last + elapsed)|, elapsed × steer)
//! ```
//!
//! So, between two readings `e` monotonic milliseconds apart (and no stamp
//! observed in between), cluster time advances by at least `e × (1 − steer)`
//! and at most `e × (1 + steer)` (give or take a millisecond of rounding),
//! whatever the wall clock does: a step of the wall clock, forwards or
//! backwards, by any amount, moves it by at most the steer's share of the
//! time that passes until the wall clock is right again. It never goes back.
//!
//! Two inputs may move it forward faster than that, never back:
//! - a stamp observed from another node ([`ClusterTime::observe`]): cluster
//!   time is never behind a stamp the node has seen (the HLC's rule), and
//!   that is how it is carried across leaders;
//! - a wall time a majority of nodes agrees on ([`ClusterTime::catch_up`]):
//!   after a full restart the stored high-water mark can be days behind, and
//!   steering alone would need weeks to close the gap.
//!
//! # What it bounds
//!
//! A deadline `d` milliseconds after a stamp made at cluster time `s` passes
//! by cluster time once cluster time reaches `s + d`. On one node with no
//! observed stamps in between that takes at most `d / (1 − steer)` of real
//! time, however the wall clocks step: the lateness added by the HLC bound
//! is at most `d × steer / (1 − steer)`. Nothing may judge expiry by cluster
//! time alone: running fast (toward a wall clock that is ahead, or after a
//! catch-up) ends the HLC bound early, and only the monotonic bound keeps a
//! lease from ending early.
//!
//! # What it tells a follower
//!
//! Because no node following these rules moves its cluster time faster
//! than `1 + steer` times real time except to a stamp it observed or a wall
//! time a majority agrees on, a node can bound every other node's cluster
//! time: [`ClusterTime::ceiling`] projects the highest point it has seen at
//! that pace. The cluster layer's offset limiter refuses stamps above it
//! (plus the agreed wall time, plus a tolerance).
//!
//! [`crate::HybridClock`] is the HLC built on it: the shell the cluster
//! layer keeps, with the rules for when to catch up.

use serde::{Deserialize, Serialize};

/// How fast cluster time may be steered toward the wall clock, in parts per
/// million of elapsed time; the default, 100,000, is a tenth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteerRate(u32);

impl SteerRate {
    /// A tenth: a wall clock off by a minute is reached in ten minutes, and
    /// a deadline counted by cluster time ends at most 11% late.
    pub const DEFAULT: SteerRate = SteerRate(100_000);

    /// `ppm` parts per million, at most half (so cluster time always moves
    /// forward at least half as fast as real time).
    pub fn from_ppm(ppm: u32) -> Option<SteerRate> {
        (ppm <= 500_000).then_some(SteerRate(ppm))
    }

    pub fn ppm(self) -> u32 {
        self.0
    }

    /// The steer's share of `elapsed_ms`, rounded down.
    fn of(self, elapsed_ms: u64) -> u64 {
        let share = u128::from(elapsed_ms) * u128::from(self.0) / 1_000_000;
        u64::try_from(share).unwrap_or(u64::MAX)
    }
}

impl Default for SteerRate {
    fn default() -> Self {
        SteerRate::DEFAULT
    }
}

/// One node's cluster time: where it stood at the last reading, and the
/// monotonic instant of that reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterTime {
    /// Cluster time at the anchor, in milliseconds since the Unix epoch.
    at_ms: u64,
    /// The local monotonic clock at the anchor, in milliseconds (any origin).
    mono_ms: u64,
    steer: SteerRate,
    /// The highest point seen (a start, an observed stamp, a catch-up) and
    /// the monotonic instant it was seen: what [`Self::ceiling`] projects.
    seen_ms: u64,
    seen_mono_ms: u64,
}

impl ClusterTime {
    /// Cluster time on a node starting now: the wall clock, but never below
    /// `floor_ms` (the persisted high-water mark of the stamps it applied,
    /// so that a restarted node never stamps backwards).
    pub fn start(mono_ms: u64, wall_ms: u64, floor_ms: u64, steer: SteerRate) -> ClusterTime {
        ClusterTime::resume(mono_ms, wall_ms.max(floor_ms), steer)
    }

    /// Cluster time on a node that does not trust its wall clock yet: the
    /// persisted high-water mark `floor_ms` (0 on a fresh node), until it
    /// observes a stamp or catches up to an agreed wall time.
    pub fn resume(mono_ms: u64, floor_ms: u64, steer: SteerRate) -> ClusterTime {
        ClusterTime {
            at_ms: floor_ms,
            mono_ms,
            steer,
            seen_ms: floor_ms,
            seen_mono_ms: mono_ms,
        }
    }

    pub fn steer(&self) -> SteerRate {
        self.steer
    }

    /// Cluster time now, the monotonic clock reading `mono_ms` and the wall
    /// clock `wall_ms`; it becomes the new anchor.
    pub fn read(&mut self, mono_ms: u64, wall_ms: u64) -> u64 {
        let next = self.peek(mono_ms, wall_ms);
        self.anchor(mono_ms, next);
        self.at_ms
    }

    /// Cluster time now, as [`Self::read`] would say, without moving the
    /// anchor.
    pub fn peek(&self, mono_ms: u64, wall_ms: u64) -> u64 {
        // A monotonic reading older than the anchor measures nothing.
        let elapsed = mono_ms.saturating_sub(self.mono_ms);
        let follow = self.at_ms.saturating_add(elapsed);
        let allowance = self.steer.of(elapsed);
        if wall_ms > follow {
            follow.saturating_add((wall_ms - follow).min(allowance))
        } else {
            follow - (follow - wall_ms).min(allowance)
        }
    }

    /// A stamp made at cluster time `stamp_ms` was seen at `mono_ms`: from
    /// now on cluster time is never behind it.
    pub fn observe(&mut self, mono_ms: u64, stamp_ms: u64, wall_ms: u64) {
        let now = self.peek(mono_ms, wall_ms);
        self.anchor(mono_ms, now.max(stamp_ms));
        if stamp_ms > self.ceiling(mono_ms) {
            self.seen_ms = stamp_ms;
            self.seen_mono_ms = self.seen_mono_ms.max(mono_ms);
        }
    }

    /// The highest cluster time any node following these rules can read at
    /// `mono_ms`, from what this node has seen: the highest point seen,
    /// moved on at `1 + steer` times real time (rounded up), unless a node
    /// caught up to an agreed wall time since (the caller allows for that).
    pub fn ceiling(&self, mono_ms: u64) -> u64 {
        let elapsed = mono_ms.saturating_sub(self.seen_mono_ms);
        self.seen_ms
            .saturating_add(elapsed)
            .saturating_add(self.steer.of(elapsed))
            .saturating_add(1)
    }

    /// A majority of nodes agree that the wall time is `agreed_wall_ms`
    /// (read at `mono_ms`): cluster time jumps forward to it if it is
    /// behind; it never goes back.
    pub fn catch_up(&mut self, mono_ms: u64, agreed_wall_ms: u64, wall_ms: u64) {
        self.observe(mono_ms, agreed_wall_ms, wall_ms);
    }

    /// Cluster time at the last reading.
    pub fn last_ms(&self) -> u64 {
        self.at_ms
    }

    fn anchor(&mut self, mono_ms: u64, at_ms: u64) {
        // Never back, in cluster time or in monotonic time.
        self.at_ms = self.at_ms.max(at_ms);
        self.mono_ms = self.mono_ms.max(mono_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;
    const MINUTE: u64 = 60_000;

    fn started() -> ClusterTime {
        ClusterTime::start(0, T0, 0, SteerRate::DEFAULT)
    }

    #[test]
    fn with_a_sane_wall_clock_it_is_the_wall_clock() {
        let mut t = started();
        for s in 1..=100 {
            assert_eq!(t.read(s * 1_000, T0 + s * 1_000), T0 + s * 1_000);
        }
    }

    #[test]
    fn a_step_ahead_is_followed_at_the_steer_rate_only() {
        let mut t = started();
        // The wall clock steps ten minutes ahead; one second later cluster
        // time is at most a tenth of a second ahead of real time.
        assert_eq!(t.read(1_000, T0 + 1_000 + 10 * MINUTE), T0 + 1_100);
        // Corrected after five seconds: cluster time is 0.5 s ahead, and
        // steered back at a tenth: 0.1 s per second.
        assert_eq!(t.read(5_000, T0 + 5_000 + 10 * MINUTE), T0 + 5_500);
        assert_eq!(t.read(6_000, T0 + 6_000), T0 + 6_400);
        assert_eq!(t.read(10_000, T0 + 10_000), T0 + 10_000);
        assert_eq!(t.read(11_000, T0 + 11_000), T0 + 11_000);
    }

    #[test]
    fn a_step_back_slows_it_but_never_turns_it_back() {
        let mut t = started();
        let a = t.read(1_000, T0 + 1_000 - 10 * MINUTE);
        assert_eq!(a, T0 + 900);
        let b = t.read(2_000, T0 + 2_000 - 10 * MINUTE);
        assert_eq!(b, T0 + 1_800);
        // A monotonic reading from before the anchor measures nothing.
        assert_eq!(t.read(1_500, T0), T0 + 1_800);
    }

    #[test]
    fn observed_stamps_and_an_agreed_wall_time_move_it_forward_only() {
        let mut t = ClusterTime::start(0, T0, T0 + 5 * MINUTE, SteerRate::DEFAULT);
        assert_eq!(t.last_ms(), T0 + 5 * MINUTE, "never below the floor");
        t.observe(1_000, T0, T0 + 1_000);
        assert_eq!(t.last_ms(), T0 + 5 * MINUTE + 1_000 - 100);
        t.observe(2_000, T0 + 20 * MINUTE, T0 + 2_000);
        assert_eq!(t.read(2_000, T0 + 2_000), T0 + 20 * MINUTE);
        // Days behind after a full restart: catching up to what a majority
        // agrees on is a jump, not weeks of steering.
        let mut restarted = ClusterTime::start(0, T0, T0 + 20 * MINUTE, SteerRate::DEFAULT);
        restarted.catch_up(10, T0 + 3 * 24 * 60 * MINUTE, T0 + 10);
        assert!(restarted.read(20, T0 + 20) >= T0 + 3 * 24 * 60 * MINUTE);
    }

    #[test]
    fn the_rate_is_bounded() {
        assert!(SteerRate::from_ppm(500_000).is_some());
        assert!(SteerRate::from_ppm(500_001).is_none());
    }
}
