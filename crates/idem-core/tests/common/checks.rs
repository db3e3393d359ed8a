//! The reference model: what a correct store may answer, judged against
//! true time. It tracks, per key, the latest grant, its owner (token,
//! fingerprint, lease, when true time last renewed it) and the stored
//! completion. Each check below names one property; a trace passes a
//! property when no line of it violates that property.
//!
//! The model is strict about earliness (nothing may end early) and holds
//! lateness to the written bound ([`latest_end`]); its `Progress` checks
//! make sure an implementation that refuses everything does not pass.

use std::collections::BTreeMap;

use idem_core::*;

use super::sim::STEER;
use super::workload::{Event, Kind, Observed};

/// Rounding: cluster time is read in whole milliseconds.
const ROUNDING_MS: u64 = 2;

/// The written lateness bound (`docs/ARCHITECTURE.md`, "How late"): a
/// deadline `d` ms long set at true time `set` has passed by
/// `max(set + d / (1 − steer), T + d)`, where `T` is the start of the term
/// of the leader judging it if that term began after `set` (the monotonic
/// bound is counted again from there), `set` otherwise.
pub fn latest_end(set: u64, d: u64, term_start: u64) -> u64 {
    let ppm = u64::from(STEER.ppm());
    let by_cluster_time = set + (d * 1_000_000).div_ceil(1_000_000 - ppm);
    let by_monotonic = term_start.max(set) + d;
    by_cluster_time.max(by_monotonic) + ROUNDING_MS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// Fencing tokens granted for a key strictly increase.
    TokensIncrease,
    /// Only the latest grant's holder is ever accepted as owner.
    SingleOwner,
    /// No key is granted again before its owner's lease has run out in true time.
    NoEarlyTakeover,
    /// A completed response is replayed unchanged and never forgotten before
    /// its retention ends in true time.
    CompletedStable,
    /// A key answers only the request (fingerprint) it was reserved for.
    FingerprintBinding,
    /// What must succeed does: a free key is granted, an owner within its
    /// lease is accepted, a completion within retention is replayed.
    Progress,
    /// No key is refused as in progress after its owner's lease must have
    /// ended by the written bound, whatever the wall clocks did.
    NoLateTakeover,
    /// No completion is replayed or read after its retention must have
    /// ended by the written bound.
    NoLateForget,
    /// Only the owner's own attempt resumes its grant, and gets its token.
    AttemptBinding,
    /// Every token that marked a key committing is reported to each later
    /// grant (takeovers, resumes, reads) until the key completes, and a
    /// committing owner cannot release without asserting it did not commit.
    CommittingKept,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub property: Property,
    pub line: usize,
    pub detail: String,
}

#[derive(Debug, Clone)]
struct Owner {
    token: FencingToken,
    fingerprint: Option<String>,
    lease_ms: u64,
    renewed_real_ms: u64,
    retain_ms: u64,
    attempt: Option<usize>,
}

impl Owner {
    fn lease_live(&self, t: u64) -> bool {
        t < self.renewed_real_ms + self.lease_ms
    }
    fn lease_surely_over(&self, t: u64, term_start: u64) -> bool {
        t >= latest_end(self.renewed_real_ms, self.lease_ms, term_start)
    }
    /// Before this, an abandoned reservation cannot have been forgotten.
    fn surely_remembered(&self, t: u64) -> bool {
        t < self.renewed_real_ms + self.lease_ms + self.retain_ms
    }
    fn surely_forgotten(&self, t: u64, term_start: u64) -> bool {
        t >= latest_end(
            self.renewed_real_ms,
            self.lease_ms + self.retain_ms,
            term_start,
        )
    }
}

/// A key released while earlier owners had marked it committing.
#[derive(Debug, Clone)]
struct Freed {
    fingerprint: Option<String>,
    at_real_ms: u64,
    retain_ms: u64,
}

impl Freed {
    fn surely_remembered(&self, t: u64) -> bool {
        t < self.at_real_ms + self.retain_ms
    }
    fn surely_forgotten(&self, t: u64, term_start: u64) -> bool {
        t >= latest_end(self.at_real_ms, self.retain_ms, term_start)
    }
}

