//! Check (2), replay: while a completed response is certainly retained,
//! every answer about the key must show it, byte for byte.
//!
//! For each acknowledged completion C (`completed`, replayed or not) of
//! token t with response r: the retention R is the `retain_ms` of the
//! acknowledged reserve that was granted t (no such grant: skipped). The
//! record was stored no earlier than the invocation of the completion that
//! stored it: C itself if it was not a replay, else the earliest completion
//! with t and r that may have stored it (an idempotent replay does not
//! restart the retention). Every `ok` operation on the key invoked after
//! C's `ok` and answered before that time + R must then see the completed
//! record.

use super::{ms_to_ns, secs};
use crate::by_key::KeyOps;
use crate::history::{Outcome, Request, StoredResponse};
use crate::ops::Op;
use crate::verdict::{CheckName, Violation};
use std::collections::BTreeSet;

/// The violations on one key; each operation is reported once.
pub fn check(key: &KeyOps<'_>) -> Vec<Violation> {
    let grants = key.grants();
    let mut reported: BTreeSet<usize> = BTreeSet::new();
    let mut out = Vec::new();
    for c in &key.ops {
        let (Some(Outcome::Completed { replayed, .. }), Request::Complete { token, response }) =
            (c.outcome(), &c.request)
        else {
            continue;
        };
        let Some(retained) = Retained::of(key, &grants, c, *token, response, *replayed) else {
            continue;
        };
        for op in key.ops.iter().filter(|op| retained.covers(op)) {
            if reported.contains(&op.invoke.seq) {
                continue;
            }
            if let Some(wrong) = retained.wrong_answer(op) {
                reported.insert(op.invoke.seq);
                let mut events = op.event_indices();
                events.extend(c.event_indices());
                events.extend(retained.grant.event_indices());
                let message = format!(
                    "token {} completed (acknowledged at {}) is retained until at least {}, \
                     but the {} invoked at {} {wrong}",
                    retained.token,
                    secs(retained.acknowledged_ns),
                    secs(retained.until_ns),
                    op.request.f(),
                    secs(op.invoke.time_ns),
                );
                out.push(Violation::new(CheckName::Replay, key.key, message, events));
            }
        }
    }
    out
}

/// A completed record known to be retained over a span of the history.
struct Retained<'a> {
    token: u64,
    fingerprint: &'a str,
    response: &'a StoredResponse,
    grant: &'a Op,
    /// Operations invoked after this position...
    from_seq: usize,
    acknowledged_ns: u64,
    /// ...and answered before this time see the record.
    until_ns: u64,
}

