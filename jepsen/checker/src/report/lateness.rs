//! How late takeovers came: for each takeover, how long after the previous
//! holder's lease had certainly ended a reserve of the key was still
//! answered `in_progress`. This is reported, not judged (a late answer is
//! not a safety violation), against idem's lateness bound (`docs/
//! ARCHITECTURE.md`, "How late"): with no leader change, a lease of `d` ms
//! ends at most `d × σ / (1 − σ)` late, `σ` the cluster-time steer rate.
//!
//! The lease had certainly ended at `E = max(ok + lease_ms)` over its grant
//! and its acknowledged heartbeats: each took effect before its `ok`. A
//! reserve invoked at `t > E` and answered `in_progress` was held `t − E`
//! late at least; the takeover's lateness is the largest such (0 when no
//! reserve was refused after `E`). Takeovers whose span (from the grant to
//! the takeover) overlaps a network or process fault, or the few seconds
//! after one ends, are counted apart: the bound allows a leader change's
//! full lease there, and a partition or pause for as long as it lasts. The
//! history does not record terms; a fault's aftermath stands in for the
//! leader changes it causes (a restarted or rejoining node can force an
//! election a second or two after the nemesis stopped).

use crate::by_key::KeyOps;
use crate::checks::{ms_to_ns, secs};
use crate::history::{Outcome, Request};
use crate::nemesis::NemesisWindow;
use crate::ops::Op;

/// The steer rate of cluster time (idem_core::SteerRate::DEFAULT).
const STEER: f64 = 0.1;
/// What the bound allows on top: client scheduling, replication and the
/// millisecond rounding of cluster time.
const SLACK_MS: u64 = 100;

/// How long after a fault ends an election it caused may still happen.
const AFTERMATH_NS: u64 = 3_000_000_000;

/// Faults after which a lease may legitimately be a whole length late.
const FAULTS: [&str; 6] = [
    "partition-halves",
    "isolate-leader",
    "partition-ring",
    "packet-loss",
    "kill",
    "pause",
];

/// One takeover's lateness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub key: String,
    /// When the lease had certainly ended, and when the takeover was
    /// acknowledged (ns since the run began).
    pub ended_ns: u64,
    pub taken_ns: u64,
    pub lease_ms: u64,
    pub late_ns: u64,
    /// A network or process fault overlapped the lease's span.
    pub under_fault: bool,
}

impl Takeover {
    /// The bound with no leader change, in ns.
    pub fn bound_ns(&self) -> u64 {
        let allowed = self.lease_ms as f64 * STEER / (1.0 - STEER);
        ms_to_ns(allowed.ceil() as u64 + SLACK_MS)
    }
}

/// Every takeover on `key`, with its lateness.
pub fn takeovers(key: &KeyOps<'_>, windows: &[NemesisWindow]) -> Vec<Takeover> {
    key.grants_by_token()
        .windows(2)
        .filter_map(|w| takeover(key, w[0], w[1], windows))
        .collect()
}

fn takeover(
    key: &KeyOps<'_>,
    (t1, g1): (u64, &Op),
    (_, g2): (u64, &Op),
    windows: &[NemesisWindow],
) -> Option<Takeover> {
    if !matches!(g2.outcome(), Some(Outcome::Reserved { takeover: true, .. })) {
        return None;
    }
    let (g1_ok, g2_ok) = (g1.ok_at()?, g2.ok_at()?);
    let Request::Reserve { lease_ms, .. } = g1.request else {
        return None;
    };
    let between = |op: &&&Op| op.invoke.seq > g1_ok.seq && op.invoke.seq < g2_ok.seq;
    // The lease had certainly ended by the latest acknowledged extension's
    // ok plus its lease (the grant's own, or a heartbeat's).
    let mut ended = g1_ok.time_ns.saturating_add(ms_to_ns(lease_ms));
    let mut longest = lease_ms;
    for op in key.ops.iter().filter(between) {
        match (&op.request, op.outcome()) {
            (
                Request::Heartbeat {
                    token, lease_ms, ..
                },
                Some(Outcome::Extended { .. }),
            ) if *token == t1 => {
                if let Some(ok) = op.ok_at() {
                    ended = ended.max(ok.time_ns.saturating_add(ms_to_ns(*lease_ms)));
                    longest = longest.max(*lease_ms);
                }
            }
            // Given back: the next grant is no takeover of this lease.
            // A resume by the owner's attempt renews the lease too.
            (
                Request::Reserve { lease_ms, .. },
                Some(Outcome::Reserved {
                    token,
                    resumed: true,
                    ..
                }),
            ) if *token == t1 => {
                if let Some(ok) = op.ok_at() {
                    ended = ended.max(ok.time_ns.saturating_add(ms_to_ns(*lease_ms)));
                    longest = longest.max(*lease_ms);
                }
            }
            (Request::Release { token, .. } | Request::Complete { token, .. }, _)
                if *token == t1 && op.may_have_happened() =>
            {
                return None;
            }
            _ => {}
        }
    }
    let late_ns = key
        .ops
        .iter()
        .filter(between)
        .filter(|op| matches!(op.outcome(), Some(Outcome::InProgress)))
        .map(|op| op.invoke.time_ns.saturating_sub(ended))
        .max()
        .unwrap_or(0);
    let under_fault = windows.iter().any(|w| {
        FAULTS.contains(&w.name.as_str())
            && w.start.seq < g2_ok.seq
            && w.stop.is_none_or(|s| {
                s.seq > g1.invoke.seq || s.time_ns.saturating_add(AFTERMATH_NS) > g1.invoke.time_ns
            })
    });
    Some(Takeover {
        key: key.key.to_string(),
        ended_ns: ended,
        taken_ns: g2_ok.time_ns,
        lease_ms: longest,
        late_ns,
        under_fault,
    })
}

