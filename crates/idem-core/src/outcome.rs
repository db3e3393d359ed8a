//! What applying a command produced: one type per command, mapped one to one
//! onto the rows of the semantics table (and, at the HTTP edge, onto status
//! codes).
//!
//! Every deadline is given twice: as an absolute `*_at_ms`/`*_until_ms` in
//! cluster time (the wall time the deadline would pass at if every clock
//! were right), and as `*_remaining_ms`, how long it lasts from the entry's
//! time by both bounds (`idem_core::Deadline::remaining_ms`), which holds
//! whatever the wall clocks do.

use serde::{Deserialize, Serialize};

use crate::api_key::{ApiKeyId, NotAuthenticated};
use crate::names::{IdemKey, KeyId};
use crate::namespace::NamespacePolicy;
use crate::quota::{NamespaceQuota, OverQuota};
use crate::response::StoredResponse;
use crate::token::FencingToken;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Reserve(ReserveOutcome),
    Heartbeat(HeartbeatOutcome),
    Complete(CompleteOutcome),
    Release(ReleaseOutcome),
    Purge(PurgeOutcome),
    Mint(MintOutcome),
    Derive(DeriveOutcome),
    SetPolicy(NamespacePolicy),
    ApiKey(ApiKeyOutcome),
    /// The entry could not be judged safely; nothing changed and the client
    /// may retry.
    Refused(Refusal),
    /// The API key the command was made with was not in force when it was
    /// applied (revoked, expired or unknown); nothing changed.
    KeyNotInForce(NotAuthenticated),
    /// The namespace's quota as set.
    SetQuota(NamespaceQuota),
}

impl Outcome {
    /// Whether the command wrote the record it is about: a grant, a resume,
    /// an extension, a completion, a release, a purge or a mint. Answers
    /// that leave the record as it was (a replay, `in_progress`, a lost
    /// token, a refusal) did not. (Forgetting a record that had already
    /// passed its deadline does not count: it changes no answer.)
    pub fn wrote_record(&self) -> bool {
        match self {
            Outcome::Reserve(o) => matches!(o, ReserveOutcome::Reserved { .. }),
            Outcome::Heartbeat(o) => matches!(o, HeartbeatOutcome::Extended { .. }),
            Outcome::Complete(o) => matches!(o, CompleteOutcome::Completed { .. }),
            Outcome::Release(o) => matches!(o, ReleaseOutcome::Released { .. }),
            Outcome::Purge(o) => !o.purged.is_empty(),
            Outcome::Mint(o) => matches!(o, MintOutcome::Minted { .. }),
            Outcome::Derive(_)
            | Outcome::SetPolicy(_)
            | Outcome::ApiKey(_)
            | Outcome::Refused(_)
            | Outcome::SetQuota(_)
            | Outcome::KeyNotInForce(_) => false,
        }
    }
}

/// What an API key command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyOutcome {
    Created {
        id: ApiKeyId,
    },
    /// A key with this id exists already; nothing changed.
    Exists {
        id: ApiKeyId,
    },
    Revoked {
        id: ApiKeyId,
    },
    NotFound {
        id: ApiKeyId,
    },
    SecretSet,
    /// The secret was set before; nothing changed.
    SecretAlreadySet,
    /// `new` is stored; `old` stays in force until `old_expires_at_ms`.
    Rotated {
        old: ApiKeyId,
        new: ApiKeyId,
        old_expires_at_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReserveOutcome {
    /// 201: the caller owns the key and may run the side effect.
    Reserved {
        token: FencingToken,
        lease_expires_at_ms: u64,
        /// How long the lease lasts from this answer, in real time (the
        /// lease's duration): what a client should count by, whatever the
        /// wall clocks say.
        lease_remaining_ms: u64,
        /// The key's previous owner's lease had run out (or it released
        /// the key while earlier owners had marked it committing).
        takeover: bool,
        /// The caller's own attempt resumed its grant: same token, lease
        /// extended. `takeover` and `previous_committing` are the grant's.
        resumed: bool,
        /// Tokens of earlier owners that marked the key committing: they may
        /// have run the side effect, so the new owner must reconcile (look
        /// the effect up downstream) rather than repeat it.
        previous_committing: Vec<FencingToken>,
    },
    /// 409 with `Retry-After`: another worker owns the key under a live lease.
    InProgress { retry_after_ms: u64 },
    /// 200 with `Idempotent-Replayed: true`: the side effect already ran.
    Completed {
        token: FencingToken,
        response: StoredResponse,
    },
    /// 422: the key is bound to a different request.
    FingerprintMismatch,
    /// 404/422: the namespace accepts only minted keys and this one was not
    /// minted (or has been forgotten).
    KeyNotMinted,
    /// 429: a grant would create a record and the namespace holds its
    /// `max_records`; nothing changed.
    OverQuota(OverQuota),
}

/// Why a token no longer owns its key (409: the worker must not commit its
/// side effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LostKey {
    /// No record: never reserved, released, or forgotten.
    Absent,
    /// Minted but not reserved.
    NotReserved,
    /// A later grant owns the key.
    Superseded { current: FencingToken },
    /// The key is completed (by `by`, possibly the caller itself).
    Completed { by: FencingToken },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeartbeatOutcome {
    Extended {
        token: FencingToken,
        lease_expires_at_ms: u64,
        lease_remaining_ms: u64,
        /// Whether the owner has marked the key committing (this heartbeat
        /// or an earlier one).
        committing: bool,
    },
    Lost(LostKey),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompleteOutcome {
    /// The response is stored.
    Completed {
        token: FencingToken,
        retain_until_ms: u64,
        retain_remaining_ms: u64,
    },
    /// The same owner sent the same response again: nothing changes, 200.
    AlreadyCompleted {
        token: FencingToken,
        retain_until_ms: u64,
        retain_remaining_ms: u64,
    },
    /// The same owner sent a different response: 409, the first one stands.
    ConflictingResponse {
        token: FencingToken,
    },
    Lost(LostKey),
    /// 429: storing the response would take the namespace past its
    /// `max_stored_bytes`; nothing changed (the lease still holds).
    OverQuota(OverQuota),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseOutcome {
    Released {
        token: FencingToken,
    },
    /// 409: the owner marked the key committing; it may release only by
    /// asserting that it did not run the side effect. Nothing changed.
    Committing {
        token: FencingToken,
    },
    Lost(LostKey),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeOutcome {
    /// Records deleted.
    pub purged: Vec<KeyId>,
    /// Candidates left alone because they are not due (or already gone).
    pub skipped: u64,
    /// The soonest a skipped candidate can become due, judged at this
    /// entry's time (the cleaner waits this long before trying again).
    pub next_due_in_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MintOutcome {
    Minted {
        id: KeyId,
        expires_at_ms: u64,
        retain_remaining_ms: u64,
    },
    /// The drawn key already exists (practically never for a UUIDv7): retry.
    KeyExists,
    /// 429: the namespace holds its `max_records`; nothing changed.
    OverQuota(OverQuota),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeriveOutcome {
    pub key: IdemKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The stamp was made in another term than the entry's: a leader that
    /// lost and regained leadership between stamping and appending. Its
    /// monotonic reading is not comparable, so the entry is not applied.
    StampFromAnotherTerm { stamp_term: u64, entry_term: u64 },
    /// The stamp is older than time already applied.
    StaleStamp { stamp_term: u64, applied_term: u64 },
}
