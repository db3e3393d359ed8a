//! The node's clocks: the hybrid logical clock that stamps entries (over
//! cluster time, `idem_core::cluster_time`, with the limit that refuses new
//! stamps no node following its rules could make), the monotonic start of
//! the current leadership term, the wall clocks of peers as clock probes
//! measured them, and the agreement of a majority on the wall time.
//!
//! This is only the shell: the rules are `idem_core::HybridClock`'s. It
//! reads the clocks ([`TimeSource`]) and feeds the readings in. See
//! `idem_core::time` for why a stamp carries both an HLC reading and the
//! leader's monotonic milliseconds since its term began.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idem_core::{
    agreed_wall_ms, highest_agreeable_wall_ms, Agreement, AppliedClock, CatchUpRule, HlcTimestamp,
    HybridClock, Stamp, SteerRate,
};
use tokio::time::Instant;

use crate::error::ClusterError;
use crate::time_source::TimeSource;
use crate::types::NodeId;

/// Where this node stands as leader: the term and the monotonic instant it
/// learned it had become leader (a little after the true moment, which only
/// makes leases last longer, never shorter).
#[derive(Debug, Clone, Copy)]
struct Leadership {
    term: u64,
    since: Instant,
}

/// A peer whose stamps ran further ahead than any node following the rules
/// could stamp.
#[derive(Debug, Clone, Copy)]
struct Suspect {
    term: u64,
    until: Instant,
}

/// A peer's wall clock as a probe measured it: its reading minus this
/// node's monotonic milliseconds at the probe's midpoint (so it can be
/// carried forward without this node's own wall clock), and when.
#[derive(Debug, Clone, Copy)]
struct PeerWall {
    wall_minus_mono: i64,
    at_mono_ms: u64,
}

/// A new stamp was further ahead than this node allows.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("stamp {stamp} is more than {max_offset_ms} ms ahead of the highest cluster time this node allows ({allowed_ms})")]
pub struct ClockAhead {
    pub stamp: HlcTimestamp,
    pub allowed_ms: u64,
    pub max_offset_ms: u64,
}

/// Why this node cannot stamp an entry now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStamp {
    /// It does not lead.
    NotLeader,
    /// It has not agreed on the time with a majority since it started.
    Unsynced,
}

impl NoStamp {
    /// The error a client gets: another node may lead, or this one will be
    /// able to stamp in a moment (both are safe to retry).
    pub(crate) fn into_error(self, leader: Option<NodeId>) -> ClusterError {
        match self {
            NoStamp::NotLeader => ClusterError::NotLeader(leader),
            NoStamp::Unsynced => ClusterError::Unavailable(
                "this node has not yet agreed on the time with a majority of the cluster".into(),
            ),
        }
    }
}

/// One member's wall clock against cluster time and against this node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallReading {
    /// The member's wall clock minus cluster time, in ms.
    pub from_cluster_time_ms: i64,
    /// The member's wall clock minus this node's, in ms.
    pub from_this_node_ms: i64,
}

pub struct ClusterClock {
    me: NodeId,
    time: Arc<dyn TimeSource>,
    origin: Instant,
    hlc: Mutex<HybridClock>,
    rule: CatchUpRule,
    leadership: Mutex<Option<Leadership>>,
    suspects: Mutex<HashMap<NodeId, Suspect>>,
    walls: Mutex<BTreeMap<NodeId, PeerWall>>,
    /// The members, this node included (empty until first told).
    members: Mutex<BTreeSet<NodeId>>,
}

/// How long a node whose clock ran ahead is refused (its entries and its
/// candidacy), so that a node with a sane clock becomes leader.
const SUSPECT_FOR: Duration = Duration::from_secs(10);