#[derive(Debug, Clone)]
struct Done {
    token: FencingToken,
    fingerprint: Option<String>,
    response: StoredResponse,
    at_real_ms: u64,
    retain_ms: u64,
}

impl Done {
    fn retained(&self, t: u64) -> bool {
        t < self.at_real_ms + self.retain_ms
    }
    fn surely_forgotten(&self, t: u64, term_start: u64) -> bool {
        t >= latest_end(self.at_real_ms, self.retain_ms, term_start)
    }
}

#[derive(Debug, Clone, Default)]
struct KeyModel {
    last_token: Option<FencingToken>,
    owner: Option<Owner>,
    done: Option<Done>,
    released: Option<Freed>,
    /// The tokens that marked the key committing since it last completed.
    history: Vec<FencingToken>,
}

impl KeyModel {
    /// Whether the record holding the committing history is surely still
    /// there (`Some(true)`), surely forgotten (`Some(false)`), or either.
    fn history_remembered(&self, t: u64, term_start: u64) -> Option<bool> {
        let (sure, gone) = match (&self.owner, &self.released) {
            (Some(o), _) => (o.surely_remembered(t), o.surely_forgotten(t, term_start)),
            (None, Some(r)) => (r.surely_remembered(t), r.surely_forgotten(t, term_start)),
            (None, None) => (false, true),
        };
        match (sure, gone) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        }
    }
}

/// Every violation in the trace.
pub fn violations(trace: &[Event]) -> Vec<Violation> {
    let mut keys: BTreeMap<String, KeyModel> = BTreeMap::new();
    let mut found = Vec::new();
    for (line, event) in trace.iter().enumerate() {
        if event.sent.kind == Kind::Purge {
            continue;
        }
        let m = keys.entry(event.sent.key.clone()).or_default();
        let mut v = |property: Property, detail: String| {
            found.push(Violation {
                property,
                line,
                detail,
            })
        };
        observe(m, event, &mut v);
    }
    found
}

/// `Ok` when no line of the trace violates `property`.
pub fn check(trace: &[Event], property: Property) -> Result<(), String> {
    match violations(trace)
        .into_iter()
        .find(|v| v.property == property)
    {
        None => Ok(()),
        Some(v) => Err(format!(
            "{:?} violated at line {}: {}\n{:#?}",
            v.property,
            v.line,
            v.detail,
            trace.get(v.line)
        )),
    }
}

