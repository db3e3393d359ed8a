//! The judgements every bug in this domain gets wrong: has a lease ended,
//! does a request match the key's fingerprint, does a token own the key, is
//! a reserve its owner's resume, which tokens may have acted. Kept in one
//! place so a test can plant a classic bug in each (with the
//! `planted-bugs` feature) and show that the property tests catch it.

use crate::attempt::AttemptDigest;
use crate::fingerprint::Fingerprint;
use crate::record::Reservation;
use crate::time::{Deadline, Stamp};
use crate::token::FencingToken;

/// A classic idempotency-store bug, switched on for one test run.
#[cfg(feature = "planted-bugs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Leases and retention end by cluster time (the HLC bound) alone,
    /// ignoring the monotonic bound: cluster time steered toward a fast
    /// wall clock, or caught up to an agreed one, ends them early.
    ClusterTimeExpiry,
    /// Reserve ignores the fingerprint: a different request gets the key.
    SkipFingerprintCheck,
    /// Heartbeat, complete and release accept any token the key ever had.
    AcceptStaleToken,
    /// Followers answer reads from their own state without asking the leader
    /// (carried out by idem-cluster; the rules here ignore it).
    StaleReads,
    /// The leader trusts its lease for seconds after a quorum acknowledged
    /// it, far longer than followers refuse other candidates, and votes
    /// while it holds it (carried out by idem-cluster).
    LongLease,
    /// A reserve with any attempt id resumes a reservation in progress, not
    /// only one with the owner's own.
    ResumeAcrossAttempts,
    /// A reserve with the owner's attempt id resumes it even when it
    /// carries a different fingerprint.
    ResumeIgnoringFingerprint,
    /// A takeover keeps only the previous owner's committing mark: the
    /// tokens of owners before it are forgotten at the second takeover.
    CommittingForgottenAtSecondTakeover,
}

#[cfg(feature = "planted-bugs")]
impl std::str::FromStr for PlantedBug {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "cluster-time-expiry" => Ok(PlantedBug::ClusterTimeExpiry),
            "skip-fingerprint-check" => Ok(PlantedBug::SkipFingerprintCheck),
            "accept-stale-token" => Ok(PlantedBug::AcceptStaleToken),
            "stale-reads" => Ok(PlantedBug::StaleReads),
            "long-lease" => Ok(PlantedBug::LongLease),
            "resume-across-attempts" => Ok(PlantedBug::ResumeAcrossAttempts),
            "resume-ignoring-fingerprint" => Ok(PlantedBug::ResumeIgnoringFingerprint),
            "committing-forgotten" => Ok(PlantedBug::CommittingForgottenAtSecondTakeover),
            other => Err(format!(
                "unknown planted bug {other:?} (cluster-time-expiry, skip-fingerprint-check, \
                 accept-stale-token, stale-reads, long-lease, resume-across-attempts, \
                 resume-ignoring-fingerprint, committing-forgotten)"
            )),
        }
    }
}

/// The bug planted in this whole process, for a deliberately broken build
/// that the chaos harness must catch. Set once, at start-up, by the server
/// binary built with `planted-bugs`; a build without the feature has neither
/// this nor any way to plant a bug.
#[cfg(feature = "planted-bugs")]
static PROCESS_BUG: std::sync::OnceLock<PlantedBug> = std::sync::OnceLock::new();

/// Plants `bug` in every judgement this process makes from now on; false if
/// a bug was planted already.
#[cfg(feature = "planted-bugs")]
pub fn plant_bug_in_process(bug: PlantedBug) -> bool {
    PROCESS_BUG.set(bug).is_ok()
}

/// The bug planted in this process, if any.
#[cfg(feature = "planted-bugs")]
pub fn planted_bug() -> Option<PlantedBug> {
    PROCESS_BUG.get().copied()
}

/// The judgements apply uses. Without `planted-bugs` this is an empty struct
/// and every judgement is the correct one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    #[cfg(feature = "planted-bugs")]
    pub(crate) bug: Option<PlantedBug>,
}

impl Default for Rules {
    /// The correct rules, or, in a `planted-bugs` build, the process's
    /// planted bug.
    fn default() -> Self {
        Rules {
            #[cfg(feature = "planted-bugs")]
            bug: planted_bug(),
        }
    }
}

impl Rules {
    pub(crate) fn has_passed(&self, deadline: &Deadline, now: &Stamp) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::ClusterTimeExpiry) {
            return deadline.hlc_passed(now);
        }
        deadline.has_passed(now)
    }

    pub(crate) fn fingerprints_match(
        &self,
        request: Option<&Fingerprint>,
        record: Option<&Fingerprint>,
    ) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::SkipFingerprintCheck) {
            return true;
        }
        request == record
    }

    pub(crate) fn owns(&self, presented: FencingToken, owner: FencingToken) -> bool {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::AcceptStaleToken) {
            return presented <= owner;
        }
        presented == owner
    }

    /// Whether a reserve by `attempt` with `fingerprint` resumes the
    /// reservation `r`: only its own attempt, for the same request.
    pub(crate) fn resumes(
        &self,
        attempt: Option<&AttemptDigest>,
        fingerprint: Option<&Fingerprint>,
        r: &Reservation,
    ) -> bool {
        #[cfg(feature = "planted-bugs")]
        match self.bug {
            Some(PlantedBug::ResumeAcrossAttempts) => {
                return attempt.is_some()
                    && self.fingerprints_match(fingerprint, r.fingerprint.as_ref())
            }
            Some(PlantedBug::ResumeIgnoringFingerprint) => {
                return attempt.is_some() && attempt == r.attempt.as_ref()
            }
            _ => {}
        }
        attempt.is_some()
            && attempt == r.attempt.as_ref()
            && self.fingerprints_match(fingerprint, r.fingerprint.as_ref())
    }

    /// The committing tokens a grant taking over `previous` inherits.
    pub(crate) fn inherited_committing(&self, previous: &Reservation) -> Vec<FencingToken> {
        #[cfg(feature = "planted-bugs")]
        if self.bug == Some(PlantedBug::CommittingForgottenAtSecondTakeover) {
            return previous
                .committing
                .iter()
                .copied()
                .filter(|t| *t == previous.token)
                .collect();
        }
        previous.committing.clone()
    }
}
