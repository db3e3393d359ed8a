//! The leader lease: for a while after a quorum acknowledged the leader, no
//! other node can become leader, so the leader may serve linearizable reads
//! without a quorum round of its own.
//!
//! Why no other leader can exist during the lease:
//! - A follower that accepts AppendEntries from the leader refuses to vote
//!   for anyone else for `election_timeout_max` after it received them
//!   (openraft's own leader lease on followers, `Engine::handle_vote_req`).
//! - The leader counts an acknowledgement from the moment it *sent* the
//!   request, which is before the follower received it; its lease ends
//!   `lease` after the newest moment a quorum (itself included) had
//!   acknowledged, with `lease` shorter than any follower's refusal
//!   (`election_timeout_min` less a tenth, so clock-rate differences and
//!   members configured alike leave a margin).
//! - The leader itself refuses to vote while its lease holds, so it cannot
//!   help elect a successor while it still reads under the lease.
//! - A node forgets when it last heard from the leader when it restarts, so
//!   it refuses every vote for `election_timeout_max` after it starts.
//! - Only acknowledgements of requests sent under the leader's current vote
//!   (term) count, only in a plain (not joint) membership, and only voters
//!   count.
//!
//! Time here is the monotonic clock (`tokio::time::Instant`): wall-clock
//! steps do not move it, and a paused process finds its lease expired when
//! it resumes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::types::Vote;
use tokio::time::Instant;

use crate::time_source::TimeSource;
use crate::types::NodeId;

pub(crate) struct LeaderLease {
    time: Arc<dyn TimeSource>,
    /// How long after a quorum's acknowledgement was sent the lease holds.
    lease: Duration,
    /// Votes are refused until then (this process's start plus
    /// `election_timeout_max`).
    quiet_until: Instant,
    /// Per peer: the vote a request went out under, and when the newest
    /// request that peer accepted was sent.
    acks: Mutex<HashMap<NodeId, (Vote, Instant)>>,
}

impl LeaderLease {
    /// The lease of a node whose election timeout is drawn from
    /// `election_timeout_ms` (min, max), as every member's must be.
    pub(crate) fn new(time: Arc<dyn TimeSource>, election_timeout_ms: (u64, u64)) -> LeaderLease {
        let (min, max) = election_timeout_ms;
        let quiet_until = time.monotonic() + Duration::from_millis(max);
        LeaderLease {
            time,
            lease: Duration::from_millis(min - min / 10),
            quiet_until,
            acks: Mutex::new(HashMap::new()),
        }
    }

    /// The planted bug: a lease of seconds (see [`PLANTED_LONG_LEASE`]).
    #[cfg(feature = "planted-bugs")]
    pub(crate) fn planted_long(mut self) -> LeaderLease {
        self.lease = PLANTED_LONG_LEASE;
        self
    }

    /// When a request sent now is counted as sent.
    pub(crate) fn now(&self) -> Instant {
        self.time.monotonic()
    }

    /// `peer` accepted an AppendEntries sent at `sent` under `vote`.
    pub(crate) fn acknowledged(&self, peer: NodeId, vote: Vote, sent: Instant) {
        let Ok(mut acks) = self.acks.lock() else {
            return;
        };
        let newer = match acks.get(&peer) {
            Some((v, at)) => *v != vote || *at < sent,
            None => true,
        };
        if newer {
            acks.insert(peer, (vote, sent));
        }
    }

    /// Whether this process started too recently to vote for anyone.
    pub(crate) fn starting(&self) -> bool {
        self.time.monotonic() < self.quiet_until
    }

    /// Whether `me`, leading under `vote` with the voter sets `config` (one
    /// set, or two during a joint change), holds the lease now.
    pub(crate) fn holds(&self, me: NodeId, vote: &Vote, config: &[BTreeSet<NodeId>]) -> bool {
        self.holds_at(me, vote, config, self.time.monotonic())
    }

    fn holds_at(&self, me: NodeId, vote: &Vote, config: &[BTreeSet<NodeId>], now: Instant) -> bool {
        if !vote.is_committed() || vote.leader_id().node_id != me {
            return false;
        }
        let [voters] = config else {
            return false;
        };
        if !voters.contains(&me) {
            return false;
        }
        let Ok(acks) = self.acks.lock() else {
            return false;
        };
        // The leader is one of the quorum; the others' newest sends, newest
        // first.
        let mut sent: Vec<Instant> = voters
            .iter()
            .filter(|id| **id != me)
            .filter_map(|id| acks.get(id))
            .filter(|(v, _)| v == vote)
            .map(|(_, at)| *at)
            .collect();
        sent.sort_unstable_by(|a, b| b.cmp(a));
        let others_needed = voters.len() / 2;
        if others_needed == 0 {
            return true;
        }
        match sent.get(others_needed - 1) {
            Some(quorum_sent) => now < *quorum_sent + self.lease,
            None => false,
        }
    }
}

