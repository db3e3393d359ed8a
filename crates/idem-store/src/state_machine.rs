//! The state machine: applies committed entries with `idem_core::apply`,
//! builds snapshots from a consistent point-in-time copy, installs snapshots
//! received from the leader.
//!
//! Records, the applied clock, the last-applied log id and the membership
//! are written in one batch per apply call, so they always agree. These
//! writes are not synced: the log (synced) can replay them after a crash,
//! and a log purge syncs the shared write-ahead log first.

use std::io::{self, Seek, SeekFrom};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use idem_core::{Command, KeyId, LogPosition, Outcome};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rocksdb::{IteratorMode, WriteBatch, DB};

use crate::applied_meta::{read_last_applied, AppliedMeta, AppliedMetaCell};
use crate::codec::{decode, encode, expiry_key, record_id_from_key};
use crate::db::{
    self, cf, synced, CF_AUTH, CF_EXPIRY, CF_NAMESPACES, CF_QUOTAS, CF_RECORDS, CF_SM,
    KEY_AUTH_SECRET, KEY_CLOCK, KEY_INSTALLING, KEY_LAST_APPLIED, KEY_MEMBERSHIP,
};
use crate::error::{blocking, to_io, StoreError};
use crate::key_watch::KeyWatch;
use crate::pending::PendingWrites;
use crate::snapshot_dir::SnapshotDir;
use crate::snapshot_file::{FrameKind, SnapshotReader, SnapshotWriter};
use crate::types::{
    AppliedOutcomes, IdemRaftTypes, LogId, Snapshot, SnapshotMeta, StoredMembership,
};
use crate::usage::UsageCounts;

type Meta<C> = SnapshotMeta<<C as openraft::RaftTypeConfig>::Node>;
type Membership<C> = StoredMembership<<C as openraft::RaftTypeConfig>::Node>;
type SnapshotOf<C> = Snapshot<<C as openraft::RaftTypeConfig>::Node>;

pub struct StateMachineStore<C> {
    db: Arc<DB>,
    snapshots: SnapshotDir,
    checkpoints: PathBuf,
    /// Commands applied by this process, shared with the `StateReader`.
    applied_commands: Arc<AtomicU64>,
    /// The applied clock and log id, shared with the `StateReader`.
    applied: Arc<AppliedMetaCell>,
    /// Told which keys each apply touched.
    key_watch: KeyWatch,
    /// What namespaces with a quota hold.
    usage: UsageCounts,
    _types: PhantomData<C>,
}

/// The keys each command of `entry` is about (a purge: its candidates).
fn keys_of<C: IdemRaftTypes>(entry: &C::Entry) -> Vec<Vec<KeyId>> {
    let EntryPayload::Normal(batch) = &entry.payload else {
        return Vec::new();
    };
    batch
        .commands()
        .iter()
        .map(|command| match command {
            Command::Purge(p) => p.ids.clone(),
            other => other.key().cloned().into_iter().collect(),
        })
        .collect()
}

/// The last-applied log id and membership as stored in `db`.
pub(crate) fn applied_state<C: IdemRaftTypes>(
    db: &DB,
) -> Result<(Option<LogId>, Membership<C>), StoreError> {
    let last = read_last_applied(db)?;
    let membership = match db.get_pinned_cf(cf(db, CF_SM)?, KEY_MEMBERSHIP)? {
        None => StoredMembership::default(),
        Some(b) => decode(&b, "membership")?,
    };
    Ok((last, membership))
}

fn apply_entries<C: IdemRaftTypes>(
    db: &DB,
    applied: &AppliedMetaCell,
    usage: &UsageCounts,
    entries: Vec<C::Entry>,
) -> Result<Vec<AppliedOutcomes>, StoreError> {
    let before = applied.get();
    let mut pending = PendingWrites::new(db, before.clock, usage.clone());
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut last_applied = None;
    let mut membership = None;
    for entry in entries {
        last_applied = Some(entry.log_id);
        match entry.payload {
            EntryPayload::Blank => outcomes.push(Vec::new()),
            EntryPayload::Normal(batch) => {
                let position = LogPosition {
                    term: entry.log_id.leader_id.term,
                    index: entry.log_id.index,
                };
                outcomes.push(apply_batch(&mut pending, batch, position)?);
            }
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m));
                outcomes.push(Vec::new());
            }
        }
    }
    let sm = cf(db, CF_SM)?;
    let mut batch = std::mem::take(&mut pending.batch);
    if let Some(last) = last_applied {
        batch.put_cf(sm, KEY_LAST_APPLIED, encode(&Some(last))?);
    }
    if let Some(m) = membership {
        batch.put_cf(sm, KEY_MEMBERSHIP, encode(&m)?);
    }
    let after = AppliedMeta {
        clock: pending.clock_after(),
        last_applied: last_applied.or(before.last_applied),
    };
    db.write(batch)?;
    usage.written_batch(&pending.usage_deltas);
    applied.set(after);
    Ok(outcomes)
}

