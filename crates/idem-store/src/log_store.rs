//! The Raft log, the vote and the committed id, in RocksDB.
//!
//! Every write that Raft relies on for safety (log entries, the vote, a
//! truncation, a purge) is synced to disk before the call returns, and the
//! log-flushed callback fires only after that: an entry is never acknowledged
//! to the leader before it is on disk.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{LogId, OptionalSend, StorageError, StorageIOError, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch, DB};

use crate::codec::{decode, encode, index_from_key, index_key};
use crate::db::{cf, synced, CF_LOG, CF_RAFT, KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE};
use crate::error::{blocking, StoreError};
use crate::types::{IdemRaftTypes, NodeId};

pub struct LogStore<C> {
    db: Arc<DB>,
    _types: PhantomData<C>,
}

impl<C> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            db: self.db.clone(),
            _types: PhantomData,
        }
    }
}

impl<C: IdemRaftTypes> LogStore<C> {
    pub(crate) fn new(db: Arc<DB>) -> Self {
        LogStore {
            db,
            _types: PhantomData,
        }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let raft = cf(&self.db, CF_RAFT)?;
        match self.db.get_cf(raft, key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes, &String::from_utf8_lossy(key)).map(Some),
        }
    }

    pub(crate) fn last_purged(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        Ok(self
            .meta::<Option<LogId<NodeId>>>(KEY_LAST_PURGED)?
            .flatten())
    }

    /// The stored vote, read directly (used at start-up; see the cluster
    /// crate).
    pub fn read_vote_now(&self) -> Result<Option<Vote<NodeId>>, StoreError> {
        self.meta(KEY_VOTE)
    }

    /// Overwrites the stored vote (used at start-up; see the cluster crate).
    pub fn store_vote(&self, vote: &Vote<NodeId>) -> Result<(), StoreError> {
        let raft = cf(&self.db, CF_RAFT)?;
        self.db
            .put_cf_opt(raft, KEY_VOTE, encode(vote)?, &synced())?;
        Ok(())
    }

    pub(crate) fn committed(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        Ok(self.meta::<Option<LogId<NodeId>>>(KEY_COMMITTED)?.flatten())
    }

    pub(crate) fn last_entry(&self) -> Result<Option<C::Entry>, StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        match self.db.iterator_cf(log, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item?;
                let index = index_from_key(&key)?;
                decode(&value, &format!("log entry {index}")).map(Some)
            }
        }
    }

    /// Entries with index in `[start, end)`, in order.
    pub(crate) fn entries(
        &self,
        start: u64,
        end: Option<u64>,
    ) -> Result<Vec<C::Entry>, StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let mut out = Vec::new();
        let from = index_key(start);
        for item in self
            .db
            .iterator_cf(log, IteratorMode::From(&from, Direction::Forward))
        {
            let (key, value) = item?;
            let index = index_from_key(&key)?;
            if end.is_some_and(|e| index >= e) {
                break;
            }
            let entry: C::Entry = decode(&value, &format!("log entry {index}"))?;
            if entry.log_id.index != index {
                return Err(StoreError::corrupt(
                    format!("log entry {index}"),
                    format!("holds the entry of index {}", entry.log_id.index),
                ));
            }
            out.push(entry);
        }
        Ok(out)
    }

    fn append_synced(&self, entries: Vec<C::Entry>) -> Result<(), StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        for entry in &entries {
            batch.put_cf(log, index_key(entry.log_id.index), encode(entry)?);
        }
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    fn truncate_synced(&self, from: u64) -> Result<(), StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(log, index_key(from), index_key(u64::MAX));
        batch.delete_cf(log, index_key(u64::MAX));
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    fn purge_synced(&self, upto: &LogId<NodeId>) -> Result<(), StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let raft = cf(&self.db, CF_RAFT)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(raft, KEY_LAST_PURGED, encode(&Some(*upto))?);
        batch.delete_range_cf(log, index_key(0), index_key(upto.index.saturating_add(1)));
        // Synced: this also makes every earlier state machine write durable
        // (one WAL), so the state machine never falls behind the purged log.
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }
}

fn log_read_error(e: StoreError) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e).into()
}

fn log_write_error(e: StoreError) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl<C: IdemRaftTypes> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<NodeId>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Some(i.saturating_add(1)),
            Bound::Excluded(i) => Some(*i),
            Bound::Unbounded => None,
        };
        self.entries(start, end).map_err(log_read_error)
    }
}

impl<C: IdemRaftTypes> RaftLogStorage<C> for LogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<NodeId>> {
        let last_purged_log_id = self.last_purged().map_err(log_read_error)?;
        let last = self.last_entry().map_err(log_read_error)?;
        let last_log_id = last.map(|e| e.log_id).or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let this = self.clone();
        let vote = *vote;
        blocking(move || this.store_vote(&vote))
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.read_vote_now()
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not synced: the committed id is a hint that speeds up restart; Raft
        // recomputes it from a quorum if it is lost.
        let write = || -> Result<(), StoreError> {
            let raft = cf(&self.db, CF_RAFT)?;
            self.db.put_cf(raft, KEY_COMMITTED, encode(&committed)?)?;
            Ok(())
        };
        write().map_err(log_write_error)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        self.committed().map_err(log_read_error)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let this = self.clone();
        match blocking(move || this.append_synced(entries)).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let io = std::io::Error::other(e.to_string());
                callback.log_io_completed(Err(io));
                Err(log_write_error(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let this = self.clone();
        blocking(move || this.truncate_synced(log_id.index))
            .await
            .map_err(log_write_error)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let this = self.clone();
        blocking(move || this.purge_synced(&log_id))
            .await
            .map_err(log_write_error)
    }
}
