//! Small hand-written histories, linearizable and not.

use super::search::search_with;
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

/// Key "k"'s operations, prepared for the search.
fn prepared(events: &[Event]) -> Prepared {
    let paired = pair(events);
    let keys = group(&paired.ops);
    keys.iter()
        .find(|k| k.key == "k")
        .map_or_else(Prepared::default, |k| Prepared::new(&k.ops))
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

/// Distinct attempts, each retried once with no answer: every class of
/// indeterminate reserves can be stacked in any order.
fn open_retried_attempts(h: &mut EventsBuilder, attempts: u64) {
    for a in 0..attempts {
        let attempt = format!("attempt-{a:022}");
        for _ in 0..2 {
            let p = 100 + a;
            h.push(invoke(p, "k", reserve_with_attempt("a", &attempt)));
            h.push(info(p));
        }
    }
}

#[test]
fn a_grant_that_must_wait_for_a_release_is_found_without_stacking_retries() {
    // The shape that made a 10-minute chaos history uncheckable: many open
    // retried attempts, then a grant concurrent with the owner's release.
    // Placing the grant before the release (the record forgotten) strands
    // the release, whatever indeterminate reserves are stacked after it.
    let mut h = EventsBuilder::default();
    open_retried_attempts(&mut h, 6);
    h.call(1, "k", reserve("a"), granted(10));
    h.push(invoke(2, "k", reserve("a")));
    h.call(1, "k", Request::Get, record_in_progress(10, "a"));
    h.call(1, "k", release(10), Outcome::Released { token: 10 });
    h.push(ok(2, granted(11)));
    let (result, states) = verdict_with_budget(&h.events, 100_000);
    assert_eq!(result, Linearizability::Linearizable);
    assert!(states < 100, "{states} configurations");
    let p = prepared(&h.events);
    let acked: HashSet<u64> = [10, 11].into();
    let (found, without) = search_with(&p, &acked, 100_000, false);
    assert!(!matches!(found, Found::NotLinearizable { .. }), "{found:?}");
    assert!(
        without > 10 * states,
        "{without} without the prune, {states} with"
    );
}

mod pruning {
    //! Backing out of stranded configurations changes no verdict.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// A call by the first idle process.
        Invoke(Request),
        /// An answer (none: indeterminate) to the `n`-th open call, counting
        /// round.
        Answer(usize, Option<Answer>),
    }

    fn token() -> impl Strategy<Value = u64> {
        1u64..5
    }

    fn fp() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("a"), Just("b")]
    }

    fn body() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("r"), Just("s")]
    }

    fn request() -> impl Strategy<Value = Request> {
        prop_oneof![
            3 => fp().prop_map(reserve),
            2 => (fp(), prop_oneof![Just("attempt-x-000000000000000"), Just("attempt-y-000000000000000")])
                .prop_map(|(f, a)| reserve_with_attempt(f, a)),
            1 => token().prop_map(heartbeat),
            2 => (token(), body()).prop_map(|(t, b)| complete(t, b)),
            1 => token().prop_map(release),
            2 => Just(Request::Get),
        ]
    }

    /// What an answer is made of; which answer depends on the call.
    #[derive(Debug, Clone)]
    struct Answer {
        choice: u8,
        token: u64,
        fp: &'static str,
        body: &'static str,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        (0u8..6, token(), fp(), body()).prop_map(|(choice, token, fp, body)| Answer {
            choice,
            token,
            fp,
            body,
        })
    }

    /// An answer `request` can get: a grant gets `fresh`, an observation
    /// `seen`, a heartbeat, completion or release the token it presented.
    fn outcome(request: &Request, a: &Answer, fresh: u64, seen: u64) -> Outcome {
        let t = seen;
        match request {
            Request::Reserve { .. } => match a.choice {
                0 | 1 => granted(fresh),
                2 => took_over(fresh),
                3 => Outcome::Reserved {
                    token: t,
                    takeover: false,
                    resumed: true,
                    previous_committing: Vec::new(),
                },
                4 => replayed(t, a.body),
                _ => {
                    if t.is_multiple_of(2) {
                        Outcome::FingerprintMismatch
                    } else {
                        Outcome::InProgress
                    }
                }
            },
            Request::Heartbeat { token, .. } => match a.choice {
                0..=3 => Outcome::Extended { token: *token },
                _ => key_lost(),
            },
            Request::Complete { token, .. } => match a.choice {
                0..=2 => completed(*token),
                3 => Outcome::ConflictingCompletion { token: *token },
                _ => key_lost(),
            },
            Request::Release { token, .. } => match a.choice {
                0..=3 => Outcome::Released { token: *token },
                _ => key_lost(),
            },
            Request::Get => match a.choice {
                0 | 1 => Outcome::NotFound,
                2 | 3 => record_in_progress(t, a.fp),
                _ => record_completed(t, a.fp, a.body),
            },
        }
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            request().prop_map(Step::Invoke),
            (0usize..4, proptest::option::weighted(0.85, answer()))
                .prop_map(|(n, o)| Step::Answer(n, o)),
        ];
        proptest::collection::vec(step, 2..40)
    }

    /// The `back`-th most recent of `grants` (10 if none).
    fn recent(grants: &[u64], back: u64) -> u64 {
        let back = usize::try_from(back).unwrap_or(usize::MAX);
        grants
            .iter()
            .rev()
            .nth(back.saturating_sub(1).min(grants.len().saturating_sub(1)))
            .copied()
            .unwrap_or(10)
    }

    /// A well-formed history from the steps, with at most four calls open
    /// at once (an invocation with none idle, or an answer with none open,
    /// is skipped). Tokens are drawn as the steps go: grants get growing
    /// ones, every other token is one of the last few granted, so that
    /// many histories are linearizable.
    fn history(steps: &[Step]) -> Vec<Event> {
        let mut h = EventsBuilder::default();
        let mut grants: Vec<u64> = Vec::new();
        let mut next = 10;
        let mut open: [Option<Request>; 4] = Default::default();
        for step in steps {
            match step {
                Step::Invoke(r) => {
                    if let Some(p) = open.iter().position(Option::is_none) {
                        let mut r = r.clone();
                        if let Request::Heartbeat { token, .. }
                        | Request::Complete { token, .. }
                        | Request::Release { token, .. } = &mut r
                        {
                            *token = recent(&grants, *token);
                        }
                        open[p] = Some(r.clone());
                        h.push(invoke(p as u64, "k", r));
                    }
                }
                Step::Answer(n, a) => {
                    let busy: Vec<usize> = (0..4).filter(|&p| open[p].is_some()).collect();
                    if let Some(&p) = busy.get(n % busy.len().max(1)) {
                        let request = open[p].take().expect("open");
                        h.push(match a {
                            Some(a) => {
                                let seen = recent(&grants, a.token);
                                let o = outcome(&request, a, next, seen);
                                if matches!(o, Outcome::Reserved { resumed: false, .. }) {
                                    grants.push(next);
                                    next += a.token;
                                }
                                ok(p as u64, o)
                            }
                            None => info(p as u64),
                        });
                    }
                }
            }
        }
        h.events
    }

    fn linearizable(found: &Found) -> Option<bool> {
        match found {
            Found::Linearizable => Some(true),
            Found::NotLinearizable { .. } => Some(false),
            Found::GaveUp { .. } => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 20_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn the_verdict_is_the_same_with_and_without_the_prune(steps in steps()) {
            let events = history(&steps);
            let p = prepared(&events);
            let acked: HashSet<u64> = pair(&events).ops.iter().filter_map(|op| op.granted_token()).collect();
            let (with, _) = search_with(&p, &acked, 1_000_000, true);
            let (without, _) = search_with(&p, &acked, 1_000_000, false);
            prop_assert_eq!(linearizable(&with), linearizable(&without));
            prop_assert!(linearizable(&with).is_some());
        }
    }
}
