//! # idem-core: the key lifecycle and its time model
//!
//! This crate owns the meaning of idempotency keys: names and their rules,
//! records (`in_progress` under a lease, `completed` with a stored response,
//! `released` with the tokens that may have acted), attempts (resumable
//! reserves), API keys and what each role may do, the commands that change
//! them, their outcomes, and the time
//! model that
//! decides when a lease or a retention window has ended (see [`time`]). Its
//! heart is [`apply`]: a deterministic function from (records, stamped log
//! entry) to an outcome, over the abstract [`RecordStore`].
//!
//! It must not do I/O of any kind: no files, no network, no clocks, no
//! randomness, no async, no Raft, no HTTP. Everything that varies (the time, a
//! minted key, a new secret) arrives inside a command or its stamp, so every
//! replica that applies the same log reaches the same state.

pub mod api_key;
pub mod apply;
pub mod attempt;
pub mod cluster_time;
pub mod command;
pub mod derive;
pub mod durations;
pub mod error;
pub mod fingerprint;
pub mod hybrid_clock;
mod key_commands;
mod keyed_hash;
pub mod mint;
pub mod names;
pub mod namespace;
pub mod outcome;
pub mod quota;
pub mod record;
pub mod response;
mod rules;
pub mod store;
pub mod time;
pub mod token;
pub mod wall_agreement;

pub use api_key::{
    authenticate, authorize, in_force, key_hash, key_matches, Action, ApiKeyId, ApiKeyRecord,
    AuthSecret, Forbidden, KeyHash, NamespaceScope, NotAuthenticated, PresentedKey, Role,
};
pub use apply::{apply, namespace_policy, namespace_quota, read_record, reserve_without_write};
pub use attempt::{AttemptDigest, AttemptId};
pub use cluster_time::{ClusterTime, SteerRate};
pub use command::{
    ApiKeyCommand, BadBatchSize, ByKey, Command, Complete, Derive, Entry, Heartbeat, Mint, Purge,
    Release, Reserve, SetPolicy, SetQuota, StampedBatch,
};
pub use derive::{derive_key, CanonicalPayload};
pub use durations::{LeaseDuration, RetainDuration};
pub use error::InvalidInput;
pub use fingerprint::Fingerprint;
pub use hybrid_clock::{Agreement, CatchUpRule, HybridClock};
pub use key_commands::key_in_force;
pub use mint::minted_key;
pub use names::{IdemKey, KeyId, Namespace};
pub use namespace::{NamespacePolicy, NamespaceRecord, NamespaceSecret, PolicyChange};
pub use outcome::{
    ApiKeyOutcome, CompleteOutcome, DeriveOutcome, HeartbeatOutcome, LostKey, MintOutcome, Outcome,
    PurgeOutcome, Refusal, ReleaseOutcome, ReserveOutcome,
};
pub use quota::{NamespaceQuota, NamespaceUsage, OverQuota, QuotaLimit};
pub use record::{Completion, MintedKey, Record, ReleasedKey, Reservation};
pub use response::StoredResponse;
pub use store::{MemoryStore, RecordStore};
pub use time::{AppliedClock, Deadline, HlcTimestamp, Stamp};
pub use token::{FencingToken, LogPosition, BATCH_BITS, MAX_BATCH};
pub use wall_agreement::{agreed_wall_ms, highest_agreeable_wall_ms};

#[cfg(feature = "planted-bugs")]
pub use apply::apply_with_planted_bug;
#[cfg(feature = "planted-bugs")]
pub use rules::{plant_bug_in_process, planted_bug, PlantedBug};
