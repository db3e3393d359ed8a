//! Reading values written in on-disk format 2, so that a node upgraded in
//! place keeps its data.
//!
//! Format 3 added attempts and committing marks to the key lifecycle: a
//! reserve carries an attempt digest, a heartbeat a committing mark, a
//! release the owner's assertion, a reservation its attempt, whether it was a
//! takeover and its committing tokens, and a record can be `Released`.
//! The types here are the format-2 shapes of what changed, decoded and then
//! carried forward with the new fields at their neutral values (no attempt,
//! not committing, no history), which is what those records meant. Values
//! that did not change decode as they are.

use idem_core::{
    Command, Complete, Derive, FencingToken, Fingerprint, KeyId, LeaseDuration, Mint, MintedKey,
    Purge, Record, Reservation, RetainDuration, SetPolicy, Stamp, StampedBatch,
};
use openraft::{EntryPayload, Membership, Node};
use serde::Deserialize;

use crate::types::{Entry, LogId, NodeId};

#[derive(Deserialize)]
pub(crate) enum RecordV2 {
    Minted(MintedKey),
    InProgress(ReservationV2),
    Completed(idem_core::Completion),
}

#[derive(Deserialize)]
pub(crate) struct ReservationV2 {
    token: FencingToken,
    fingerprint: Option<Fingerprint>,
    lease_renewed_at: Stamp,
    lease_duration: LeaseDuration,
    retain: RetainDuration,
    minted: bool,
}

impl From<RecordV2> for Record {
    fn from(r: RecordV2) -> Record {
        match r {
            RecordV2::Minted(m) => Record::Minted(m),
            RecordV2::Completed(c) => Record::Completed(c),
            RecordV2::InProgress(r) => Record::InProgress(Reservation {
                token: r.token,
                fingerprint: r.fingerprint,
                lease_renewed_at: r.lease_renewed_at,
                lease_duration: r.lease_duration,
                retain: r.retain,
                minted: r.minted,
                attempt: None,
                // Format 2 did not say; the token order tells nothing either.
                // A resume never reads it (no attempt), and it is not a
                // committing history, so `false` reports nothing untrue.
                takeover: false,
                committing: Vec::new(),
            }),
        }
    }
}

#[derive(Deserialize)]
enum CommandV2 {
    Reserve(ReserveV2),
    Heartbeat(HeartbeatV2),
    Complete(Complete),
    Release(ReleaseV2),
    Purge(Purge),
    Mint(Mint),
    Derive(Derive),
    SetPolicy(SetPolicy),
}

#[derive(Deserialize)]
struct ReserveV2 {
    id: KeyId,
    fingerprint: Option<Fingerprint>,
    lease: Option<LeaseDuration>,
    retain: Option<RetainDuration>,
}

#[derive(Deserialize)]
struct HeartbeatV2 {
    id: KeyId,
    token: FencingToken,
    lease: Option<LeaseDuration>,
}

#[derive(Deserialize)]
struct ReleaseV2 {
    id: KeyId,
    token: FencingToken,
}

impl From<CommandV2> for Command {
    fn from(c: CommandV2) -> Command {
        match c {
            CommandV2::Reserve(r) => Command::Reserve(idem_core::Reserve {
                id: r.id,
                fingerprint: r.fingerprint,
                lease: r.lease,
                retain: r.retain,
                attempt: None,
            }),
            CommandV2::Heartbeat(h) => Command::Heartbeat(idem_core::Heartbeat {
                id: h.id,
                token: h.token,
                lease: h.lease,
                committing: false,
            }),
            CommandV2::Complete(c) => Command::Complete(c),
            CommandV2::Release(r) => Command::Release(idem_core::Release {
                id: r.id,
                token: r.token,
                not_committed: false,
            }),
            CommandV2::Purge(p) => Command::Purge(p),
            CommandV2::Mint(m) => Command::Mint(m),
            CommandV2::Derive(d) => Command::Derive(d),
            CommandV2::SetPolicy(s) => Command::SetPolicy(s),
        }
    }
}

#[derive(Deserialize)]
struct BatchV2 {
    stamp: Stamp,
    commands: Vec<CommandV2>,
}

/// A format-2 log entry: openraft's `Entry` with a format-2 batch.
#[derive(Deserialize)]
#[serde(bound = "")]
pub(crate) struct EntryV2<N: Node> {
    log_id: LogId,
    payload: PayloadV2<N>,
}

#[derive(Deserialize)]
#[serde(bound = "")]
enum PayloadV2<N: Node> {
    Blank,
    Normal(BatchV2),
    Membership(Membership<NodeId, N>),
}

impl<N: Node> TryFrom<EntryV2<N>> for Entry<N> {
    type Error = idem_core::BadBatchSize;

    fn try_from(e: EntryV2<N>) -> Result<Self, Self::Error> {
        let payload = match e.payload {
            PayloadV2::Blank => EntryPayload::Blank,
            PayloadV2::Membership(m) => EntryPayload::Membership(m),
            PayloadV2::Normal(b) => EntryPayload::Normal(StampedBatch::new(
                b.stamp,
                b.commands.into_iter().map(Command::from).collect(),
            )?),
        };
        Ok(Entry {
            log_id: e.log_id,
            payload,
        })
    }
}
