//! Small hand-written histories, linearizable and not.

use super::*;
use crate::by_key::group;
use crate::history::{Event, Outcome, Request};
use crate::ops::pair;
use crate::testing::*;

/// The verdict on key "k" (other keys only lend their acknowledged tokens).
fn verdict_with_budget(events: &[Event], max_states: usize) -> (Linearizability, usize) {
    let paired = pair(events);
    assert!(paired.malformed.is_empty(), "{:?}", paired.malformed);
    let keys = group(&paired.ops);
    let acked: HashSet<u64> = paired
        .ops
        .iter()
        .filter_map(|op| op.granted_token())
        .collect();
    let k = keys.iter().find(|k| k.key == "k").expect("key k");
    let (v, violation) = check_key(k, &acked, max_states);
    assert_eq!(
        violation.is_some(),
        matches!(v.result, Linearizability::NotLinearizable { .. })
    );
    (v.result, v.states)
}

fn verdict(events: &[Event]) -> Linearizability {
    verdict_with_budget(events, 100_000).0
}

fn assert_not_linearizable(events: &[Event], blocked_op: u64) {
    match verdict(events) {
        Linearizability::NotLinearizable { ops, .. } => {
            assert!(
                ops.contains(&blocked_op),
                "{ops:?} should hold {blocked_op}"
            )
        }
        other => panic!("expected not linearizable, got {other:?}"),
    }
}

/// Grant 10 for fingerprint "a", completed with "r".
fn completed_key() -> EventsBuilder {
    let mut h = EventsBuilder::default();
    h.call(1, "k", reserve("a"), granted(10));
    h.call(1, "k", complete(10, "r"), completed(10));
    h
}

#[test]
fn a_whole_lifecycle_is_linearizable() {
    let mut h = EventsBuilder::default();
    h.call(1, "k", Request::Get, Outcome::NotFound);
    h.call(1, "k", reserve("a"), granted(10));
    h.call(2, "k", reserve("a"), Outcome::InProgress);
    h.call(2, "k", reserve("b"), Outcome::FingerprintMismatch);
    h.call(1, "k", heartbeat(10), Outcome::Extended { token: 10 });
    h.call(2, "k", reserve("a"), took_over(12));
    h.call(1, "k", heartbeat(10), key_lost());
    h.call(2, "k", Request::Get, record_in_progress(12, "a"));
    h.call(2, "k", complete(12, "r"), completed(12));
    h.call(1, "k", complete(10, "r"), key_lost());
    h.call(3, "k", reserve("a"), replayed(12, "r"));
    let retry = Outcome::Completed {
        token: 12,
        replayed: true,
    };
    h.call(2, "k", complete(12, "r"), retry);
    let other = Outcome::ConflictingCompletion { token: 12 };
    h.call(2, "k", complete(12, "x"), other);
    h.call(3, "k", Request::Get, record_completed(12, "a", "r"));
    h.call(3, "k", Request::Get, Outcome::NotFound); // forgotten
    h.call(3, "k", reserve("b"), granted(20));
    h.call(3, "k", release(20), Outcome::Released { token: 20 });
    h.call(3, "k", release(20), key_lost());
    assert_eq!(verdict(&h.events), Linearizability::Linearizable);
}

#[test]
fn concurrent_operations_are_reordered_within_their_windows() {
    let mut h = EventsBuilder::default();
    h.call(1, "k", reserve("a"), granted(10));
    h.push(invoke(2, "k", Request::Get));
    h.push(invoke(1, "k", complete(10, "r")));
    h.push(ok(1, completed(10)));
    h.push(ok(2, record_completed(10, "a", "r")));
    assert_eq!(verdict(&h.events), Linearizability::Linearizable);
}

#[test]
fn a_stale_read_after_a_completion_is_not_linearizable() {
    let mut h = completed_key();
    let stale = h.call(2, "k", Request::Get, record_in_progress(10, "a"));
    assert_not_linearizable(&h.events, stale);
}

#[test]
fn two_concurrent_grants_on_a_live_key_without_takeover_are_not_linearizable() {
    let mut h = EventsBuilder::default();
    h.push(invoke(1, "k", reserve("a")));
    h.push(invoke(2, "k", reserve("a")));
    h.push(ok(1, granted(10)));
    h.push(ok(2, granted(12)));
    // Both owners then act on the key as live: only one of them can.
    let first = h.call(1, "k", heartbeat(10), Outcome::Extended { token: 10 });
    h.call(2, "k", heartbeat(12), Outcome::Extended { token: 12 });
    assert_not_linearizable(&h.events, first);
}

