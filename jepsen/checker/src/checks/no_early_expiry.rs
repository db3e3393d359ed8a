//! Check (1), no early expiry: a key is granted again only once the previous
//! holder's lease has certainly run out (or the holder gave it back).
//!
//! Per key, for each acknowledged grant G2 and the acknowledged grant G1
//! with the next smaller token: unless a release or complete with G1's token
//! that did not `fail` was invoked before G2 was acknowledged, G2's `ok`
//! must not come before G1's lease could have ended.
//!
//! When could it have ended? The lease runs from the last extension that
//! took effect (the grant itself, or a heartbeat, which restarts it with its
//! own `lease_ms`). An extension E that took effect last did so after its
//! own invocation and after every acknowledged extension's invocation (time
//! M), so the lease ended no earlier than `max(E.invoke, M) + E.lease_ms`.
//! The bound is the least of these over every extension that may have taken
//! effect. With one `lease_ms` throughout it is the brief's
//! `max(G1.invoke + lease, hb.invoke + lease for each acked heartbeat)`; it
//! stays sound when a heartbeat shortens the lease, which idem allows.

use super::{ms_to_ns, secs};
use crate::by_key::KeyOps;
use crate::history::{Outcome, Request};
use crate::ops::Op;
use crate::verdict::{CheckName, Violation};

/// The violations on one key.
pub fn check(key: &KeyOps<'_>) -> Vec<Violation> {
    key.grants_by_token()
        .windows(2)
        .filter(|w| w[0].0 < w[1].0)
        .filter_map(|w| judge(key, w[0], w[1]))
        .collect()
}

/// A grant or heartbeat that (re)started the lease, or may have.
struct Extension<'a> {
    op: &'a Op,
    lease_ms: u64,
    acknowledged: bool,
}