impl<'a> Retained<'a> {
    fn of(
        key: &KeyOps<'a>,
        grants: &[(u64, &'a Op)],
        c: &'a Op,
        token: u64,
        response: &'a StoredResponse,
        replayed: bool,
    ) -> Option<Self> {
        let c_ok = c.ok_at()?;
        let grant = grants.iter().find(|(t, _)| *t == token)?.1;
        let Request::Reserve {
            fingerprint,
            retain_ms,
            ..
        } = &grant.request
        else {
            return None;
        };
        let stored_from = if replayed {
            key.ops
                .iter()
                .filter(|op| may_have_stored(op, token, response))
                .map(|op| op.invoke.time_ns)
                .min()?
        } else {
            c.invoke.time_ns
        };
        Some(Retained {
            token,
            fingerprint,
            response,
            grant,
            from_seq: c_ok.seq,
            acknowledged_ns: c_ok.time_ns,
            until_ns: stored_from.saturating_add(ms_to_ns(*retain_ms)),
        })
    }

    fn covers(&self, op: &Op) -> bool {
        op.invoke.seq > self.from_seq && op.ok_at().is_some_and(|at| at.time_ns < self.until_ns)
    }

    /// What is wrong with the answer `op` got, if anything.
    fn wrong_answer(&self, op: &Op) -> Option<String> {
        let outcome = op.outcome()?;
        let t = self.token;
        let expected = match &op.request {
            Request::Reserve { fingerprint, .. } if fingerprint == self.fingerprint => {
                matches!(outcome, Outcome::Replayed { token, response } if *token == t && response == self.response)
            }
            Request::Reserve { .. } => matches!(outcome, Outcome::FingerprintMismatch),
            Request::Get => matches!(
                outcome,
                Outcome::RecordCompleted { token, fingerprint, response }
                    if *token == t && fingerprint == self.fingerprint && response == self.response
            ),
            Request::Heartbeat { .. } | Request::Release { .. } => {
                matches!(outcome, Outcome::KeyLost { .. })
            }
            Request::Complete { token, .. } if *token != t => {
                matches!(outcome, Outcome::KeyLost { .. })
            }
            Request::Complete { response, .. } if response == self.response => {
                matches!(outcome, Outcome::Completed { token, replayed: true } if *token == t)
            }
            Request::Complete { .. } => {
                matches!(outcome, Outcome::ConflictingCompletion { token } if *token == t)
            }
        };
        (!expected).then(|| format!("was answered {}", describe(outcome)))
    }
}

/// Whether `op` is a completion with `token` and `response` that may be the
/// one that stored the record (not a failure, not an acknowledged replay).
fn may_have_stored(op: &Op, token: u64, response: &StoredResponse) -> bool {
    let same = matches!(&op.request, Request::Complete { token: t, response: r } if *t == token && r == response);
    same && match op.outcome() {
        Some(Outcome::Completed { replayed, .. }) => !replayed,
        Some(_) => false,
        None => op.is_indeterminate(),
    }
}

/// An outcome in words, for messages.
fn describe(outcome: &Outcome) -> String {
    serde_json::to_string(outcome).unwrap_or_else(|_| outcome.kind().to_string())
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
        group(&p.ops).iter().flat_map(check).collect()
    }

    /// Grant 10 at 0 ms (retain 10 s), completed with "r" at 100 ms.
    fn completed_at_100ms() -> EventsBuilder {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 1_000, 10_000), granted(10));
        h.at_ms(100).call(1, "k", complete(10, "r"), completed(10));
        h
    }

    #[test]
    fn every_kind_of_right_answer_during_retention_passes() {
        let mut h = completed_at_100ms();
        h.at_ms(200);
        h.call(2, "k", reserve("a"), replayed(10, "r"));
        h.call(2, "k", reserve("b"), Outcome::FingerprintMismatch);
        h.call(2, "k", Request::Get, record_completed(10, "a", "r"));
        h.call(2, "k", heartbeat(10), key_lost());
        h.call(2, "k", release(10), key_lost());
        h.call(2, "k", complete(9, "r"), key_lost());
        h.call(
            2,
            "k",
            complete(10, "r"),
            Outcome::Completed {
                token: 10,
                replayed: true,
            },
        );
        h.call(
            2,
            "k",
            complete(10, "x"),
            Outcome::ConflictingCompletion { token: 10 },
        );
        assert!(run(&h.events).is_empty(), "{:?}", run(&h.events));
    }

    #[test]
    fn a_changed_replay_a_lost_record_or_a_new_grant_during_retention_fail() {
        let mut h = completed_at_100ms();
        h.at_ms(200);
        let a = h.call(2, "k", reserve("a"), replayed(10, "R"));
        let b = h.call(2, "k", Request::Get, Outcome::NotFound);
        let c = h.call(2, "k", reserve("a"), granted(12));
        let v = run(&h.events);
        assert_eq!(v.len(), 3, "{v:?}");
        for (violation, i) in v.iter().zip([a, b, c]) {
            assert_eq!(violation.check, CheckName::Replay);
            assert!(violation.events.contains(&i), "{violation:?}");
            assert!(
                violation.events.contains(&2),
                "the completion: {violation:?}"
            );
        }
    }

    #[test]
    fn after_retention_anything_goes() {
        let mut h = completed_at_100ms();
        h.at_ms(10_100)
            .call(2, "k", Request::Get, Outcome::NotFound);
        assert!(run(&h.events).is_empty());
    }

    #[test]
    fn an_operation_concurrent_with_the_completion_is_not_judged() {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 1_000, 10_000), granted(10));
        h.push(invoke(1, "k", complete(10, "r")));
        h.call(2, "k", Request::Get, record_in_progress(10, "a"));
        h.push(ok(1, completed(10)));
        assert!(run(&h.events).is_empty());
    }

    #[test]
    fn a_replayed_completion_counts_retention_from_the_first() {
        // An idempotent retry at 9 s: retention still ends by 10.1 s.
        let with_get_at = |ms| {
            let mut h = completed_at_100ms();
            let retry = Outcome::Completed {
                token: 10,
                replayed: true,
            };
            h.at_ms(9_000).call(1, "k", complete(10, "r"), retry);
            h.at_ms(ms).call(2, "k", Request::Get, Outcome::NotFound);
            run(&h.events)
        };
        assert!(with_get_at(10_200).is_empty());
        assert_eq!(with_get_at(10_000).len(), 1);
    }
}
