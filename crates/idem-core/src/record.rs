//! What the store holds for one key.

use serde::{Deserialize, Serialize};

use crate::attempt::AttemptDigest;
use crate::durations::{LeaseDuration, RetainDuration};
use crate::fingerprint::Fingerprint;
use crate::response::StoredResponse;
use crate::time::{Deadline, Stamp};
use crate::token::FencingToken;

/// The state of one `(namespace, key)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Record {
    /// Minted by the server and not reserved yet.
    Minted(MintedKey),
    /// Owned by the worker holding `token`, under a lease.
    InProgress(Reservation),
    /// Finished: holds the response to replay.
    Completed(Completion),
    /// Given up by its owner while earlier owners may have run the side
    /// effect: free to reserve, and the next grant is told who may have
    /// acted. (A release with no such history leaves no record.)
    Released(ReleasedKey),
}

/// A server-minted key waiting for its first reserve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MintedKey {
    pub minted_at: Stamp,
    pub retain: RetainDuration,
}

/// A key owned by one worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reservation {
    pub token: FencingToken,
    pub fingerprint: Option<Fingerprint>,
    /// When the lease was granted or last extended by a heartbeat.
    pub lease_renewed_at: Stamp,
    pub lease_duration: LeaseDuration,
    /// How long the completed response will be kept.
    pub retain: RetainDuration,
    /// Whether the key was minted by the server (a release returns it to
    /// [`Record::Minted`] rather than deleting it).
    pub minted: bool,
    /// The digest of the attempt that was granted the key, if it sent one.
    pub attempt: Option<AttemptDigest>,
    /// Whether the grant was a takeover (echoed when the attempt resumes).
    pub takeover: bool,
    /// Every token that marked the key committing since it was first
    /// reserved (it is kept across takeovers and releases until the key
    /// completes), in increasing order; the owner's own token is last if it
    /// marked committing.
    pub committing: Vec<FencingToken>,
}

/// A key released while tokens of earlier owners had marked it committing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReleasedKey {
    /// The owner that released it.
    pub token: FencingToken,
    pub fingerprint: Option<Fingerprint>,
    pub released_at: Stamp,
    pub retain: RetainDuration,
    pub minted: bool,
    /// The tokens that may have run the side effect (never empty).
    pub committing: Vec<FencingToken>,
}

/// A key whose side effect finished, with the response to replay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Completion {
    pub token: FencingToken,
    pub fingerprint: Option<Fingerprint>,
    pub response: StoredResponse,
    pub completed_at: Stamp,
    pub retain: RetainDuration,
}

impl MintedKey {
    pub fn retention(&self) -> Deadline {
        Deadline::after(self.minted_at, self.retain.as_ms())
    }
}

impl Reservation {
    /// The end of the current lease: until it passes, nobody can take the key
    /// over.
    pub fn lease(&self) -> Deadline {
        Deadline::after(self.lease_renewed_at, self.lease_duration.as_ms())
    }

    /// When an abandoned reservation (lease over, never completed, never
    /// taken over) is forgotten: its lease plus its retention.
    pub fn abandonment(&self) -> Deadline {
        Deadline::after(
            self.lease_renewed_at,
            self.lease_duration
                .as_ms()
                .saturating_add(self.retain.as_ms()),
        )
    }
}

impl Reservation {
    /// Whether the owner itself marked the key committing.
    pub fn owner_committing(&self) -> bool {
        self.committing.last() == Some(&self.token)
    }

    /// The tokens of earlier owners that marked the key committing.
    pub fn previous_committing(&self) -> Vec<FencingToken> {
        self.committing
            .iter()
            .copied()
            .filter(|t| *t != self.token)
            .collect()
    }
}

impl ReleasedKey {
    pub fn retention(&self) -> Deadline {
        Deadline::after(self.released_at, self.retain.as_ms())
    }
}

impl Completion {
    pub fn retention(&self) -> Deadline {
        Deadline::after(self.completed_at, self.retain.as_ms())
    }
}

impl Record {
    /// Bytes of stored response it holds (counted against a namespace's
    /// `max_stored_bytes`).
    pub fn stored_bytes(&self) -> u64 {
        match self {
            Record::Completed(c) => c.response.approximate_size() as u64,
            Record::Minted(_) | Record::InProgress(_) | Record::Released(_) => 0,
        }
    }

    /// The deadline after which this record is forgotten: the key reads as
    /// absent and may be purged.
    pub fn forget_deadline(&self) -> Deadline {
        match self {
            Record::Minted(m) => m.retention(),
            Record::InProgress(r) => r.abandonment(),
            Record::Completed(c) => c.retention(),
            Record::Released(r) => r.retention(),
        }
    }

    pub fn is_forgotten(&self, now: &Stamp) -> bool {
        self.forget_deadline().has_passed(now)
    }

    /// The fencing token of the record's owner, if it has ever had one.
    pub fn token(&self) -> Option<FencingToken> {
        match self {
            Record::Minted(_) => None,
            Record::InProgress(r) => Some(r.token),
            Record::Completed(c) => Some(c.token),
            Record::Released(r) => Some(r.token),
        }
    }

    /// Name of the state as the API shows it.
    pub fn state_name(&self) -> &'static str {
        match self {
            Record::Minted(_) => "minted",
            Record::InProgress(_) => "in_progress",
            Record::Completed(_) => "completed",
            Record::Released(_) => "released",
        }
    }
}