#[test]
fn a_replay_with_a_different_response_is_not_linearizable() {
    let mut h = completed_key();
    let replay = h.call(2, "k", reserve("a"), replayed(10, "not r"));
    assert_not_linearizable(&h.events, replay);
}

#[test]
fn a_replay_to_another_fingerprint_is_not_linearizable() {
    let mut h = completed_key();
    let replay = h.call(2, "k", reserve("b"), replayed(10, "r"));
    assert_not_linearizable(&h.events, replay);
}

#[test]
fn an_indeterminate_reserve_may_have_taken_effect_and_a_read_binds_its_token() {
    let mut h = EventsBuilder::default();
    h.push(invoke(1, "k", reserve("b")));
    h.push(info(1));
    h.call(2, "k", reserve("a"), Outcome::FingerprintMismatch);
    h.call(2, "k", Request::Get, record_in_progress(7, "b"));
    h.call(2, "k", Request::Get, record_in_progress(7, "b"));
    assert_eq!(verdict(&h.events), Linearizability::Linearizable);
    // ...but then its token is fixed.
    let other = h.call(2, "k", Request::Get, record_in_progress(8, "b"));
    assert_not_linearizable(&h.events, other);
}

#[test]
fn an_unseen_token_is_not_one_an_acknowledged_grant_got() {
    let mut h = EventsBuilder::default();
    h.call(3, "other", reserve("a"), granted(7));
    h.push(invoke(1, "k", reserve("b")));
    h.push(info(1));
    let read = h.call(2, "k", Request::Get, record_in_progress(7, "b"));
    assert_not_linearizable(&h.events, read);
}

#[test]
fn an_indeterminate_completion_may_have_stored_the_response() {
    let mut h = EventsBuilder::default();
    h.call(1, "k", reserve("a"), granted(10));
    h.push(invoke(1, "k", complete(10, "r")));
    h.push(info(1));
    h.call(2, "k", reserve("a"), replayed(10, "r"));
    assert_eq!(verdict(&h.events), Linearizability::Linearizable);
}

#[test]
fn an_operation_never_answered_may_take_effect_after_everything_else() {
    let mut h = EventsBuilder::default();
    h.push(invoke(1, "k", reserve("b")));
    h.call(2, "k", Request::Get, Outcome::NotFound);
    h.call(2, "k", reserve("a"), Outcome::FingerprintMismatch);
    assert_eq!(verdict(&h.events), Linearizability::Linearizable);
}

#[test]
fn a_failed_operation_did_not_happen() {
    let mut h = EventsBuilder::default();
    h.push(invoke(1, "k", reserve("b")));
    h.push(fail(1));
    let mismatch = h.call(2, "k", reserve("a"), Outcome::FingerprintMismatch);
    assert_not_linearizable(&h.events, mismatch);
}

#[test]
fn an_indeterminate_operation_cannot_take_effect_before_its_invocation() {
    let mut h = EventsBuilder::default();
    let mismatch = h.call(2, "k", reserve("a"), Outcome::FingerprintMismatch);
    h.push(invoke(1, "k", reserve("b")));
    h.push(info(1));
    assert_not_linearizable(&h.events, mismatch);
}

#[test]
fn too_small_a_budget_gives_unknown() {
    let mut h = EventsBuilder::default();
    for p in 0..6 {
        h.push(invoke(p, "k", Request::Get));
    }
    for p in 0..6 {
        h.push(ok(p, Outcome::NotFound));
    }
    h.call(9, "k", reserve("a"), granted(3));
    h.call(9, "k", Request::Get, record_in_progress(4, "a"));
    let (result, states) = verdict_with_budget(&h.events, 3);
    assert!(
        matches!(result, Linearizability::Unknown { .. }),
        "{result:?}"
    );
    assert!(states > 3);
    let (result, _) = verdict_with_budget(&h.events, 100_000);
    assert!(
        matches!(result, Linearizability::NotLinearizable { .. }),
        "{result:?}"
    );
}
