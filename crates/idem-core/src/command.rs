//! Commands: the only way the replicated state changes.
//!
//! A command is built at the edge from validated input, proposed to the
//! leader, stamped, replicated, and applied on every replica by
//! [`crate::apply`]. Anything random (a minted key, a new namespace secret) is
//! chosen before proposing and carried here, so applying stays deterministic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api_key::{ApiKeyId, ApiKeyRecord, AuthSecret};
use crate::attempt::AttemptDigest;
use crate::derive::CanonicalPayload;
use crate::durations::{LeaseDuration, RetainDuration};
use crate::fingerprint::Fingerprint;
use crate::names::{KeyId, Namespace};
use crate::namespace::{NamespaceSecret, PolicyChange};
use crate::response::StoredResponse;
use crate::time::Stamp;
use crate::token::{FencingToken, LogPosition, MAX_BATCH};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Reserve(Reserve),
    Heartbeat(Heartbeat),
    Complete(Complete),
    Release(Release),
    Purge(Purge),
    Mint(Mint),
    Derive(Derive),
    SetPolicy(SetPolicy),
    /// API keys and the secret they are hashed under (see [`ApiKeyCommand`]).
    ApiKey(ApiKeyCommand),
    /// A command made with an API key (see [`ByKey`]).
    ByKey(ByKey),
    /// Replace a namespace's quota (kept last: earlier variants keep their
    /// encoding).
    SetQuota(SetQuota),
}

/// A namespace's new quota, replacing the old one whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetQuota {
    pub namespace: Namespace,
    pub quota: crate::quota::NamespaceQuota,
}

/// A command made with an API key: it takes effect only if that key is in
/// force (known, not revoked, not expired) when the command is applied, so
/// a command can never outrun a revocation acknowledged before it. The
/// edge has checked the key's role and namespaces already; those never
/// change, so only whether it is still in force is judged again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByKey {
    pub key: ApiKeyId,
    pub command: Box<Command>,
}

/// Claim a key before running its side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reserve {
    pub id: KeyId,
    pub fingerprint: Option<Fingerprint>,
    /// `None`: the namespace's default.
    pub lease: Option<LeaseDuration>,
    /// `None`: the namespace's default.
    pub retain: Option<RetainDuration>,
    /// The digest of the caller's attempt id: a reserve that finds the key
    /// in progress under the same attempt and fingerprint resumes it.
    pub attempt: Option<AttemptDigest>,
}

/// The owner extends its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub id: KeyId,
    pub token: FencingToken,
    /// `None`: the lease length the key was reserved with.
    pub lease: Option<LeaseDuration>,
    /// The owner is about to run its side effect: the record keeps its
    /// token as one that may have acted, until the key completes.
    pub committing: bool,
}

/// The owner stores the side effect's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complete {
    pub id: KeyId,
    pub token: FencingToken,
    pub response: StoredResponse,
}

/// The owner gives the key up (a retryable failure): the key becomes free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub id: KeyId,
    pub token: FencingToken,
    /// The owner asserts it did not run its side effect. Required to release
    /// a reservation it marked committing.
    pub not_committed: bool,
}

/// Delete records whose forget deadline has passed. Proposed by the leader
/// with candidates from its deadline index; each is checked again at apply
/// time, so a candidate that is not yet due is left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub ids: Vec<KeyId>,
}

/// Register a server-generated key (a UUIDv7 drawn by the proposing node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mint {
    pub id: KeyId,
    /// Used only if the namespace does not exist yet.
    pub secret_if_new: NamespaceSecret,
}

/// Compute the deterministic key for a payload under the namespace's secret,
/// creating the namespace (with `secret_if_new`) on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derive {
    pub namespace: Namespace,
    pub payload: CanonicalPayload,
    pub secret_if_new: NamespaceSecret,
}

/// Change a namespace's policy, creating it (with `secret_if_new`) on first
/// use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPolicy {
    pub namespace: Namespace,
    pub change: PolicyChange,
    pub secret_if_new: NamespaceSecret,
}