/// The planted bug's lease: far longer than any follower's refusal to vote
/// (and the leader votes meanwhile, see `LeaderService::refuses_votes`).
#[cfg(feature = "planted-bugs")]
pub(crate) const PLANTED_LONG_LEASE: Duration = Duration::from_millis(9_000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_source::SystemClocks;

    fn lease_for(election_timeout_ms: (u64, u64)) -> LeaderLease {
        LeaderLease::new(Arc::new(SystemClocks), election_timeout_ms)
    }

    fn voters(ids: &[NodeId]) -> Vec<BTreeSet<NodeId>> {
        vec![ids.iter().copied().collect()]
    }

    fn leader_vote(term: u64, id: NodeId) -> Vote {
        Vote::new_committed(term, id)
    }

    #[test]
    fn three_voters_need_one_fresh_acknowledgement() {
        let lease = lease_for((300, 400));
        let vote = leader_vote(2, 1);
        let t0 = Instant::now();
        let config = voters(&[1, 2, 3]);
        assert!(
            !lease.holds_at(1, &vote, &config, t0),
            "nothing acknowledged yet"
        );
        lease.acknowledged(2, vote, t0);
        assert!(lease.holds_at(1, &vote, &config, t0 + Duration::from_millis(269)));
        assert!(!lease.holds_at(1, &vote, &config, t0 + Duration::from_millis(270)));
        // An older send acknowledged later does not move the lease back.
        lease.acknowledged(2, vote, t0 - Duration::from_millis(100));
        assert!(lease.holds_at(1, &vote, &config, t0 + Duration::from_millis(269)));
    }

    #[test]
    fn five_voters_count_the_second_newest_acknowledgement() {
        let lease = lease_for((300, 400));
        let vote = leader_vote(4, 3);
        let t0 = Instant::now();
        let config = voters(&[1, 2, 3, 4, 5]);
        lease.acknowledged(1, vote, t0 + Duration::from_millis(200));
        assert!(
            !lease.holds_at(3, &vote, &config, t0 + Duration::from_millis(201)),
            "one of two"
        );
        lease.acknowledged(5, vote, t0);
        // Quorum {3, 1, 5}: the older of the two sends bounds the lease.
        assert!(lease.holds_at(3, &vote, &config, t0 + Duration::from_millis(269)));
        assert!(!lease.holds_at(3, &vote, &config, t0 + Duration::from_millis(270)));
    }

    #[test]
    fn acknowledgements_under_another_vote_or_from_non_voters_do_not_count() {
        let lease = lease_for((300, 400));
        let t0 = Instant::now();
        let config = voters(&[1, 2, 3]);
        lease.acknowledged(2, leader_vote(1, 1), t0);
        lease.acknowledged(4, leader_vote(2, 1), t0);
        assert!(
            !lease.holds_at(1, &leader_vote(2, 1), &config, t0),
            "old term, learner"
        );
        // Not this node's vote, or not committed: no lease.
        lease.acknowledged(2, leader_vote(2, 1), t0);
        assert!(lease.holds_at(1, &leader_vote(2, 1), &config, t0));
        assert!(!lease.holds_at(2, &leader_vote(2, 1), &config, t0));
        assert!(!lease.holds_at(1, &Vote::new(2, 1), &config, t0));
    }

    #[test]
    fn no_lease_in_a_joint_membership_or_outside_the_voters() {
        let lease = lease_for((300, 400));
        let vote = leader_vote(2, 1);
        let t0 = Instant::now();
        lease.acknowledged(2, vote, t0);
        lease.acknowledged(3, vote, t0);
        let joint = vec![
            [1, 2, 3].into_iter().collect(),
            [2, 3, 4].into_iter().collect(),
        ];
        assert!(!lease.holds_at(1, &vote, &joint, t0));
        assert!(!lease.holds_at(1, &vote, &voters(&[2, 3, 4]), t0));
        assert!(
            lease.holds_at(1, &vote, &voters(&[1]), t0),
            "a single voter"
        );
    }

    #[test]
    fn a_new_process_refuses_votes_for_the_longest_election_timeout() {
        let lease = lease_for((300, 400));
        assert!(lease.starting());
        let quiet = lease_for((0, 0));
        assert!(!quiet.starting());
    }
}
