//! The entry point: judge a whole history with every check.

use crate::by_key::group;
use crate::checks::{fencing, no_early_expiry, replay};
use crate::history::Event;
use crate::linear::check_key;
use crate::nemesis;
use crate::ops::pair;
use crate::verdict::{CheckLimits, CheckReport};
use std::collections::HashSet;

/// Runs every check on `events` (a whole history, in recording order).
/// Never panics on a malformed history: what cannot be paired is reported
/// in `malformed` and judged as cautiously as possible.
pub fn check(events: &[Event], limits: &CheckLimits) -> CheckReport {
    let paired = pair(events);
    let mut malformed = paired.malformed;
    malformed.extend(nemesis::windows(events).1);
    let keys = group(&paired.ops);
    let acked: HashSet<u64> = paired
        .ops
        .iter()
        .filter_map(|op| op.granted_token())
        .collect();

    let mut violations = Vec::new();
    for key in &keys {
        violations.extend(no_early_expiry::check(key));
    }
    for key in &keys {
        violations.extend(replay::check(key));
    }
    violations.extend(fencing::check_unique(&keys));
    for key in &keys {
        violations.extend(fencing::check_key(key));
    }
    let mut verdicts = Vec::with_capacity(keys.len());
    for key in &keys {
        let (verdict, violation) = check_key(key, &acked, limits.max_states_per_key);
        verdicts.push(verdict);
        violations.extend(violation);
    }
    CheckReport {
        violations,
        keys: verdicts,
        malformed: malformed.into_lines(),
        ops: paired.ops.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{NemesisPhase, Outcome, Request};
    use crate::testing::*;
    use crate::verdict::{CheckName, Linearizability};

    #[test]
    fn a_clean_history_is_valid() {
        let mut h = EventsBuilder::default();
        h.push(nemesis(NemesisPhase::Start, "partition"));
        h.at_ms(0).call(1, "k", reserve("a"), granted(10));
        h.call(1, "k", complete(10, "r"), completed(10));
        h.call(2, "k", reserve("a"), replayed(10, "r"));
        h.call(2, "j", Request::Get, Outcome::NotFound);
        h.push(nemesis(NemesisPhase::Stop, "partition"));
        let r = check(&h.events, &CheckLimits::default());
        assert!(r.is_valid(), "{r:?}");
        assert_eq!(r.ops, 4);
        assert_eq!(r.keys.len(), 2);
        assert_eq!(r.keys[1].key, "k");
        assert_eq!(r.keys[1].ops, 3);
    }

    #[test]
    fn two_grants_on_a_live_key_are_caught_by_the_lease_check() {
        // The model lets a record be forgotten at any time, so this alone is
        // linearizable; the lease check says it was too early.
        let mut h = EventsBuilder::default();
        h.push(invoke(1, "k", reserve("a")));
        h.push(invoke(2, "k", reserve("a")));
        h.push(ok(1, granted(10)));
        h.push(ok(2, granted(12)));
        let r = check(&h.events, &CheckLimits::default());
        assert!(!r.is_valid());
        assert_eq!(r.keys[0].result, Linearizability::Linearizable);
        assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
        assert_eq!(r.violations[0].check, CheckName::NoEarlyExpiry);
    }

    #[test]
    fn a_malformed_history_is_invalid_but_still_judged() {
        let mut h = EventsBuilder::default();
        h.push(ok(5, Outcome::NotFound));
        h.push(nemesis(NemesisPhase::Stop, "skew"));
        h.call(1, "k", Request::Get, Outcome::NotFound);
        let r = check(&h.events, &CheckLimits::default());
        assert_eq!(r.malformed.len(), 2, "{:?}", r.malformed);
        assert!(r.violations.is_empty());
        assert_eq!(r.keys[0].result, Linearizability::Linearizable);
        assert!(!r.is_valid());
    }

    #[test]
    fn a_non_linearizable_key_is_a_violation() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(10));
        h.call(1, "k", complete(10, "r"), completed(10));
        h.call(2, "k", reserve("b"), replayed(10, "r"));
        let r = check(&h.events, &CheckLimits::default());
        let lin: Vec<_> = r.violations_of(CheckName::Linearizability).collect();
        assert_eq!(lin.len(), 1, "{:?}", r.violations);
        assert_eq!(lin[0].events, vec![4, 5]);
        assert!(!r.is_valid());
    }
}
