//! The node's clocks: the hybrid logical clock that stamps entries (with the
//! limit that refuses new stamps too far ahead of this node's own clock),
//! the monotonic start of the current leadership term, and the
//! measured wall-clock offsets of peers.
//!
//! See `idem_core::time` for why a stamp carries both an HLC reading and the
//! leader's monotonic milliseconds since its term began.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hybrid_clocks::{Clock, ClockSource};
use idem_core::{AppliedClock, HlcTimestamp, Stamp};
use tokio::time::Instant;

use crate::time_source::TimeSource;
use crate::types::NodeId;

/// The node's wall clock in milliseconds since the Unix epoch, as the HLC's
/// physical source.
#[derive(Clone)]
struct WallMillis(Arc<dyn TimeSource>);

impl ClockSource for WallMillis {
    type Time = u64;
    type Delta = u64;
    fn now(&mut self) -> hybrid_clocks::Result<u64> {
        Ok(self.0.wall_ms())
    }
}

/// Where this node stands as leader: the term and the monotonic instant it
/// learned it had become leader (a little after the true moment, which only
/// makes leases last longer, never shorter).
#[derive(Debug, Clone, Copy)]
struct Leadership {
    term: u64,
    since: Instant,
}

/// A peer whose stamps ran too far ahead of this node's clock.
#[derive(Debug, Clone, Copy)]
struct Suspect {
    term: u64,
    until: Instant,
}

/// A new stamp was too far ahead of this node's clock.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("stamp {stamp} is more than {max_offset_ms} ms ahead of this node's clock")]
pub struct ClockAhead {
    pub stamp: HlcTimestamp,
    pub max_offset_ms: u64,
}

pub struct ClusterClock {
    time: Arc<dyn TimeSource>,
    hlc: Mutex<Clock<WallMillis>>,
    max_offset_ms: u64,
    leadership: Mutex<Option<Leadership>>,
    suspects: Mutex<HashMap<NodeId, Suspect>>,
    offsets: Mutex<BTreeMap<NodeId, i64>>,
}

/// How long a node whose clock ran ahead is refused (its entries and its
/// candidacy), so that a node with a sane clock becomes leader.
const SUSPECT_FOR: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The HLC's reading: the later of the wall clock and the last stamp seen.
fn read(hlc: &mut Clock<WallMillis>) -> HlcTimestamp {
    match hlc.now() {
        Ok(t) => t.into(),
        Err(_) => unreachable!("the wall-clock source does not fail"),
    }
}

