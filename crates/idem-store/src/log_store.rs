//! The Raft log, the vote and the committed id, in RocksDB.
//!
//! Every write that Raft relies on for safety is on disk before Raft is told
//! it is: the vote, a truncation and a purge are synced before the call
//! returns; appended entries are written unsynced (readable at once) and
//! their log-flushed callback fires from the group-commit syncer
//! ([`crate::group_commit`]) only after a sync that covers them. An entry is
//! never acknowledged to the leader before it is on disk.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use rocksdb::{Direction, IteratorMode, WriteBatch, DB};

use crate::codec::{decode, encode, index_from_key, index_key};
use crate::db::{cf, synced, CF_LOG, CF_RAFT, KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE};
use crate::error::{blocking, to_io, StoreError};
use crate::group_commit::{Completion, GroupCommit, SyncFn, SyncStats};
use crate::types::{IdemRaftTypes, LogId, Vote};

pub struct LogStore<C> {
    db: Arc<DB>,
    /// The syncer that acknowledges appends; shared by every clone (the
    /// log readers too), stopped with the last one.
    group: Arc<GroupCommit>,
    _types: PhantomData<C>,
}

impl<C> Clone for LogStore<C> {
    fn clone(&self) -> Self {
        LogStore {
            db: self.db.clone(),
            group: self.group.clone(),
            _types: PhantomData,
        }
    }
}

impl<C: IdemRaftTypes> LogStore<C> {
    pub(crate) fn new(db: Arc<DB>) -> Result<Self, StoreError> {
        let wal = db.clone();
        // Without `manual_wal_flush` an unsynced write is already in the WAL
        // file; `flush_wal(true)` fsyncs it (see `group_commit`).
        Self::with_sync(db, Box::new(move || Ok(wal.flush_wal(true)?)))
    }

    fn with_sync(db: Arc<DB>, sync: SyncFn) -> Result<Self, StoreError> {
        Ok(LogStore {
            db,
            group: Arc::new(GroupCommit::start(sync)?),
            _types: PhantomData,
        })
    }

    /// Counters of the log syncer (syncs, appends acknowledged), so the
    /// grouping can be observed.
    pub fn sync_stats(&self) -> Arc<SyncStats> {
        self.group.stats()
    }

