//! The hybrid logical clock that stamps entries: cluster time (see
//! [`crate::cluster_time`]) as its physical part, a counter for events in
//! the same millisecond, and the rules for when a node trusts the time it
//! has and when it catches up to a wall time a majority agrees on. Pure: the
//! cluster layer reads the clocks and feeds the readings in.
//!
//! # Synced and not
//!
//! A node starts from the persisted high-water mark of the stamps it
//! applied, not from its own wall clock: one node restarted with a wrong
//! clock must not move the cluster's time. Until it has caught up once to
//! a wall time a majority of nodes agrees on ([`HybridClock::agree`]) it is
//! *unsynced*: it makes no stamps (the caller refuses writes, which the
//! client may retry) and judges no peer's stamps. The first agreement moves
//! it forward at once (after a full restart the floor may be days old).
//!
//! Once synced, it catches up again only when the agreed wall time has
//! stayed ahead of its cluster time by more than a tolerance for a while
//! ([`CatchUpRule::sustain_ms`]): every clock stepping ahead for a few
//! seconds and being corrected moves cluster time by the steer's share of
//! those seconds only, not by the step.

use crate::cluster_time::{ClusterTime, SteerRate};
use crate::time::HlcTimestamp;

/// When a synced node catches up to the agreed wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUpRule {
    /// An agreed wall time at most this far ahead is left to steering.
    pub tolerance_ms: u64,
    /// How long the agreed wall time must have stayed further ahead.
    pub sustain_ms: u64,
}

impl Default for CatchUpRule {
    fn default() -> Self {
        CatchUpRule {
            tolerance_ms: 500,
            sustain_ms: 30_000,
        }
    }
}

/// What an agreement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Cluster time was left as it is (steering closes any gap).
    Kept,
    /// The first agreement since the start: cluster time moved forward by
    /// this many ms from the floor it started at (0 if it was ahead).
    Synced { by_ms: u64 },
    /// Cluster time jumped forward by this many ms.
    CaughtUp { by_ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    Unsynced,
    /// Synced; since when (monotonic ms) the agreed wall time has been
    /// further ahead than the tolerance, if it is.
    Synced {
        behind_since: Option<u64>,
    },
}

/// One node's hybrid logical clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridClock {
    time: ClusterTime,
    last: HlcTimestamp,
    sync: Sync,
}

impl HybridClock {
    /// A node starting at monotonic `mono_ms`, never stamping at or below
    /// `floor` (what it has applied). Unsynced.
    pub fn start(mono_ms: u64, floor: HlcTimestamp, steer: SteerRate) -> HybridClock {
        HybridClock {
            time: ClusterTime::resume(mono_ms, floor.wall_ms, steer),
            last: floor,
            sync: Sync::Unsynced,
        }
    }

    /// Whether the node has agreed on the time with a majority since it
    /// started.
    pub fn is_synced(&self) -> bool {
        matches!(self.sync, Sync::Synced { .. })
    }

    /// A new timestamp, later than every one this clock made or observed.
    pub fn now(&mut self, mono_ms: u64, wall_ms: u64) -> HlcTimestamp {
        let physical = self.time.read(mono_ms, wall_ms);
        self.last = if physical > self.last.wall_ms {
            HlcTimestamp::new(physical, 0)
        } else if let Some(logical) = self.last.logical.checked_add(1) {
            HlcTimestamp::new(self.last.wall_ms, logical)
        } else {
            // 4 billion events in one millisecond: move to the next.
            HlcTimestamp::new(self.last.wall_ms.saturating_add(1), 0)
        };
        self.last
    }

    /// Cluster time now, without making a timestamp.
    pub fn cluster_ms(&self, mono_ms: u64, wall_ms: u64) -> u64 {
        self.time.peek(mono_ms, wall_ms).max(self.last.wall_ms)
    }

    /// Merges a stamp seen from another node: later timestamps of this
    /// clock come after it.
    pub fn observe(&mut self, mono_ms: u64, stamp: HlcTimestamp, wall_ms: u64) {
        self.time.observe(mono_ms, stamp.wall_ms, wall_ms);
        self.last = self.last.max(stamp);
    }

    /// The highest cluster time a node following the rules can stamp at
    /// `mono_ms` by what this node has seen; `None` while unsynced (it has
    /// seen too little to judge).
    pub fn ceiling_ms(&self, mono_ms: u64) -> Option<u64> {
        self.is_synced().then(|| self.time.ceiling(mono_ms))
    }