/// Changes to the cluster's API keys. Applied in log order like every
/// command, so a revocation takes effect for every entry after it on every
/// node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyCommand {
    /// Store a new key (its record: the hash, never the key). Refused if a
    /// key with that id exists.
    Create(ApiKeyRecord),
    /// Refuse the key from this entry on. Revoking a revoked key is a no-op.
    Revoke(ApiKeyId),
    /// Set the cluster's auth secret: once, at bootstrap; refused after.
    SetSecret(AuthSecret),
    /// Replace key `old` by `new` (same name, role and namespaces): `new`
    /// is stored, and `old` stays in force until `old_expires_at_ms` (or
    /// its own earlier expiry). Refused if `old` is unknown or revoked, or
    /// a key with `new`'s id exists.
    Rotate {
        old: ApiKeyId,
        new: ApiKeyRecord,
        old_expires_at_ms: u64,
    },
}

/// A command as it comes out of the log: where it sits and when the leader
/// stamped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub position: LogPosition,
    pub stamp: Stamp,
    pub command: Command,
}

impl Command {
    /// This command made with `key` (unchanged when `None`: no key was
    /// asked for, as on a cluster without auth).
    pub fn made_with(self, key: Option<ApiKeyId>) -> Command {
        match key {
            Some(key) => Command::ByKey(ByKey {
                key,
                command: Box::new(self),
            }),
            None => self,
        }
    }

    /// The key the command was made with (the outermost, should a peer
    /// have nested them), and the command itself.
    pub fn parts(&self) -> (Option<&ApiKeyId>, &Command) {
        match self {
            Command::ByKey(c) => (Some(&c.key), c.command.parts().1),
            other => (None, other),
        }
    }

    /// The token a command presents, for those that need one.
    pub fn token(&self) -> Option<FencingToken> {
        match self.parts().1 {
            Command::Heartbeat(c) => Some(c.token),
            Command::Complete(c) => Some(c.token),
            Command::Release(c) => Some(c.token),
            _ => None,
        }
    }

    /// The one key a command is about, for those about one key.
    pub fn key(&self) -> Option<&KeyId> {
        match self.parts().1 {
            Command::Reserve(c) => Some(&c.id),
            Command::Heartbeat(c) => Some(&c.id),
            Command::Complete(c) => Some(&c.id),
            Command::Release(c) => Some(&c.id),
            Command::Mint(c) => Some(&c.id),
            Command::Purge(_)
            | Command::Derive(_)
            | Command::SetPolicy(_)
            | Command::ApiKey(_)
            | Command::SetQuota(_)
            | Command::ByKey(_) => None,
        }
    }
}

/// What the leader puts in the Raft log: one stamp and the commands it
/// covers (at least one, at most [`MAX_BATCH`]), applied in order. Many
/// commands share one entry so that they share one log write (group commit
/// above Raft). The entry's log position is added by the log.
///
/// Command `slot` of the entry at log index `i` is applied at the *virtual*
/// position `i * 2^BATCH_BITS + slot` (same term), so every command has a
/// position of its own, positions strictly increase in log order, and the
/// fencing token a grant hands out stays unique and increasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedBatch")]
pub struct StampedBatch {
    stamp: Stamp,
    commands: Vec<Command>,
}

/// The wire form of a [`StampedBatch`], checked when decoded.
#[derive(Deserialize)]
struct UncheckedBatch {
    stamp: Stamp,
    commands: Vec<Command>,
}

/// A batch with no command or more than [`MAX_BATCH`] commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBatchSize(pub usize);

impl fmt::Display for BadBatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a log entry carries 1 to {MAX_BATCH} commands, not {}",
            self.0
        )
    }
}

impl std::error::Error for BadBatchSize {}

impl TryFrom<UncheckedBatch> for StampedBatch {
    type Error = BadBatchSize;

