//! Check (3), fencing: tokens are derived from Raft log indices (one per
//! grant, increasing in log order), so
//!
//! - (a) no two acknowledged grants share a token, on any keys;
//! - (b) on a key, a grant invoked after another grant was acknowledged has
//!   a larger token (an equal one is left to (a));
//! - (c) a stale token never succeeds: an acknowledged `extended`,
//!   `completed` (not a replay) or `released` with token t, invoked after a
//!   grant on the same key with a larger token was acknowledged, is a
//!   violation.

use crate::by_key::KeyOps;
use crate::history::{Outcome, Request};
use crate::ops::Op;
use crate::verdict::{CheckName, Violation};

/// (a), over every key.
pub fn check_unique(keys: &[KeyOps<'_>]) -> Vec<Violation> {
    let mut grants: Vec<(u64, &str, &Op)> = keys
        .iter()
        .flat_map(|k| k.grants().into_iter().map(|(t, op)| (t, k.key, op)))
        .collect();
    grants.sort_by_key(|(t, _, op)| (*t, op.invoke.seq));
    grants
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|same| same.len() > 1)
        .map(|same| {
            let token = same[0].0;
            let mut keys: Vec<&str> = same.iter().map(|(_, k, _)| *k).collect();
            keys.dedup();
            let message = format!(
                "token {token} was granted {} times (on keys {}): a token belongs to one grant",
                same.len(),
                keys.join(", ")
            );
            let events = same
                .iter()
                .flat_map(|(_, _, op)| op.event_indices())
                .collect();
            Violation::new(CheckName::Fencing, same[0].1, message, events)
        })
        .collect()
}

/// (b) and (c), on one key.
pub fn check_key(key: &KeyOps<'_>) -> Vec<Violation> {
    let before = AckedBefore::new(key);
    let mut out = Vec::new();
    for op in &key.ops {
        let Some((newer, g1)) = before.largest(op.invoke.seq) else {
            continue;
        };
        if let Some(t2) = op.granted_token() {
            if newer > t2 {
                let message = format!(
                    "the grant invoked at event {} got token {t2}, but token {newer} had already \
                     been granted and acknowledged (event {}): tokens went backwards",
                    op.invoke.index,
                    g1.ok_at().map_or(g1.invoke.index, |s| s.index),
                );
                out.push(violation(key, message, op, g1));
            }
        } else if let Some(stale) = stale_success(op) {
            if newer > stale {
                let message = format!(
                    "the {} with token {stale} invoked at event {} succeeded ({}), but token \
                     {newer} had already been granted and acknowledged (event {})",
                    op.request.f(),
                    op.invoke.index,
                    op.outcome().map_or("", Outcome::kind),
                    g1.ok_at().map_or(g1.invoke.index, |s| s.index),
                );
                out.push(violation(key, message, op, g1));
            }
        }
    }
    out
}

fn violation(key: &KeyOps<'_>, message: String, op: &Op, grant: &Op) -> Violation {
    let mut events = op.event_indices();
    events.extend(grant.event_indices());
    Violation::new(CheckName::Fencing, key.key, message, events)
}

/// The token of an acknowledged success that only the current holder may
/// get: `extended`, `completed` (not a replay) or `released`.
fn stale_success(op: &Op) -> Option<u64> {
    // A resume is the success of the token it returns.
    if let Some(Outcome::Reserved {
        token,
        resumed: true,
        ..
    }) = op.outcome()
    {
        return Some(*token);
    }
    let succeeded = matches!(
        op.outcome(),
        Some(
            Outcome::Extended { .. }
                | Outcome::Completed {
                    replayed: false,
                    ..
                }
                | Outcome::Released { .. }
        )
    );
    match op.request {
        Request::Heartbeat { token, .. }
        | Request::Complete { token, .. }
        | Request::Release { token, .. }
            if succeeded =>
        {
            Some(token)
        }
        _ => None,
    }
}

/// The largest token acknowledged before a position, for any position.
struct AckedBefore<'a> {
    /// (position of the `ok`, largest token acknowledged up to it, its grant)
    steps: Vec<(usize, u64, &'a Op)>,
}

impl<'a> AckedBefore<'a> {
    fn new(key: &KeyOps<'a>) -> Self {
        let mut grants: Vec<(usize, u64, &'a Op)> = key
            .grants()
            .into_iter()
            .filter_map(|(t, op)| op.ok_at().map(|at| (at.seq, t, op)))
            .collect();
        grants.sort_by_key(|(seq, _, _)| *seq);
        let mut steps: Vec<(usize, u64, &'a Op)> = Vec::with_capacity(grants.len());
        for (seq, t, op) in grants {
            match steps.last() {
                Some(&(_, best, best_op)) if best >= t => steps.push((seq, best, best_op)),
                _ => steps.push((seq, t, op)),
            }
        }
        AckedBefore { steps }
    }

    /// The largest token acknowledged strictly before position `seq`.
    fn largest(&self, seq: usize) -> Option<(u64, &'a Op)> {
        let n = self.steps.partition_point(|(s, _, _)| *s < seq);
        n.checked_sub(1).map(|i| (self.steps[i].1, self.steps[i].2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::by_key::group;
    use crate::history::Event;
    use crate::ops::pair;
    use crate::testing::*;

    fn run(events: &[Event]) -> Vec<Violation> {
        let p = pair(events);
        let keys = group(&p.ops);
        let mut v = check_unique(&keys);
        v.extend(keys.iter().flat_map(check_key));
        v
    }

    #[test]
    fn one_token_granted_on_two_keys_is_a_violation() {
        let mut h = EventsBuilder::default();
        h.call(1, "k1", reserve("a"), granted(10));
        h.call(2, "k2", reserve("a"), granted(10));
        let v = run(&h.events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("k1, k2"));
        assert_eq!(v[0].events, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_later_grant_with_a_smaller_token_is_a_violation() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(10));
        h.call(2, "k", reserve("a"), took_over(8));
        let v = run(&h.events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("went backwards"));
    }

    #[test]
    fn concurrent_grants_may_come_in_any_token_order() {
        let mut h = EventsBuilder::default();
        h.push(invoke(1, "k", reserve("a")));
        h.push(invoke(2, "k", reserve("a")));
        h.push(ok(1, granted(10)));
        h.push(ok(2, granted(8)));
        assert!(run(&h.events).is_empty());
    }

    #[test]
    fn a_stale_token_that_succeeds_is_a_violation_each_way() {
        let stale_ops = [
            (heartbeat(10), Outcome::Extended { token: 10 }),
            (complete(10, "r"), completed(10)),
            (release(10), Outcome::Released { token: 10 }),
        ];
        for (request, outcome) in stale_ops {
            let mut h = EventsBuilder::default();
            h.call(1, "k", reserve("a"), granted(10));
            h.call(2, "k", reserve("a"), took_over(12));
            let stale = h.call(1, "k", request, outcome);
            let v = run(&h.events);
            assert_eq!(v.len(), 1, "{v:?}");
            assert!(v[0].events.contains(&stale));
        }
    }

    #[test]
    fn the_current_token_and_refused_stale_tokens_are_fine() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(10));
        h.call(1, "k", heartbeat(10), Outcome::Extended { token: 10 });
        h.call(2, "k", reserve("a"), took_over(12));
        h.call(1, "k", heartbeat(10), key_lost());
        h.call(2, "k", complete(12, "r"), completed(12));
        assert!(run(&h.events).is_empty());
    }
}