    /// A majority of nodes agree that the wall time is at least
    /// `agreed_wall_ms`: the first agreement syncs the clock (jumping
    /// forward if it is behind); later ones jump forward only when the
    /// agreed time has been ahead by more than the tolerance for the
    /// sustain time. It never goes back.
    pub fn agree(
        &mut self,
        mono_ms: u64,
        agreed_wall_ms: u64,
        wall_ms: u64,
        rule: CatchUpRule,
    ) -> Agreement {
        let now = self.cluster_ms(mono_ms, wall_ms);
        let catch_up = match self.sync {
            Sync::Unsynced => true,
            Sync::Synced { behind_since } => {
                if agreed_wall_ms <= now.saturating_add(rule.tolerance_ms) {
                    self.sync = Sync::Synced { behind_since: None };
                    false
                } else {
                    let since = behind_since.unwrap_or(mono_ms);
                    self.sync = Sync::Synced {
                        behind_since: Some(since),
                    };
                    mono_ms.saturating_sub(since) >= rule.sustain_ms
                }
            }
        };
        if !catch_up {
            return Agreement::Kept;
        }
        let first = !self.is_synced();
        self.sync = Sync::Synced { behind_since: None };
        self.time.catch_up(mono_ms, agreed_wall_ms, wall_ms);
        let by_ms = agreed_wall_ms.saturating_sub(now);
        match (first, by_ms) {
            (true, by_ms) => Agreement::Synced { by_ms },
            (false, 0) => Agreement::Kept,
            (false, by_ms) => Agreement::CaughtUp { by_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;
    const MINUTE: u64 = 60_000;

    fn synced() -> HybridClock {
        let mut c = HybridClock::start(0, HlcTimestamp::default(), SteerRate::DEFAULT);
        c.agree(0, T0, T0, CatchUpRule::default());
        c
    }

    #[test]
    fn it_starts_unsynced_at_its_floor_and_syncs_at_the_first_agreement() {
        let floor = HlcTimestamp::new(T0 - 3 * 24 * 60 * MINUTE, 4);
        let mut c = HybridClock::start(0, floor, SteerRate::DEFAULT);
        assert!(!c.is_synced());
        assert_eq!(c.ceiling_ms(0), None);
        assert!(c.now(0, T0) > floor, "never at or below the floor");
        assert_eq!(
            c.agree(10, T0 + 10, T0 + 10, CatchUpRule::default()),
            // 10 ms after the start, steered 1 ms toward the wall already.
            Agreement::Synced {
                by_ms: 3 * 24 * 60 * MINUTE - 1
            }
        );
        assert!(c.is_synced());
        assert_eq!(c.now(10, T0 + 10), HlcTimestamp::new(T0 + 10, 0));
    }

    #[test]
    fn timestamps_strictly_increase_and_follow_observed_stamps() {
        let mut c = synced();
        let a = c.now(0, T0);
        let b = c.now(0, T0);
        assert!(b > a);
        c.observe(1, HlcTimestamp::new(T0 + MINUTE, 3), T0 + 1);
        assert_eq!(c.now(1, T0 + 1), HlcTimestamp::new(T0 + MINUTE, 4));
        // Its wall clock is a minute behind the observed stamp: steered
        // back by a tenth of the second that passed.
        assert_eq!(
            c.now(1_001, T0 + 1_001),
            HlcTimestamp::new(T0 + MINUTE + 900, 0)
        );
    }

    #[test]
    fn a_brief_step_of_every_clock_is_not_caught_up_to() {
        let rule = CatchUpRule::default();
        let mut c = synced();
        // Every wall clock ten minutes ahead for five seconds.
        for s in 1..=5 {
            let wall = T0 + s * 1_000 + 10 * MINUTE;
            assert_eq!(c.agree(s * 1_000, wall, wall, rule), Agreement::Kept);
        }
        let after = c.now(5_000, T0 + 5_000 + 10 * MINUTE);
        assert_eq!(after.wall_ms, T0 + 5_500, "steered by a tenth only");
        // Held for longer than the sustain time, it is caught up to.
        let mut caught = None;
        for s in 6..=60 {
            let wall = T0 + s * 1_000 + 10 * MINUTE;
            if let Agreement::CaughtUp { by_ms } = c.agree(s * 1_000, wall, wall, rule) {
                caught = Some((s, by_ms));
                break;
            }
        }
        let (s, by_ms) = caught.expect("caught up");
        assert_eq!(
            s, 31,
            "after the sustain time from the first agreement ahead"
        );
        assert!(by_ms > 9 * MINUTE);
    }

    #[test]
    fn the_ceiling_bounds_a_node_that_follows_the_rules() {
        let mut leader = synced();
        let mut follower = synced();
        // The leader's wall clock runs an hour ahead; the follower's is right.
        let mut mono = 0;
        for _ in 0..100 {
            mono += 997;
            let stamp = leader.now(mono, T0 + mono + 60 * MINUTE);
            let ceiling = follower.ceiling_ms(mono).expect("synced");
            assert!(stamp.wall_ms <= ceiling, "{stamp} above {ceiling}");
            // Idle for a while in between, then seen.
            if mono % 3 == 0 {
                follower.observe(mono, stamp, T0 + mono);
            }
        }
    }
}