/// Applies the commands of one log entry in order, each at its virtual
/// position. The refusals (`idem_core::Refusal`) depend only on the stamp
/// and the entry's term, which all commands share: if the first command is
/// refused, nothing is applied and every command answers that refusal.
fn apply_batch(
    pending: &mut PendingWrites<'_>,
    batch: idem_core::StampedBatch,
    position: LogPosition,
) -> Result<AppliedOutcomes, StoreError> {
    let count = batch.commands().len();
    let mut outcomes = Vec::with_capacity(count);
    for entry in batch.at(position) {
        let outcome = idem_core::apply(pending, &entry)?;
        if let Outcome::Refused(_) = outcome {
            if outcomes.is_empty() {
                return Ok(vec![outcome; count]);
            }
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Replaces the state machine's contents with the snapshot at `path`. A
/// marker naming the file is kept (synced) while loading, so a crash part-way
/// is finished at the next start-up instead of leaving a mixed state.
pub(crate) fn load_snapshot<C: IdemRaftTypes>(
    db: &DB,
    path: &std::path::Path,
) -> Result<Meta<C>, StoreError> {
    let (meta, mut reader): (Meta<C>, _) = SnapshotReader::open(path)?;
    let sm = cf(db, CF_SM)?;
    let records = cf(db, CF_RECORDS)?;
    let namespaces = cf(db, CF_NAMESPACES)?;
    let expiry = cf(db, CF_EXPIRY)?;
    let auth = cf(db, CF_AUTH)?;
    let quotas = cf(db, CF_QUOTAS)?;
    db.put_cf_opt(
        sm,
        KEY_INSTALLING,
        path.to_string_lossy().as_bytes(),
        &synced(),
    )?;

    let mut batch = WriteBatch::default();
    batch.delete_range_cf(records, [0u8].as_slice(), [0xFFu8].as_slice());
    batch.delete_range_cf(namespaces, [0u8].as_slice(), [0xFFu8].as_slice());
    batch.delete_range_cf(expiry, [0u8; 8].as_slice(), [0xFFu8; 9].as_slice());
    batch.delete_range_cf(auth, [0u8].as_slice(), [0xFFu8].as_slice());
    batch.delete_range_cf(quotas, [0u8].as_slice(), [0xFFu8].as_slice());
    batch.delete_cf(sm, KEY_CLOCK);
    let mut in_batch = 0;
    while let Some((kind, key, value)) = reader.next_frame()? {
        match kind {
            FrameKind::Record => {
                let record: idem_core::Record = decode(&value, "snapshot record")?;
                let id = record_id_from_key(&key)?;
                batch.put_cf(
                    expiry,
                    expiry_key(record.forget_deadline().wall_ms(), &id),
                    [],
                );
                batch.put_cf(records, key, value);
            }
            FrameKind::Namespace => {
                let _: idem_core::NamespaceRecord = decode(&value, "snapshot namespace")?;
                batch.put_cf(namespaces, key, value);
            }
            FrameKind::Clock => {
                let _: idem_core::AppliedClock = decode(&value, "snapshot clock")?;
                batch.put_cf(sm, KEY_CLOCK, value);
            }
            FrameKind::Auth => {
                if key.as_slice() == KEY_AUTH_SECRET {
                    let _: idem_core::AuthSecret = decode(&value, "snapshot auth secret")?;
                } else {
                    let _: idem_core::ApiKeyRecord = decode(&value, "snapshot API key")?;
                }
                batch.put_cf(auth, key, value);
            }
            FrameKind::Quota => {
                let _: idem_core::NamespaceQuota = decode(&value, "snapshot quota")?;
                batch.put_cf(quotas, key, value);
            }
        }
        in_batch += 1;
        if in_batch >= 10_000 {
            db.write(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    batch.put_cf(sm, KEY_LAST_APPLIED, encode(&meta.last_log_id)?);
    batch.put_cf(sm, KEY_MEMBERSHIP, encode(&meta.last_membership)?);
    batch.delete_cf(sm, KEY_INSTALLING);
    db.write_opt(batch, &synced())?;
    Ok(meta)
}

/// Streams the state machine of a read-only point-in-time copy into a
/// snapshot file.
fn write_snapshot<C: IdemRaftTypes>(
    copy: &DB,
    path: &std::path::Path,
) -> Result<Meta<C>, StoreError> {
    let (last_log_id, last_membership) = applied_state::<C>(copy)?;
    let meta = SnapshotMeta {
        last_log_id,
        last_membership,
    };
    let mut w = SnapshotWriter::create(path, &meta)?;
    for (name, kind) in [
        (CF_RECORDS, FrameKind::Record),
        (CF_NAMESPACES, FrameKind::Namespace),
        (CF_AUTH, FrameKind::Auth),
        (CF_QUOTAS, FrameKind::Quota),
    ] {
        for item in copy.iterator_cf(cf(copy, name)?, IteratorMode::Start) {
            let (k, v) = item?;
            w.frame(kind, &k, &v)?;
        }
    }
    if let Some(clock) = copy.get_cf(cf(copy, CF_SM)?, KEY_CLOCK)? {
        w.frame(FrameKind::Clock, KEY_CLOCK, &clock)?;
    }
    w.finish()?;
    Ok(meta)
}

impl<C: IdemRaftTypes> StateMachineStore<C> {
    pub(crate) fn new(
        db: Arc<DB>,
        snapshots: SnapshotDir,
        checkpoints: PathBuf,
        applied_commands: Arc<AtomicU64>,
        applied: Arc<AppliedMetaCell>,
        key_watch: KeyWatch,
    ) -> Self {
        StateMachineStore {
            db,
            snapshots,
            checkpoints,
            applied_commands,
            applied,
            key_watch,
            usage: UsageCounts::default(),
            _types: PhantomData,
        }
    }

    async fn open_snapshot(path: PathBuf, meta: Meta<C>) -> Result<SnapshotOf<C>, StoreError> {
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Snapshot {
            meta,
            snapshot: file,
        })
    }

    /// Applies committed entries in one write batch; one answer per entry
    /// (per command of its batch), in order. What Raft's `apply` does,
    /// callable by tests without openraft's responders.
    pub async fn apply_committed(
        &mut self,
        entries: Vec<C::Entry>,
    ) -> Result<Vec<AppliedOutcomes>, StoreError> {
        // Collected only while someone waits. A watcher registered after
        // this point reads at a read index at or after these entries (they
        // are committed already), so it cannot miss what they did.
        let keys: Vec<Vec<Vec<KeyId>>> = if self.key_watch.has_watchers() {
            entries.iter().map(keys_of::<C>).collect()
        } else {
            Vec::new()
        };
        // On the caller's thread: an unsynced write batch (memtable inserts
        // and a write(2) to the WAL) and point reads of the keys it
        // touches. Handing it to the blocking pool cost two thread
        // wake-ups per apply, more than the write itself.
        let outcomes = apply_entries::<C>(&self.db, &self.applied, &self.usage, entries)?;
        // Only writes wake waiters: a waiter's own reserve answered
        // `in_progress` through the log must not wake it again.
        for (entry_keys, entry_outcomes) in keys.iter().zip(&outcomes) {
            for (command_keys, outcome) in entry_keys.iter().zip(entry_outcomes) {
                if outcome.wrote_record() {
                    self.key_watch.touch(command_keys);
                }
            }
        }
        // One outcome per command (Raft's own entries have none).
        let commands: usize = outcomes.iter().map(Vec::len).sum();
        self.applied_commands
            .fetch_add(commands as u64, Ordering::Relaxed);
        Ok(outcomes)
    }

    /// Where the network layer receives snapshots from the leader.
    pub fn snapshot_inbox(&self) -> SnapshotInbox {
        SnapshotInbox {
            snapshots: self.snapshots.clone(),
        }
    }
}

/// Makes the files a follower receives the leader's snapshot into (the
/// network layer writes the leader's bytes, then hands the file to Raft,
/// whose install verifies it whole before it replaces anything).
#[derive(Clone)]
pub struct SnapshotInbox {
    snapshots: SnapshotDir,
}

impl SnapshotInbox {
    /// A new anonymous file, readable and writable: it disappears when
    /// dropped.
    pub fn file(&self) -> Result<tokio::fs::File, StoreError> {
        let path = self.snapshots.temp_path();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(tokio::fs::File::from_std(file))
    }
}

pub struct SnapshotBuilder<C> {
    /// A RocksDB checkpoint taken between two apply calls, or why it failed.
    checkpoint: Result<PathBuf, String>,
    snapshots: SnapshotDir,
    _types: PhantomData<C>,
}

impl<C: IdemRaftTypes> RaftSnapshotBuilder<C> for SnapshotBuilder<C> {
    type SnapshotData = tokio::fs::File;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C>, io::Error> {
        let checkpoint = self
            .checkpoint
            .clone()
            .map_err(|e| to_io(StoreError::Task(e)))?;
        let snapshots = self.snapshots.clone();
        let built = blocking(move || {
            let copy = db::open_read_only(&checkpoint)?;
            let temp = snapshots.temp_path();
            let meta = write_snapshot::<C>(&copy, &temp)?;
            drop(copy);
            std::fs::remove_dir_all(&checkpoint).map_err(|e| StoreError::io(&checkpoint, e))?;
            let path = snapshots.publish(&temp, &meta)?;
            Ok((path, meta))
        })
        .await
        .map_err(to_io)?;
        StateMachineStore::<C>::open_snapshot(built.0, built.1)
            .await
            .map_err(to_io)
    }
}

impl<C: IdemRaftTypes> RaftStateMachine<C> for StateMachineStore<C> {
    type SnapshotData = tokio::fs::File;
    type SnapshotBuilder = SnapshotBuilder<C>;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership<C>), io::Error> {
        applied_state::<C>(&self.db).map_err(to_io)
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        // Every committed entry openraft hands over at once, applied in one
        // write batch.
        let (entries, responders): (Vec<C::Entry>, Vec<_>) =
            entries.try_collect::<Vec<_>>().await?.into_iter().unzip();
        let outcomes = self.apply_committed(entries).await.map_err(to_io)?;
        for (responder, outcome) in responders.into_iter().zip(outcomes) {
            if let Some(responder) = responder {
                responder.send(outcome);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // This runs between two apply calls, so the checkpoint holds records,
        // last-applied id and membership of exactly one moment.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = self.checkpoints.join(format!("checkpoint-{nanos}"));
        let checkpoint = std::fs::create_dir_all(&self.checkpoints)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                rocksdb::checkpoint::Checkpoint::new(self.db.as_ref()).map_err(|e| e.to_string())
            })
            .and_then(|c| c.create_checkpoint(&path).map_err(|e| e.to_string()))
            .map(|_| path);
        SnapshotBuilder {
            checkpoint,
            snapshots: self.snapshots.clone(),
            _types: PhantomData,
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta<C>,
        snapshot: tokio::fs::File,
    ) -> Result<(), io::Error> {
        let mut received = snapshot.into_std().await;
        let db = self.db.clone();
        let applied = self.applied.clone();
        let snapshots = self.snapshots.clone();
        let expected = meta.clone();
        let usage = self.usage.clone();
        blocking(move || {
            // Copy the received bytes to a file of our own, verify it whole,
            // and only then let it replace anything.
            let temp = snapshots.temp_path();
            received
                .seek(SeekFrom::Start(0))
                .map_err(|e| StoreError::io(&temp, e))?;
            let mut out = std::fs::File::create(&temp).map_err(|e| StoreError::io(&temp, e))?;
            std::io::copy(&mut received, &mut out).map_err(|e| StoreError::io(&temp, e))?;
            out.sync_all().map_err(|e| StoreError::io(&temp, e))?;
            let (got, reader): (Meta<C>, _) = SnapshotReader::open(&temp)?;
            reader.verify()?;
            if got.last_log_id != expected.last_log_id
                || got.last_membership != expected.last_membership
            {
                return Err(StoreError::corrupt(
                    "received snapshot",
                    format!(
                        "holds {:?} ({:?}), expected {:?} ({:?})",
                        got.last_log_id,
                        got.last_membership,
                        expected.last_log_id,
                        expected.last_membership
                    ),
                ));
            }
            let path = snapshots.publish(&temp, &got)?;
            // Counts of the replaced records no longer hold (also if the
            // load fails part-way).
            let loaded = load_snapshot::<C>(&db, &path);
            usage.forget();
            loaded?;
            applied.set(AppliedMeta::read(&db)?);
            Ok(())
        })
        .await
        .map_err(to_io)?;
        self.key_watch.touch_all();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<C>>, io::Error> {
        let current = self.snapshots.current::<C::Node>().map_err(to_io)?;
        match current {
            None => Ok(None),
            Some((path, meta)) => Self::open_snapshot(path, meta)
                .await
                .map(Some)
                .map_err(to_io),
        }
    }
}