/// A probe older than this says nothing about a peer's clock now.
const READING_FRESH_FOR_MS: u64 = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl ClusterClock {
    /// A clock that never reads earlier than `applied` (the replicated
    /// high-water mark), so a restarted node never stamps backwards. It is
    /// unsynced until [`Self::agree`] first finds a majority's wall time.
    /// `max_offset_ms` is the tolerance of the offset limiter and of
    /// catching up.
    pub fn new(
        me: NodeId,
        time: Arc<dyn TimeSource>,
        max_offset_ms: u64,
        applied: AppliedClock,
    ) -> Self {
        let origin = time.monotonic();
        ClusterClock {
            me,
            time,
            origin,
            hlc: Mutex::new(HybridClock::start(0, applied.now().hlc, SteerRate::DEFAULT)),
            rule: CatchUpRule {
                tolerance_ms: max_offset_ms,
                ..CatchUpRule::default()
            },
            leadership: Mutex::new(None),
            suspects: Mutex::new(HashMap::new()),
            walls: Mutex::new(BTreeMap::new()),
            members: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn max_offset_ms(&self) -> u64 {
        self.rule.tolerance_ms
    }

    /// This node's wall clock (not the HLC), for clock probes.
    pub fn wall_ms(&self) -> u64 {
        self.time.wall_ms()
    }

    /// Monotonic milliseconds since this clock was made.
    fn mono_ms(&self) -> u64 {
        u64::try_from(
            self.time
                .monotonic()
                .saturating_duration_since(self.origin)
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
    }

    /// Cluster time now (no timestamp is made).
    pub fn cluster_ms(&self) -> u64 {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        lock(&self.hlc).cluster_ms(mono, wall)
    }

    pub fn is_synced(&self) -> bool {
        lock(&self.hlc).is_synced()
    }

    /// Merges a stamp of a new (not yet committed) entry from the leader,
    /// or refuses it if it is further ahead than any node following the
    /// rules could stamp: above this node's ceiling (the highest stamp it
    /// has seen, moved on at the fastest pace cluster time may run) and
    /// above the latest wall time a majority might agree on, by more than
    /// the tolerance. A leader's wrong wall clock alone never gets its
    /// stamps refused (it only steers the leader's cluster time, within the
    /// ceiling); a leader whose cluster time jumped without cause does. An
    /// unsynced node judges nothing.
    pub fn observe(&self, stamp: HlcTimestamp) -> Result<(), ClockAhead> {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        let tolerance = self.rule.tolerance_ms;
        let mut hlc = lock(&self.hlc);
        if let Some(ceiling) = hlc.ceiling_ms(mono) {
            // Above the ceiling is rare (a catch-up this node has not made
            // yet): only then is the majority's wall time worked out. Lock
            // order: the HLC, then the members and walls (nothing takes the
            // HLC while holding those).
            if stamp.wall_ms > ceiling.saturating_add(tolerance) {
                let allowed = match self.highest_agreeable_wall(mono, wall) {
                    Some(agreeable) => ceiling.max(agreeable).saturating_add(tolerance),
                    None => u64::MAX,
                };
                if stamp.wall_ms > allowed {
                    return Err(ClockAhead {
                        stamp,
                        allowed_ms: allowed,
                        max_offset_ms: tolerance,
                    });
                }
            }
        }
        hlc.observe(mono, stamp, wall);
        Ok(())
    }

    /// Merges the stamp of an entry the leader says is committed: the
    /// cluster has decided it, so refusing it would only stall this node.
    pub fn observe_committed(&self, stamp: HlcTimestamp) {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        lock(&self.hlc).observe(mono, stamp, wall);
    }

    pub fn now_hlc(&self) -> HlcTimestamp {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        lock(&self.hlc).now(mono, wall)
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

    /// Whether this node leads (by the last [`Self::set_leadership`]).
    pub fn is_leader(&self) -> bool {
        lock(&self.leadership).is_some()
    }

    /// A stamp for a new entry, if this node leads and its clock is synced.
    pub fn stamp(&self) -> Result<Stamp, NoStamp> {
        let l = (*lock(&self.leadership)).ok_or(NoStamp::NotLeader)?;
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        let hlc = {
            let mut clock = lock(&self.hlc);
            if !clock.is_synced() {
                return Err(NoStamp::Unsynced);
            }
            clock.now(mono, wall)
        };
        Ok(Stamp {
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
    pub fn read_stamp(&self, applied: AppliedClock) -> Result<Stamp, NoStamp> {
        let stamp = self.stamp()?;
        Ok(applied
            .advance(&stamp)
            .map(|c| c.now())
            .unwrap_or(applied.now()))
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

    /// A clock probe read `peer_wall_ms` on `node`; this node sent it at
    /// monotonic instant `sent` and had the answer now.
    pub fn record_probe(&self, node: NodeId, sent: Instant, peer_wall_ms: u64) {
        let sent_ms = u64::try_from(sent.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX);
        let now_ms = self.mono_ms();
        let midpoint = sent_ms + now_ms.saturating_sub(sent_ms) / 2;
        lock(&self.walls).insert(
            node,
            PeerWall {
                wall_minus_mono: to_i64(peer_wall_ms) - to_i64(midpoint),
                at_mono_ms: now_ms,
            },
        );
    }

    /// The members now (this node among them); what was measured of nodes
    /// no longer members is forgotten.
    pub fn set_members(&self, members: BTreeSet<NodeId>) {
        lock(&self.walls).retain(|id, _| members.contains(id));
        *lock(&self.members) = members;
    }

    /// A fresh probe of `id`'s wall clock, carried forward to monotonic
    /// `mono`.
    fn peer_wall(w: &PeerWall, mono: u64) -> Option<i64> {
        (mono.saturating_sub(w.at_mono_ms) <= READING_FRESH_FOR_MS)
            .then(|| w.wall_minus_mono + to_i64(mono))
    }

    /// The members' wall clocks now, by fresh readings (this node's own
    /// wall clock reads `wall`), and how many members there are (none
    /// before the first [`Self::set_members`]: no majority can be told).
    fn readings(&self, mono: u64, wall: u64) -> (Vec<u64>, usize) {
        let members = lock(&self.members);
        let walls = lock(&self.walls);
        let mut out = Vec::with_capacity(members.len());
        for id in members.iter() {
            if *id == self.me {
                out.push(wall);
            } else if let Some(w) = walls.get(id).and_then(|w| Self::peer_wall(w, mono)) {
                out.push(u64::try_from(w).unwrap_or(0));
            }
        }
        (out, members.len())
    }

    fn highest_agreeable_wall(&self, mono: u64, wall: u64) -> Option<u64> {
        let (readings, members) = self.readings(mono, wall);
        highest_agreeable_wall_ms(&readings, members)
    }

    /// Agrees on the time with the members (this node and the peers whose
    /// probes are recorded): syncs the clock, or catches it up when a
    /// majority's wall time has been ahead for a while. Returns what it did
    /// (`None`: too few fresh readings for a majority).
    pub fn agree(&self) -> Option<Agreement> {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        let (readings, members) = self.readings(mono, wall);
        let agreed = agreed_wall_ms(&readings, members)?;
        Some(lock(&self.hlc).agree(mono, agreed, wall, self.rule))
    }

    /// Every member's wall clock against cluster time and against this
    /// node's (this node's own included); peers without a fresh probe are
    /// left out.
    pub fn wall_readings(&self) -> BTreeMap<NodeId, WallReading> {
        let (mono, wall) = (self.mono_ms(), self.time.wall_ms());
        let cluster = to_i64(lock(&self.hlc).cluster_ms(mono, wall));
        let mut out = BTreeMap::new();
        out.insert(
            self.me,
            WallReading {
                from_cluster_time_ms: to_i64(wall) - cluster,
                from_this_node_ms: 0,
            },
        );
        for (id, w) in lock(&self.walls).iter() {
            let Some(peer) = Self::peer_wall(w, mono) else {
                continue;
            };
            out.insert(
                *id,
                WallReading {
                    from_cluster_time_ms: peer - cluster,
                    from_this_node_ms: peer - to_i64(wall),
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_source::{system_wall_ms as wall_now_ms, ControlledClocks, SystemClocks};

    /// A clock of node 1 alone in its cluster, synced.
    fn alone(time: Arc<dyn TimeSource>, applied: AppliedClock) -> ClusterClock {
        let clock = ClusterClock::new(1, time, 500, applied);
        clock.set_members(BTreeSet::from([1]));
        assert!(clock.agree().is_some());
        clock
    }

    #[test]
    fn stamps_exist_only_while_leader_and_synced_and_never_go_back() {
        let applied = AppliedClock(Stamp {
            hlc: HlcTimestamp::new(wall_now_ms() + 60_000, 5),
            term: 1,
            term_elapsed_ms: 0,
        });
        let clock = ClusterClock::new(1, Arc::new(SystemClocks), 500, applied);
        clock.set_leadership(Some(3));
        assert_eq!(clock.stamp(), Err(NoStamp::Unsynced));
        assert_eq!(clock.agree(), None, "members unknown: no majority");
        clock.set_members(BTreeSet::from([1]));
        assert!(clock.agree().is_some());
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
        assert_eq!(clock.stamp(), Err(NoStamp::NotLeader));
    }

    #[tokio::test(start_paused = true)]
    async fn term_time_follows_the_monotonic_clock_whatever_the_wall_clock_does() {
        let time = Arc::new(ControlledClocks::new());
        let clock = alone(time.clone(), AppliedClock::default());
        clock.set_leadership(Some(2));
        let before = clock.stamp().unwrap();
        time.step(600_000);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        let ahead = clock.stamp().unwrap();
        assert_eq!(ahead.term_elapsed_ms, 1_500);
        assert_eq!(
            ahead.hlc.wall_ms,
            before.hlc.wall_ms + 1_650,
            "cluster time follows real time, steered by a tenth"
        );
        time.step(-1_200_000);
        tokio::time::advance(Duration::from_millis(500)).await;
        let back = clock.stamp().unwrap();
        assert_eq!(back.term_elapsed_ms, 2_000, "a step back does not move it");
        assert_eq!(back.hlc.wall_ms, ahead.hlc.wall_ms + 450);
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspect_is_refused_for_a_while_of_monotonic_time() {
        let time = Arc::new(ControlledClocks::new());
        let clock = ClusterClock::new(1, time.clone(), 500, AppliedClock::default());
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

    /// Two members, both synced: node 1 leads with its wall clock an hour
    /// ahead, node 2 follows with a right one and sees a stamp now and then.
    #[tokio::test(start_paused = true)]
    async fn a_leaders_wrong_wall_clock_never_gets_its_stamps_refused() {
        let (t1, t2) = (
            Arc::new(ControlledClocks::new()),
            Arc::new(ControlledClocks::new()),
        );
        let leader = ClusterClock::new(1, t1.clone(), 500, AppliedClock::default());
        let follower = ClusterClock::new(2, t2.clone(), 500, AppliedClock::default());
        for c in [&leader, &follower] {
            c.set_members(BTreeSet::from([1, 2]));
        }
        let sent = Instant::now();
        leader.record_probe(2, sent, t2.wall_ms());
        follower.record_probe(1, sent, t1.wall_ms());
        assert!(leader.agree().is_some() && follower.agree().is_some());
        leader.set_leadership(Some(1));
        t1.step(3_600_000);
        for i in 0..200u64 {
            tokio::time::advance(Duration::from_millis(997)).await;
            // The follower measures the leader's wall clock an hour ahead.
            follower.record_probe(1, Instant::now(), t1.wall_ms());
            leader.record_probe(2, Instant::now(), t2.wall_ms());
            leader.agree();
            follower.agree();
            let stamp = leader.stamp().unwrap();
            if i % 7 == 0 {
                follower
                    .observe(stamp.hlc)
                    .unwrap_or_else(|e| panic!("refused after {i} s: {e}"));
            }
        }
        // A stamp no node following the rules could make is refused.
        let far = HlcTimestamp::new(leader.cluster_ms() + 2 * 3_600_000, 0);
        assert!(follower.observe(far).is_err());
    }

    #[test]
    fn stamps_far_ahead_are_refused_once_synced() {
        let unsynced = ClusterClock::new(1, Arc::new(SystemClocks), 500, AppliedClock::default());
        assert!(
            unsynced
                .observe(HlcTimestamp::new(wall_now_ms() + 60_000, 0))
                .is_ok(),
            "an unsynced node judges nothing"
        );
        let clock = alone(Arc::new(SystemClocks), AppliedClock::default());
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
        let clock = alone(Arc::new(SystemClocks), AppliedClock::default());
        // Entries were committed at a cluster time a minute ahead (a catch-up
        // this node did not see): they are merged whatever it allows.
        let future = HlcTimestamp::new(wall_now_ms() + 60_000, 0);
        clock.observe_committed(future);
        // A new leader carries on from them: accepted.
        assert!(clock.observe(HlcTimestamp::new(future.wall_ms, 7)).is_ok());
        // A leader whose cluster time is further ahead still is refused.
        assert!(clock
            .observe(HlcTimestamp::new(future.wall_ms + 60_000, 0))
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_are_measured_from_cluster_time() {
        let time = Arc::new(ControlledClocks::new());
        let clock = ClusterClock::new(1, time.clone(), 500, AppliedClock::default());
        clock.set_members(BTreeSet::from([1, 2, 3]));
        let cluster = time.wall_ms();
        clock.record_probe(2, Instant::now(), cluster + 40);
        clock.record_probe(3, Instant::now(), cluster + 600_000);
        assert!(clock.agree().is_some());
        time.step(-2_000);
        let r = clock.wall_readings();
        // Synced to the median (node 2's clock), then node 1 stepped back.
        assert_eq!(r[&1].from_cluster_time_ms, -2_040);
        assert_eq!(r[&2].from_cluster_time_ms, 0);
        assert_eq!(r[&2].from_this_node_ms, 2_040);
        assert_eq!(r[&3].from_cluster_time_ms, 599_960);
    }
}