impl ClusterClock {
    /// A clock that never reads earlier than `applied` (the replicated
    /// high-water mark), so a restarted node never stamps backwards.
    pub fn new(time: Arc<dyn TimeSource>, max_offset_ms: u64, applied: AppliedClock) -> Self {
        // A WallMillis source cannot fail.
        let mut hlc = match Clock::new(WallMillis(time.clone())) {
            Ok(c) => c,
            Err(_) => unreachable!("the wall-clock source does not fail"),
        };
        hlc.observe(&applied.now().hlc.into());
        ClusterClock {
            time,
            hlc: Mutex::new(hlc),
            max_offset_ms,
            leadership: Mutex::new(None),
            suspects: Mutex::new(HashMap::new()),
            offsets: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn max_offset_ms(&self) -> u64 {
        self.max_offset_ms
    }

    /// This node's wall clock (not the HLC), for clock probes.
    pub fn wall_ms(&self) -> u64 {
        self.time.wall_ms()
    }

    /// Merges a stamp of a new (not yet committed) entry from the leader,
    /// or refuses it if it is more than the limit ahead of this node's own
    /// reading: its HLC, which is never behind its wall clock nor behind any
    /// stamp it has merged. A leader whose wall clock runs ahead is refused;
    /// a leader that only carries on from a stamp the cluster already holds
    /// is not, even while that stamp is ahead of this node's wall clock (as
    /// after every node's clock stepped forward and then back), or the
    /// cluster would stall until true time caught up.
    pub fn observe(&self, stamp: HlcTimestamp) -> Result<(), ClockAhead> {
        let mut hlc = lock(&self.hlc);
        let own = read(&mut hlc);
        if stamp.wall_ms > own.wall_ms.saturating_add(self.max_offset_ms) {
            return Err(ClockAhead {
                stamp,
                max_offset_ms: self.max_offset_ms,
            });
        }
        hlc.observe(&stamp.into());
        Ok(())
    }

    /// Merges the stamp of an entry the leader says is committed: the
    /// cluster has decided it, so refusing it would only stall this node.
    pub fn observe_committed(&self, stamp: HlcTimestamp) {
        lock(&self.hlc).observe(&stamp.into());
    }

    pub fn now_hlc(&self) -> HlcTimestamp {
        read(&mut lock(&self.hlc))
    }

    /// Records that this node is leader of `term` (from now), or is not.
    pub fn set_leadership(&self, term: Option<u64>) {
        let mut l = lock(&self.leadership);
        match (term, *l) {
            (Some(t), Some(cur)) if cur.term == t => {}
            (Some(t), _) => {
                *l = Some(Leadership {
                    term: t,
                    since: self.time.monotonic(),
                })
            }
            (None, _) => *l = None,
        }
    }

    /// A stamp for a new entry, if this node is leader.
    pub fn stamp(&self) -> Option<Stamp> {
        let l = (*lock(&self.leadership))?;
        let hlc = self.now_hlc();
        Some(Stamp {
            hlc,
            term: l.term,
            term_elapsed_ms: u64::try_from(
                self.time
                    .monotonic()
                    .saturating_duration_since(l.since)
                    .as_millis(),
            )
            .unwrap_or(u64::MAX),
        })
    }

    /// The time at which the leader judges a read: a fresh stamp, never
    /// earlier than what has been applied.
    pub fn read_stamp(&self, applied: AppliedClock) -> Option<Stamp> {
        let stamp = self.stamp()?;
        Some(
            applied
                .advance(&stamp)
                .map(|c| c.now())
                .unwrap_or(applied.now()),
        )
    }

    /// Marks `node` as having stamped too far ahead while leader of `term`.
    pub fn suspect(&self, node: NodeId, term: u64) {
        lock(&self.suspects).insert(
            node,
            Suspect {
                term,
                until: self.time.monotonic() + SUSPECT_FOR,
            },
        );
    }

    /// Whether entries from `node` as leader of `term` are refused.
    pub fn is_suspect_leader(&self, node: NodeId, term: u64) -> bool {
        lock(&self.suspects)
            .get(&node)
            .is_some_and(|s| s.term == term && self.time.monotonic() < s.until)
    }

    /// Whether `node` is refused as a candidate.
    pub fn is_suspect_candidate(&self, node: NodeId) -> bool {
        lock(&self.suspects)
            .get(&node)
            .is_some_and(|s| self.time.monotonic() < s.until)
    }

    pub fn record_offset(&self, node: NodeId, offset_ms: i64) {
        lock(&self.offsets).insert(node, offset_ms);
    }

    /// Last measured offset of each peer's wall clock from this node's
    /// (positive: the peer is ahead).
    pub fn offsets(&self) -> BTreeMap<NodeId, i64> {
        lock(&self.offsets).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_source::{system_wall_ms as wall_now_ms, ControlledClocks, SystemClocks};

    fn clock(max_offset_ms: u64, applied: AppliedClock) -> ClusterClock {
        ClusterClock::new(Arc::new(SystemClocks), max_offset_ms, applied)
    }

    #[test]
    fn stamps_exist_only_while_leader_and_never_go_back() {
        let applied = AppliedClock(Stamp {
            hlc: HlcTimestamp::new(wall_now_ms() + 60_000, 5),
            term: 1,
            term_elapsed_ms: 0,
        });
        let clock = clock(500, applied);
        assert!(clock.stamp().is_none());
        clock.set_leadership(Some(3));
        let a = clock.stamp().unwrap();
        let b = clock.stamp().unwrap();
        assert_eq!(a.term, 3);
        assert!(
            a.hlc > applied.now().hlc,
            "never earlier than the applied high-water mark"
        );
        assert!(b.hlc > a.hlc);
        assert!(b.term_elapsed_ms >= a.term_elapsed_ms);
        clock.set_leadership(None);
        assert!(clock.stamp().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn term_time_follows_the_monotonic_clock_whatever_the_wall_clock_does() {
        let time = Arc::new(ControlledClocks::new());
        let clock = ClusterClock::new(time.clone(), 500, AppliedClock::default());
        clock.set_leadership(Some(2));
        let before = clock.stamp().unwrap();
        time.step(600_000);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        let ahead = clock.stamp().unwrap();
        assert_eq!(ahead.term_elapsed_ms, 1_500);
        assert!(ahead.hlc.wall_ms >= before.hlc.wall_ms + 600_000);
        time.step(-1_200_000);
        tokio::time::advance(Duration::from_millis(500)).await;
        let back = clock.stamp().unwrap();
        assert_eq!(back.term_elapsed_ms, 2_000, "a step back does not move it");
        assert!(back.hlc > ahead.hlc, "the HLC never goes back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspect_is_refused_for_a_while_of_monotonic_time() {
        let time = Arc::new(ControlledClocks::new());
        let clock = ClusterClock::new(time.clone(), 500, AppliedClock::default());
        clock.suspect(3, 7);
        assert!(clock.is_suspect_leader(3, 7));
        assert!(!clock.is_suspect_leader(3, 8), "another term");
        assert!(clock.is_suspect_candidate(3));
        time.step(3_600_000);
        assert!(
            clock.is_suspect_candidate(3),
            "a wall-clock step does not end it"
        );
        tokio::time::advance(SUSPECT_FOR).await;
        assert!(!clock.is_suspect_candidate(3));
    }

    #[test]
    fn stamps_far_ahead_are_refused() {
        let clock = clock(500, AppliedClock::default());
        assert!(clock
            .observe(HlcTimestamp::new(wall_now_ms() + 100, 0))
            .is_ok());
        assert!(clock
            .observe(HlcTimestamp::new(wall_now_ms() + 60_000, 0))
            .is_err());
        assert!(clock.observe(HlcTimestamp::new(1, 0)).is_ok());
    }

    #[test]
    fn a_stamp_the_cluster_already_holds_is_not_refused() {
        let clock = clock(500, AppliedClock::default());
        // Every clock stepped forward a minute, entries were committed at
        // that time, and the clocks stepped back: the committed stamps are
        // merged whatever this node's wall clock says.
        let future = HlcTimestamp::new(wall_now_ms() + 60_000, 0);
        clock.observe_committed(future);
        // A new leader carries on from them: accepted.
        assert!(clock.observe(HlcTimestamp::new(future.wall_ms, 7)).is_ok());
        // A leader whose own clock is further ahead still is refused.
        assert!(clock
            .observe(HlcTimestamp::new(future.wall_ms + 60_000, 0))
            .is_err());
    }
}