fn observe(m: &mut KeyModel, e: &Event, v: &mut impl FnMut(Property, String)) {
    use Property::*;
    let t = e.real_ms;
    let term_start = e.term_start_real_ms;
    let sent = &e.sent;
    match &e.observed {
        Observed::Outcome(Outcome::Reserve(o)) => {
            let fp = &sent.fingerprint;
            if let Some(owner) = &m.owner {
                if sent.attempt.is_some()
                    && owner.attempt == sent.attempt
                    && &owner.fingerprint == fp
                    && owner.surely_remembered(t)
                    && !matches!(o, ReserveOutcome::Reserved { resumed: true, .. })
                {
                    v(
                        Progress,
                        format!("the owner's own attempt was not resumed: {o:?}"),
                    );
                }
            }
            if m.owner.is_none()
                && m.done.is_none()
                && m.released.is_none()
                && !matches!(
                    o,
                    ReserveOutcome::Reserved {
                        takeover: false,
                        ..
                    }
                )
            {
                v(Progress, format!("a free key was not granted: {o:?}"));
            }
            if let Some(d) = &m.done {
                if d.retained(t)
                    && &d.fingerprint == fp
                    && !matches!(o, ReserveOutcome::Completed { .. })
                {
                    v(
                        Progress,
                        format!("a retained completion was not replayed: {o:?}"),
                    );
                }
            }
            match o {
                ReserveOutcome::Reserved {
                    token,
                    resumed: true,
                    previous_committing,
                    ..
                } => match &mut m.owner {
                    Some(owner)
                        if owner.token == *token
                            && sent.attempt.is_some()
                            && owner.attempt == sent.attempt =>
                    {
                        if &owner.fingerprint != fp {
                            v(
                                FingerprintBinding,
                                format!(
                                    "{fp:?} resumed a key reserved for {:?}",
                                    owner.fingerprint
                                ),
                            );
                        }
                        let expected: Vec<FencingToken> =
                            m.history.iter().copied().filter(|k| *k != *token).collect();
                        if previous_committing != &expected {
                            v(
                                CommittingKept,
                                format!(
                                    "resume reported {previous_committing:?}, history {expected:?}"
                                ),
                            );
                        }
                        owner.renewed_real_ms = t;
                        if let Some(l) = sent.lease_ms {
                            owner.lease_ms = l;
                        }
                    }
                    owner => v(
                        AttemptBinding,
                        format!(
                            "attempt {:?} resumed token {token}; owner {:?}",
                            sent.attempt,
                            owner.as_ref().map(|o| (o.token, o.attempt))
                        ),
                    ),
                },
                ReserveOutcome::Reserved {
                    token,
                    previous_committing,
                    ..
                } => {
                    if m.last_token.is_some_and(|p| *token <= p) {
                        v(
                            TokensIncrease,
                            format!("token {token} after {:?}", m.last_token),
                        );
                    }
                    if let Some(owner) = &m.owner {
                        if owner.lease_live(t) {
                            v(
                                NoEarlyTakeover,
                                format!("granted {token} while {} held a live lease", owner.token),
                            );
                        }
                        if &owner.fingerprint != fp && owner.surely_remembered(t) {
                            v(
                                FingerprintBinding,
                                format!("{fp:?} took a key reserved for {:?}", owner.fingerprint),
                            );
                        }
                    }
                    if let Some(d) = &m.done {
                        if d.retained(t) {
                            v(
                                CompletedStable,
                                format!(
                                    "completion by {} forgotten before its retention ended",
                                    d.token
                                ),
                            );
                        }
                    }
                    if let Some(r) = &m.released {
                        if &r.fingerprint != fp && r.surely_remembered(t) {
                            v(
                                FingerprintBinding,
                                format!("{fp:?} took a key released by {:?}", r.fingerprint),
                            );
                        }
                    }
                    let reported_right = match m.history_remembered(t, term_start) {
                        Some(true) => previous_committing == &m.history,
                        Some(false) => previous_committing.is_empty(),
                        None => previous_committing == &m.history || previous_committing.is_empty(),
                    };
                    if !reported_right {
                        v(
                            CommittingKept,
                            format!(
                                "grant {token} reported {previous_committing:?}; history {:?}",
                                m.history
                            ),
                        );
                    }
                    m.last_token = Some(*token);
                    m.owner = Some(Owner {
                        token: *token,
                        fingerprint: fp.clone(),
                        lease_ms: sent.lease_ms.unwrap_or(0),
                        renewed_real_ms: t,
                        retain_ms: sent.retain_ms.unwrap_or(0),
                        attempt: sent.attempt,
                    });
                    m.history = previous_committing.clone();
                    m.released = None;
                    m.done = None;
                }
                ReserveOutcome::InProgress { .. } => match &m.owner {
                    None => v(
                        Progress,
                        "in_progress reported for a key nobody owns".into(),
                    ),
                    Some(owner) if &owner.fingerprint != fp => v(
                        FingerprintBinding,
                        format!("{fp:?} was told in_progress for {:?}", owner.fingerprint),
                    ),
                    Some(owner) if owner.lease_surely_over(t, term_start) => v(
                        NoLateTakeover,
                        format!(
                            "in_progress {} ms after a {} ms lease by {} was renewed \
                             (bound: {} ms, term began {} ms after the renewal)",
                            t - owner.renewed_real_ms,
                            owner.lease_ms,
                            owner.token,
                            latest_end(owner.renewed_real_ms, owner.lease_ms, term_start)
                                - owner.renewed_real_ms,
                            term_start.saturating_sub(owner.renewed_real_ms),
                        ),
                    ),
                    Some(_) => {}
                },
                ReserveOutcome::Completed { response, .. } => match &m.done {
                    None => v(
                        CompletedStable,
                        "replayed a completion that was never stored".into(),
                    ),
                    Some(d) => {
                        if d.surely_forgotten(t, term_start) {
                            v(
                                NoLateForget,
                                format!(
                                    "replayed {} ms after a {} ms retention began",
                                    t - d.at_real_ms,
                                    d.retain_ms
                                ),
                            );
                        }
                        if &d.response != response {
                            v(
                                CompletedStable,
                                format!("replayed {response:?}, stored {:?}", d.response),
                            );
                        }
                        if &d.fingerprint != fp {
                            v(
                                FingerprintBinding,
                                format!("{fp:?} got the response of {:?}", d.fingerprint),
                            );
                        }
                    }
                },
                ReserveOutcome::FingerprintMismatch => {
                    let differs = m.owner.as_ref().is_some_and(|o| &o.fingerprint != fp)
                        || m.done.as_ref().is_some_and(|d| &d.fingerprint != fp)
                        || m.released.as_ref().is_some_and(|r| &r.fingerprint != fp);
                    if !differs {
                        v(
                            Progress,
                            "fingerprint mismatch reported for a matching fingerprint".into(),
                        );
                    }
                }
                ReserveOutcome::KeyNotMinted => v(
                    Progress,
                    "key_not_minted in a namespace that does not require it".into(),
                ),
                ReserveOutcome::OverQuota(q) => {
                    v(Progress, format!("over quota with no quota set: {q:?}"))
                }
            }
        }
        Observed::Outcome(Outcome::Heartbeat(o)) => {
            let k = sent.token;
            match o {
                HeartbeatOutcome::Extended { committing, .. } => match &mut m.owner {
                    Some(owner) if Some(owner.token) == k => {
                        owner.renewed_real_ms = t;
                        if let Some(l) = sent.lease_ms {
                            owner.lease_ms = l;
                        }
                        if sent.committing && m.history.last() != Some(&owner.token) {
                            m.history.push(owner.token);
                        }
                        if *committing != (m.history.last() == Some(&owner.token)) {
                            v(
                                CommittingKept,
                                format!("heartbeat says committing {committing}; {:?}", m.history),
                            );
                        }
                    }
                    _ => v(
                        SingleOwner,
                        format!(
                            "heartbeat with {k:?} accepted; owner is {:?}",
                            m.owner.as_ref().map(|o| o.token)
                        ),
                    ),
                },
                HeartbeatOutcome::Lost(_) => refused_owner(m, k, t, v),
            }
        }
        Observed::Outcome(Outcome::Complete(o)) => {
            let k = sent.token;
            match o {
                CompleteOutcome::Completed { .. } => match m.owner.take() {
                    Some(owner) if Some(owner.token) == k => {
                        m.history.clear();
                        m.released = None;
                        m.done = Some(Done {
                            token: owner.token,
                            fingerprint: owner.fingerprint,
                            response: sent.response.clone().expect("complete carries a response"),
                            at_real_ms: t,
                            retain_ms: owner.retain_ms,
                        });
                    }
                    owner => {
                        v(
                            SingleOwner,
                            format!(
                                "complete with {k:?} accepted; owner is {:?}",
                                owner.as_ref().map(|o| o.token)
                            ),
                        );
                        m.owner = owner;
                    }
                },
                CompleteOutcome::AlreadyCompleted { .. } => match &m.done {
                    Some(d)
                        if Some(d.token) == k && Some(&d.response) == sent.response.as_ref() => {}
                    _ => v(
                        SingleOwner,
                        format!("complete with {k:?} called idempotent, but it did not complete"),
                    ),
                },
                CompleteOutcome::ConflictingResponse { .. } => match &m.done {
                    Some(d)
                        if Some(d.token) == k && Some(&d.response) != sent.response.as_ref() => {}
                    _ => v(Progress, format!("complete with {k:?} called conflicting")),
                },
                CompleteOutcome::OverQuota(q) => {
                    v(Progress, format!("over quota with no quota set: {q:?}"))
                }
                CompleteOutcome::Lost(_) => {
                    refused_owner(m, k, t, v);
                    if m.done
                        .as_ref()
                        .is_some_and(|d| Some(d.token) == k && d.retained(t))
                    {
                        v(
                            Progress,
                            "a repeated completion by its owner was refused as lost".into(),
                        );
                    }
                }
            }
        }
        Observed::Outcome(Outcome::Release(o)) => {
            let k = sent.token;
            match o {
                ReleaseOutcome::Released { .. } => match m.owner.take() {
                    Some(owner) if Some(owner.token) == k => {
                        if m.history.last() == Some(&owner.token) {
                            if !sent.not_committed {
                                v(
                                    CommittingKept,
                                    format!("committing {} released unasserted", owner.token),
                                );
                            }
                            m.history.pop();
                        }
                        m.released = (!m.history.is_empty()).then_some(Freed {
                            fingerprint: owner.fingerprint,
                            at_real_ms: t,
                            retain_ms: owner.retain_ms,
                        });
                    }
                    owner => {
                        v(
                            SingleOwner,
                            format!(
                                "release with {k:?} accepted; owner is {:?}",
                                owner.as_ref().map(|o| o.token)
                            ),
                        );
                        m.owner = owner;
                    }
                },
                ReleaseOutcome::Committing { .. } => match &m.owner {
                    Some(owner)
                        if Some(owner.token) == k
                            && m.history.last() == Some(&owner.token)
                            && !sent.not_committed => {}
                    _ => v(
                        Progress,
                        format!("release with {k:?} refused as committing"),
                    ),
                },
                ReleaseOutcome::Lost(_) => refused_owner(m, k, t, v),
            }
        }
        Observed::Read(record) => match record {
            Some(Record::Released(r)) => {
                if m.owner.is_some() || m.released.is_none() {
                    v(
                        SingleOwner,
                        format!(
                            "read shows {} released; model owner {:?}",
                            r.token,
                            m.owner.as_ref().map(|o| o.token)
                        ),
                    );
                }
                if r.committing != m.history {
                    v(
                        CommittingKept,
                        format!(
                            "read shows {:?} committing, history {:?}",
                            r.committing, m.history
                        ),
                    );
                }
            }
            Some(Record::InProgress(r)) => {
                if r.committing != m.history {
                    v(
                        CommittingKept,
                        format!(
                            "read shows {:?} committing, history {:?}",
                            r.committing, m.history
                        ),
                    );
                }
                if m.owner.as_ref().map(|o| o.token) != Some(r.token) {
                    v(
                        SingleOwner,
                        format!(
                            "read shows owner {}, model {:?}",
                            r.token,
                            m.owner.as_ref().map(|o| o.token)
                        ),
                    );
                }
            }
            Some(Record::Completed(c)) => match &m.done {
                Some(d) if d.surely_forgotten(t, term_start) => v(
                    NoLateForget,
                    format!(
                        "read {} ms after a {} ms retention began",
                        t - d.at_real_ms,
                        d.retain_ms
                    ),
                ),
                Some(d) if d.token == c.token && d.response == c.response => {}
                _ => v(
                    CompletedStable,
                    format!("read shows completion by {} that the model lacks", c.token),
                ),
            },
            Some(Record::Minted(_)) => v(Progress, "read shows a minted key nobody minted".into()),
            None => {
                if m.done.as_ref().is_some_and(|d| d.retained(t)) {
                    v(
                        CompletedStable,
                        "a retained completion reads as absent".into(),
                    );
                }
                if m.owner.as_ref().is_some_and(|o| o.surely_remembered(t)) {
                    v(Progress, "an owned key reads as absent".into());
                }
                if m.released.as_ref().is_some_and(|r| r.surely_remembered(t)) {
                    v(
                        Progress,
                        "a released key with history reads as absent".into(),
                    );
                }
            }
        },
        Observed::Outcome(other) => v(Progress, format!("unexpected outcome {other:?}")),
    }
}

/// A token was refused: that is wrong if it is the owner's and the
/// reservation cannot have been forgotten yet.
fn refused_owner(
    m: &KeyModel,
    token: Option<FencingToken>,
    t: u64,
    v: &mut impl FnMut(Property, String),
) {
    if let Some(owner) = &m.owner {
        if Some(owner.token) == token && owner.surely_remembered(t) {
            v(
                Property::Progress,
                format!("the owner's token {} was refused", owner.token),
            );
        }
    }
}