    fn meta<T: crate::codec::Stored>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let raft = cf(&self.db, CF_RAFT)?;
        match self.db.get_cf(raft, key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes, &String::from_utf8_lossy(key)).map(Some),
        }
    }

    pub(crate) fn last_purged(&self) -> Result<Option<LogId>, StoreError> {
        Ok(self.meta::<Option<LogId>>(KEY_LAST_PURGED)?.flatten())
    }

    /// The stored vote, read directly (used at start-up; see the cluster
    /// crate).
    pub fn read_vote_now(&self) -> Result<Option<Vote>, StoreError> {
        self.meta(KEY_VOTE)
    }

    /// Overwrites the stored vote (used at start-up; see the cluster crate).
    pub fn store_vote(&self, vote: &Vote) -> Result<(), StoreError> {
        let raft = cf(&self.db, CF_RAFT)?;
        self.db
            .put_cf_opt(raft, KEY_VOTE, encode(vote)?, &synced())?;
        Ok(())
    }

    pub(crate) fn committed(&self) -> Result<Option<LogId>, StoreError> {
        Ok(self.meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
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

    /// Writes `entries` in one batch, unsynced (readable at once), then
    /// queues `done` for the syncer, which calls it after a sync that covers
    /// the write. If the write fails, `done` is told so at once.
    ///
    /// The write runs on the caller's thread: an unsynced RocksDB write is a
    /// memtable insert and a `write(2)` to the WAL, like `save_committed`'s.
    fn append_then(&self, entries: Vec<C::Entry>, done: Completion) -> Result<(), StoreError> {
        let write = || -> Result<(), StoreError> {
            let log = cf(&self.db, CF_LOG)?;
            let mut batch = WriteBatch::default();
            for entry in &entries {
                batch.put_cf(log, index_key(entry.log_id.index), encode(entry)?);
            }
            self.db.write(batch)?;
            Ok(())
        };
        match write() {
            Ok(()) => {
                self.group.submit(done);
                Ok(())
            }
            Err(e) => {
                done(Err(io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    /// Removes every entry from index `from` on, synced.
    fn truncate_synced(&self, from: u64) -> Result<(), StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(log, index_key(from), index_key(u64::MAX));
        batch.delete_cf(log, index_key(u64::MAX));
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    fn purge_synced(&self, upto: &LogId) -> Result<(), StoreError> {
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

impl<C: IdemRaftTypes> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
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
        self.entries(start, end).map_err(to_io)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.read_vote_now().map_err(to_io)
    }
}

impl<C: IdemRaftTypes> RaftLogStorage<C> for LogStore<C> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last_purged_log_id = self.last_purged().map_err(to_io)?;
        let last = self.last_entry().map_err(to_io)?;
        let last_log_id = last.map(|e| e.log_id).or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let this = self.clone();
        let vote = *vote;
        blocking(move || this.store_vote(&vote))
            .await
            .map_err(to_io)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Not synced: the committed id is a hint that speeds up restart; Raft
        // recomputes it from a quorum if it is lost.
        let write = || -> Result<(), StoreError> {
            let raft = cf(&self.db, CF_RAFT)?;
            self.db.put_cf(raft, KEY_COMMITTED, encode(&committed)?)?;
            Ok(())
        };
        write().map_err(to_io)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        self.committed().map_err(to_io)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Returns once the entries are readable (RaftCore then replicates
        // them at once); the callback fires when they are durable, and only
        // then does the leader count its own copy towards a quorum.
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.append_then(
            entries,
            Box::new(move |result| callback.io_completed(result)),
        )
        .map_err(to_io)
    }

    async fn truncate_after(&mut self, last_kept: Option<LogId>) -> Result<(), io::Error> {
        let from = last_kept.map_or(0, |l| l.index.saturating_add(1));
        let this = self.clone();
        blocking(move || this.truncate_synced(from))
            .await
            .map_err(to_io)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let this = self.clone();
        blocking(move || this.purge_synced(&log_id))
            .await
            .map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Barrier, Mutex};
    use std::time::Duration;

    use crate::types::LeaderId;
    use openraft::EntryPayload;

    openraft::declare_raft_types!(
        Types:
            D = idem_core::StampedBatch,
            R = crate::AppliedOutcomes,
            NodeId = u64,
            Node = openraft::impls::BasicNode,
    );

    fn blank(index: u64) -> crate::Entry<openraft::impls::BasicNode> {
        crate::Entry {
            log_id: LogId::new(
                LeaderId {
                    term: 1,
                    node_id: 1,
                },
                index,
            ),
            payload: EntryPayload::Blank,
        }
    }

    /// Concurrent appends on a real database: each append is readable when
    /// it returns; its callback fires only after a real WAL sync that began
    /// after its write (checked with RocksDB's sequence numbers), in append
    /// order; and the appends share fewer syncs than there are appends.
    #[test]
    fn appends_are_acknowledged_in_order_after_a_sync_that_covers_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::open(dir.path()).unwrap();
        // Highest sequence number known to be durable.
        let durable = Arc::new(AtomicU64::new(0));
        let (wal, probe) = (db.clone(), durable.clone());
        let sync: SyncFn = Box::new(move || {
            let upto = wal.latest_sequence_number();
            // A slower disk than tmpfs, so that appends queue behind a sync.
            std::thread::sleep(Duration::from_millis(2));
            wal.flush_wal(true)?;
            probe.fetch_max(upto, Ordering::SeqCst);
            Ok(())
        });
        let store = LogStore::<Types>::with_sync(db.clone(), sync).unwrap();
        let stats = store.sync_stats();

        let threads = 4;
        let per_thread = 50;
        let next_index = Arc::new(Mutex::new(1u64));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (store, db, durable, next_index, fired, start) = (
                    store.clone(),
                    db.clone(),
                    durable.clone(),
                    next_index.clone(),
                    fired.clone(),
                    start.clone(),
                );
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..per_thread {
                        // One append at a time, like RaftCore's (and it keeps
                        // the log free of holes).
                        let mut next = next_index.lock().unwrap();
                        let index = *next;
                        *next += 1;
                        // The write of this one entry gets the next sequence
                        // number (nothing else writes to this database).
                        let my_seq = db.latest_sequence_number() + 1;
                        let (durable, fired) = (durable.clone(), fired.clone());
                        store
                            .append_then(
                                vec![blank(index)],
                                Box::new(move |result| {
                                    let at = durable.load(Ordering::SeqCst);
                                    fired
                                        .lock()
                                        .unwrap()
                                        .push((index, my_seq, at, result.is_ok()));
                                }),
                            )
                            .unwrap();
                        let read = store.entries(index, Some(index + 1)).unwrap();
                        assert_eq!(read.len(), 1, "entry {index} not readable after append");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        drop(store); // answers what is still queued and stops the syncer
        let fired = fired.lock().unwrap();
        let total = (threads * per_thread) as u64;
        assert_eq!(fired.len() as u64, total);
        for (i, (index, my_seq, durable_at_fire, ok)) in fired.iter().enumerate() {
            assert!(ok, "append {index} failed");
            assert_eq!(*index, i as u64 + 1, "callbacks out of append order");
            assert!(
                durable_at_fire >= my_seq,
                "entry {index} (seq {my_seq}) acknowledged when only seq {durable_at_fire} was synced"
            );
        }
        assert_eq!(stats.completions(), total);
        assert!(
            stats.syncs() < total,
            "{} syncs for {total} appends: nothing was grouped",
            stats.syncs()
        );
        eprintln!("{total} appends, {} syncs", stats.syncs());
    }

    /// A store reopens at once after the last handle is dropped: the syncer
    /// thread no longer holds the database.
    #[test]
    fn dropping_the_store_releases_the_database() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..3 {
            let store = crate::Store::<Types>::open(dir.path()).unwrap();
            drop(store);
        }
    }
}