    fn try_from(b: UncheckedBatch) -> Result<Self, BadBatchSize> {
        StampedBatch::new(b.stamp, b.commands)
    }
}

/// For logs: how many commands, stamped in which term.
impl fmt::Display for StampedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} command(s) stamped in term {}",
            self.commands.len(),
            self.stamp.term
        )
    }
}

impl StampedBatch {
    /// A batch of 1 to [`MAX_BATCH`] commands under one stamp.
    pub fn new(stamp: Stamp, commands: Vec<Command>) -> Result<Self, BadBatchSize> {
        if commands.is_empty() || commands.len() > MAX_BATCH {
            return Err(BadBatchSize(commands.len()));
        }
        Ok(StampedBatch { stamp, commands })
    }

    /// A batch of one command.
    pub fn one(stamp: Stamp, command: Command) -> Self {
        StampedBatch {
            stamp,
            commands: vec![command],
        }
    }

    pub fn stamp(&self) -> &Stamp {
        &self.stamp
    }

    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// The entries to apply, in order, once the log has placed the batch at
    /// `position` (its Raft term and index): each at its virtual position.
    pub fn at(self, position: LogPosition) -> impl Iterator<Item = Entry> {
        let stamp = self.stamp;
        self.commands
            .into_iter()
            .enumerate()
            .map(move |(slot, command)| Entry {
                position: position.virtual_slot(slot as u64),
                stamp,
                command,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{IdemKey, Namespace};
    use crate::token::BATCH_BITS;

    fn release(n: u64) -> Command {
        Command::Release(Release {
            id: KeyId::new(
                Namespace::new("ns").unwrap(),
                IdemKey::new(format!("k{n}")).unwrap(),
            ),
            token: FencingToken(n),
            not_committed: false,
        })
    }

    #[test]
    fn commands_of_an_entry_get_distinct_increasing_virtual_positions() {
        let commands: Vec<Command> = (1..=MAX_BATCH as u64).map(release).collect();
        let at = |index| {
            StampedBatch::new(Stamp::ZERO, commands.clone())
                .unwrap()
                .at(LogPosition { term: 3, index })
                .collect::<Vec<_>>()
        };
        let (first, next) = (at(7), at(8));
        let positions: Vec<LogPosition> = first.iter().chain(&next).map(|e| e.position).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        assert!(positions.iter().all(|p| p.term == 3));
        assert_eq!(positions[0].index, 7 << BATCH_BITS);
        assert_eq!(positions[MAX_BATCH - 1].index, (8 << BATCH_BITS) - 1);
        assert_eq!(positions[MAX_BATCH].index, 8 << BATCH_BITS);
        // Each entry keeps its command, in order, under the batch's stamp.
        assert!(first.iter().zip(&commands).all(|(e, c)| &e.command == c));
    }

    #[test]
    fn a_batch_holds_one_to_max_batch_commands_also_when_decoded() {
        assert_eq!(StampedBatch::new(Stamp::ZERO, vec![]), Err(BadBatchSize(0)));
        let too_many: Vec<Command> = (0..=MAX_BATCH as u64).map(release).collect();
        assert_eq!(
            StampedBatch::new(Stamp::ZERO, too_many.clone()),
            Err(BadBatchSize(MAX_BATCH + 1))
        );
        // A log entry carrying too many (or no) commands does not decode.
        #[derive(Serialize)]
        struct Raw {
            stamp: Stamp,
            commands: Vec<Command>,
        }
        for commands in [vec![], too_many] {
            let bytes = bincode::serialize(&Raw {
                stamp: Stamp::ZERO,
                commands,
            })
            .unwrap();
            assert!(bincode::deserialize::<StampedBatch>(&bytes).is_err());
        }
        let one = StampedBatch::one(Stamp::ZERO, release(1));
        let bytes = bincode::serialize(&one).unwrap();
        assert_eq!(bincode::deserialize::<StampedBatch>(&bytes).unwrap(), one);
    }
}
