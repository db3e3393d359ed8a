//! Reserving a key: the options, and the outcome a caller cannot ignore.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use idem_core::{FencingToken, StoredResponse};
use rand::RngCore;

use crate::lease::Lease;

/// What a reserve answered. `#[must_use]`, and every variant says what to
/// do: run the side effect (`Owned`), reconcile first (`TakenOver` with
/// `previous_committing`), replay (`Completed`), or come back later.
#[must_use]
pub enum Reservation {
    /// The key is yours: commit, run the side effect, complete.
    Owned(Lease),
    /// The key is yours after an earlier owner's lease ran out (or it
    /// released). If `previous_committing` is not empty, those tokens
    /// marked the key committing and may have run the side effect: look it
    /// up downstream and complete with what you find, rather than repeat it.
    TakenOver {
        lease: Lease,
        previous_committing: Vec<FencingToken>,
    },
    /// The side effect already ran: replay this response.
    Completed {
        response: StoredResponse,
        token: FencingToken,
    },
    /// Another attempt holds the key: retry after `retry_after` (or reserve
    /// with [`ReserveOptions::wait`]).
    InProgress { retry_after: Duration },
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reservation::Owned(l) => write!(f, "Owned(token {})", l.token()),
            Reservation::TakenOver {
                lease,
                previous_committing,
            } => write!(
                f,
                "TakenOver(token {}, previous_committing {previous_committing:?})",
                lease.token()
            ),
            Reservation::Completed { token, .. } => write!(f, "Completed(token {token})"),
            Reservation::InProgress { retry_after } => write!(f, "InProgress({retry_after:?})"),
        }
    }
}

/// How to reserve. The attempt id is drawn at random for each logical
/// request unless given: pass your own (and keep it) to resume a grant
/// across a restart of your process.
#[derive(Debug, Clone, Default)]
pub struct ReserveOptions {
    pub(crate) fingerprint: Option<String>,
    pub(crate) lease: Option<Duration>,
    pub(crate) retain: Option<Duration>,
    pub(crate) wait: Option<Duration>,
    pub(crate) attempt: Option<String>,
}

impl ReserveOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// A digest of the request the key stands for.
    pub fn fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }

    /// The lease length (default: the namespace's, 30 s unless set).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How long the completed response is kept.
    pub fn retain(mut self, retain: Duration) -> Self {
        self.retain = Some(retain);
        self
    }

    /// Wait up to this long (at most 60 s) for another attempt's result.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The attempt id (see [`new_attempt_id`]).
    pub fn attempt(mut self, attempt: impl Into<String>) -> Self {
        self.attempt = Some(attempt.into());
        self
    }
}

/// A fresh attempt id: 16 random bytes, base64url (22 characters).
pub fn new_attempt_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_ids_are_accepted_by_the_server_rules_and_differ() {
        let a = new_attempt_id();
        assert_eq!(a.len(), 22);
        assert!(idem_core::AttemptId::new(a.clone()).is_ok());
        assert_ne!(a, new_attempt_id());
    }
}