fn judge(key: &KeyOps<'_>, (t1, g1): (u64, &Op), (t2, g2): (u64, &Op)) -> Option<Violation> {
    let g2_ok = g2.ok_at()?;
    let before_g2 = |op: &&Op| op.invoke.seq < g2_ok.seq && op.may_have_happened();
    let given_back = key.ops.iter().copied().filter(before_g2).any(|op| {
        matches!(op.request, Request::Release { token, .. } | Request::Complete { token, .. } if token == t1)
    });
    if given_back {
        return None;
    }
    let Request::Reserve {
        lease_ms,
        ref attempt,
        ..
    } = g1.request
    else {
        return None;
    };
    let mut extensions = vec![Extension {
        op: g1,
        lease_ms,
        acknowledged: true,
    }];
    for op in key.ops.iter().copied().filter(before_g2) {
        if let Request::Heartbeat {
            token, lease_ms, ..
        } = op.request
        {
            let acknowledged = matches!(op.outcome(), Some(Outcome::Extended { .. }));
            if token == t1 && (acknowledged || op.is_indeterminate()) {
                extensions.push(Extension {
                    op,
                    lease_ms,
                    acknowledged,
                });
            }
        }
        // A reserve by the owner's own attempt resumes (renews) the lease.
        if let Request::Reserve {
            lease_ms,
            attempt: Some(ref a),
            ..
        } = op.request
        {
            let acknowledged = matches!(
                op.outcome(),
                Some(Outcome::Reserved { token, resumed: true, .. }) if *token == t1
            );
            if attempt.as_ref() == Some(a) && (acknowledged || op.is_indeterminate()) {
                extensions.push(Extension {
                    op,
                    lease_ms,
                    acknowledged,
                });
            }
        }
    }
    let latest = extensions
        .iter()
        .filter(|e| e.acknowledged)
        .max_by_key(|e| e.op.invoke.time_ns)?;
    let m = latest.op.invoke.time_ns;
    let (bound, last) = extensions
        .iter()
        .map(|e| {
            (
                e.op.invoke
                    .time_ns
                    .max(m)
                    .saturating_add(ms_to_ns(e.lease_ms)),
                e,
            )
        })
        .min_by_key(|(b, _)| *b)?;
    if g2_ok.time_ns >= bound {
        return None;
    }
    let mut events = g1.event_indices();
    events.extend(g2.event_indices());
    events.extend(latest.op.event_indices());
    events.extend(last.op.event_indices());
    let through = if std::ptr::eq(latest.op, g1) {
        String::new()
    } else {
        format!(
            ", last extended by the heartbeat invoked at {}",
            secs(latest.op.invoke.time_ns)
        )
    };
    let message = format!(
        "token {t2} was granted (acknowledged at {}, {} takeover) while the lease of token {t1} \
         could not have ended before {} (granted with lease_ms {lease_ms}, invoked at {}{through}): \
         {} early",
        secs(g2_ok.time_ns),
        match g2.outcome() {
            Some(Outcome::Reserved { takeover: true, .. }) => "a",
            _ => "not a",
        },
        secs(bound),
        secs(g1.invoke.time_ns),
        secs(bound - g2_ok.time_ns),
    );
    Some(Violation::new(
        CheckName::NoEarlyExpiry,
        key.key,
        message,
        events,
    ))
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

    #[test]
    fn a_takeover_200ms_into_a_2s_lease_is_early() {
        let mut h = EventsBuilder::default();
        h.at_ms(1_000)
            .call(1, "k", reserve_for("a", 2_000, 10_000), granted(10));
        h.at_ms(1_200).call(2, "k", reserve("a"), took_over(12));
        let v = run(&h.events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].check, CheckName::NoEarlyExpiry);
        assert_eq!(v[0].events, vec![0, 1, 2, 3]);
        assert!(v[0].message.contains("1.799 s early"), "{}", v[0].message);
    }

    #[test]
    fn a_takeover_after_the_lease_is_fine() {
        let mut h = EventsBuilder::default();
        h.at_ms(1_000)
            .call(1, "k", reserve_for("a", 2_000, 10_000), granted(10));
        h.at_ms(3_000).call(2, "k", reserve("a"), took_over(12));
        assert!(run(&h.events).is_empty());
    }

    #[test]
    fn a_heartbeat_pushes_the_end_of_the_lease() {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 1_000, 10_000), granted(10));
        h.at_ms(900)
            .call(1, "k", heartbeat(10), Outcome::Extended { token: 10 });
        h.at_ms(1_500).call(2, "k", reserve("a"), took_over(12));
        let v = run(&h.events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("heartbeat invoked at 0.900 s"));
        assert!(v[0].events.contains(&2), "{v:?}");
    }

    #[test]
    fn a_heartbeat_that_shortened_the_lease_may_have_ended_it() {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 5_000, 10_000), granted(10));
        let hb = Request::Heartbeat {
            token: 10,
            lease_ms: 100,
            committing: false,
        };
        h.at_ms(100)
            .call(1, "k", hb, Outcome::Extended { token: 10 });
        h.at_ms(300).call(2, "k", reserve("a"), took_over(12));
        assert!(run(&h.events).is_empty());
    }

    #[test]
    fn a_release_or_completion_by_the_holder_frees_the_key() {
        for (i, given_back) in [release(10), complete(10, "r")].into_iter().enumerate() {
            let mut h = EventsBuilder::default();
            h.at_ms(0)
                .call(1, "k", reserve_for("a", 5_000, 10_000), granted(10));
            h.push(invoke(1, "k", given_back));
            h.push(info(1));
            h.at_ms(100).call(2, "k", reserve("a"), granted(12));
            assert!(run(&h.events).is_empty(), "case {i}");
        }
    }

    #[test]
    fn a_release_that_failed_does_not_free_the_key() {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 5_000, 10_000), granted(10));
        h.push(invoke(1, "k", release(10)));
        h.push(fail(1));
        h.at_ms(100).call(2, "k", reserve("a"), granted(12));
        assert_eq!(run(&h.events).len(), 1);
    }
}