/// The summary's lines: the distribution without faults (and how many
/// exceeded the bound), and under faults.
pub fn lines(all: &[Takeover]) -> Vec<String> {
    let mut out = Vec::new();
    for (label, under_fault) in [
        (
            "outside network and process faults (and 3 s after each)",
            false,
        ),
        ("under network or process faults", true),
    ] {
        let mut late: Vec<u64> = all
            .iter()
            .filter(|t| t.under_fault == under_fault)
            .map(|t| t.late_ns)
            .collect();
        if late.is_empty() {
            out.push(format!("{label}: no takeovers"));
            continue;
        }
        late.sort_unstable();
        let at = |q: f64| {
            let i = ((late.len() - 1) as f64 * q).round() as usize;
            late[i.min(late.len() - 1)] as f64 / 1e6
        };
        let mut text = format!(
            "{label}: {} takeovers, late by p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            late.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0)
        );
        if !under_fault {
            let beyond = all
                .iter()
                .filter(|t| !t.under_fault && t.late_ns > t.bound_ns())
                .count();
            text.push_str(&format!(
                "; {beyond} beyond the bound (lease x {STEER}/(1 - {STEER}) + {SLACK_MS} ms)"
            ));
        }
        out.push(text);
    }
    for t in all
        .iter()
        .filter(|t| !t.under_fault && t.late_ns > t.bound_ns())
        .take(10)
    {
        out.push(format!(
            "  beyond: key {:?}, a {} ms lease certainly over at {}, still refused {:.0} ms later, taken over at {}",
            t.key,
            t.lease_ms,
            secs(t.ended_ns),
            t.late_ns as f64 / 1e6,
            secs(t.taken_ns)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::by_key::group;
    use crate::history::NemesisPhase;
    use crate::nemesis::windows;
    use crate::ops::pair;
    use crate::testing::*;

    fn run(h: &EventsBuilder) -> Vec<Takeover> {
        let p = pair(&h.events);
        let (w, _) = windows(&h.events);
        group(&p.ops)
            .iter()
            .flat_map(|k| takeovers(k, &w))
            .collect()
    }

    #[test]
    fn a_takeover_refused_after_the_lease_ended_is_late_by_that_much() {
        let mut h = EventsBuilder::default();
        // Granted (acknowledged at 1 ms) with a 2-s lease: certainly ended
        // at 2.001 s.
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 2_000, 10_000), granted(10));
        h.at_ms(1_000)
            .call(2, "k", reserve("a"), Outcome::InProgress);
        h.at_ms(2_500)
            .call(2, "k", reserve("a"), Outcome::InProgress);
        h.at_ms(2_600).call(2, "k", reserve("a"), took_over(20));
        let t = run(&h);
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0].late_ns, 499_000_000);
        assert!(!t[0].under_fault);
        assert_eq!(
            t[0].bound_ns(),
            323_000_000,
            "2000 x 0.1/0.9, rounded up, + 100"
        );
        assert!(
            lines(&t)[0].contains("1 beyond the bound"),
            "{:?}",
            lines(&t)
        );
    }

    #[test]
    fn a_prompt_takeover_is_not_late_and_faults_are_counted_apart() {
        let mut h = EventsBuilder::default();
        h.at_ms(0)
            .call(1, "k", reserve_for("a", 2_000, 10_000), granted(10));
        h.at_ms(1_000)
            .call(2, "k", reserve("a"), Outcome::InProgress);
        h.at_ms(2_100)
            .call(2, "k", reserve_for("a", 2_000, 10_000), took_over(20));
        h.push(nemesis(NemesisPhase::Start, "kill"));
        h.at_ms(2_200)
            .call(1, "k", reserve("a"), Outcome::InProgress);
        h.at_ms(6_000).call(1, "k", reserve("a"), took_over(30));
        h.push(nemesis(NemesisPhase::Stop, "kill"));
        let t = run(&h);
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!((t[0].late_ns, t[0].under_fault), (0, false));
        assert_eq!(t[0].key, "k");
        assert!(t[1].under_fault);
        let l = lines(&t);
        assert!(
            l[0].contains("1 takeovers") && l[0].contains("0 beyond"),
            "{l:?}"
        );
        assert!(
            l[1].contains("under network or process faults: 1 takeovers"),
            "{l:?}"
        );
    }

    #[test]
    fn the_seconds_after_a_fault_count_as_under_it() {
        let mut h = EventsBuilder::default();
        h.push(nemesis(NemesisPhase::Start, "pause"));
        h.at_ms(500).push(nemesis(NemesisPhase::Stop, "pause"));
        // Granted 1 s after the pause ended: its election may still come.
        h.at_ms(1_500)
            .call(1, "k", reserve_for("a", 1_000, 10_000), granted(10));
        h.at_ms(4_000)
            .call(2, "k", reserve_for("a", 1_000, 10_000), took_over(20));
        // Granted 3.5 s after: outside.
        h.at_ms(6_000)
            .call(1, "k", reserve_for("a", 1_000, 10_000), took_over(30));
        let t = run(&h);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].under_fault, "{t:?}");
        assert!(!t[1].under_fault, "{t:?}");
    }
}
