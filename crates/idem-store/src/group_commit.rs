//! Group commit for the Raft log: one thread makes the write-ahead log
//! durable for every append waiting on it, with one sync.
//!
//! [`LogStore::append`](crate::LogStore) writes its entries without sync (so
//! they are readable at once, by replication too) and hands its completion
//! (openraft's log-flushed callback) to [`GroupCommit::submit`]. The syncer
//! thread takes every completion queued so far, syncs once, then fires them
//! all in queue order.
//!
//! Why a completion never reports data that is not on disk:
//! - it is queued only after its write returned, and the sync that covers it
//!   starts only after the syncer took it off the queue;
//! - the sync is `DB::flush_wal(true)`: the store runs without
//!   `manual_wal_flush`, so an unsynced write is already in the WAL file, and
//!   `FlushWAL(sync)` then calls `SyncWAL`, which fsyncs every WAL file up to
//!   the current one (and the WAL directory when it is new);
//! - a failed sync fails every completion it took and every later one: the
//!   syncer stays failed (after a failed fsync the kernel may have dropped
//!   the dirty pages, so a later successful sync proves nothing about them;
//!   RocksDB refuses further writes too). A completion is never dropped
//!   unanswered: if the syncer is gone it is failed on the spot.
//!
//! Order: one thread drains one FIFO queue batch by batch, so completions
//! fire in the order they were submitted. Synced writes made elsewhere (the
//! vote, truncation, purge) sync the same WAL and so also make earlier
//! queued appends durable; that is harmless, their completions still fire
//! from here, in order, after the next sync. openraft 0.10 does not wait
//! for an append's completion before its next log call, so a truncation
//! (synced at once) can come while an earlier append's completion is still
//! queued: the WAL keeps the two writes in their order, and the completion,
//! fired later, reports an I/O that openraft has already superseded (it
//! tracks flushes by vote and log id, and never moves them backwards).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::StoreError;

/// What to tell when the data is durable (or cannot be made so).
pub(crate) type Completion = Box<dyn FnOnce(Result<(), io::Error>) + Send>;

/// Makes everything written so far durable.
pub(crate) type SyncFn = Box<dyn FnMut() -> Result<(), StoreError> + Send>;

/// Counters of the syncer, for metrics and tests.
#[derive(Debug, Default)]
pub struct SyncStats {
    syncs: AtomicU64,
    completions: AtomicU64,
}

impl SyncStats {
    /// Successful syncs so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Completions fired so far (appends acknowledged, or failed).
    pub fn completions(&self) -> u64 {
        self.completions.load(Ordering::Relaxed)
    }
}

/// The handle to the syncer thread. Dropping it (with the last clone of the
/// log store) lets the thread answer what is queued and waits for it to
/// exit, so the thread's hold on the database ends with the store.
pub(crate) struct GroupCommit {
    tx: Option<mpsc::Sender<Completion>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<SyncStats>,
}

impl GroupCommit {
    /// Starts the syncer thread, which calls `sync` once per batch.
    pub(crate) fn start(sync: SyncFn) -> Result<GroupCommit, StoreError> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(SyncStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("idem-log-sync".into())
            .spawn(move || run(rx, sync, &thread_stats))
            .map_err(|e| StoreError::Task(format!("cannot start the log syncer: {e}")))?;
        Ok(GroupCommit {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Queues `done`, to be called after the next sync. Call it only after
    /// the write it covers has returned.
    pub(crate) fn submit(&self, done: Completion) {
        let Some(tx) = &self.tx else {
            done(Err(io::Error::other("the log syncer is stopped")));
            return;
        };
        if let Err(mpsc::SendError(done)) = tx.send(done) {
            done(Err(io::Error::other("the log syncer is gone")));
        }
    }

    pub(crate) fn stats(&self) -> Arc<SyncStats> {
        self.stats.clone()
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once the queue is empty.
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the log syncer thread panicked");
            }
        }
    }
}

/// The syncer: batch, sync once, answer the batch in order.
fn run(rx: mpsc::Receiver<Completion>, mut sync: SyncFn, stats: &SyncStats) {
    // Set by the first failed sync; from then on every completion fails.
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if failed.is_none() {
            match sync() {
                Ok(()) => {
                    stats.syncs.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "syncing the Raft log failed");
                    failed = Some(format!("syncing the Raft log failed: {e}"));
                }
            }
        }
        stats
            .completions
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for done in batch {
            done(match &failed {
                None => Ok(()),
                Some(e) => Err(io::Error::other(e.clone())),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Barrier, Mutex};
    use std::time::Duration;

    /// A stand-in for the WAL: `write` is an unsynced write, `sync` makes
    /// everything written before it started durable.
    #[derive(Default)]
    struct FakeWal {
        written: AtomicU64,
        durable: AtomicU64,
    }

    fn counting_sync(wal: Arc<FakeWal>, fail_at: Option<u64>) -> SyncFn {
        let mut n = 0;
        Box::new(move || {
            n += 1;
            let upto = wal.written.load(Ordering::SeqCst);
            // A slow disk, so that appends pile up behind a sync.
            std::thread::sleep(Duration::from_millis(5));
            if Some(n) == fail_at {
                return Err(StoreError::Task("injected fsync failure".into()));
            }
            wal.durable.fetch_max(upto, Ordering::SeqCst);
            Ok(())
        })
    }

    #[test]
    fn concurrent_appends_share_syncs_and_fire_in_order_after_durability() {
        let wal = Arc::new(FakeWal::default());
        let group = Arc::new(GroupCommit::start(counting_sync(wal.clone(), None)).unwrap());
        let fired = Arc::new(Mutex::new(Vec::new()));
        let order_lock = Arc::new(Mutex::new(()));
        let threads = 8;
        let per_thread = 25;
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (wal, group, fired, order_lock, start) = (
                    wal.clone(),
                    group.clone(),
                    fired.clone(),
                    order_lock.clone(),
                    start.clone(),
                );
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..per_thread {
                        // Write and queue under one lock, as RaftCore's
                        // serial appends do, so queue order = write order.
                        let _serial = order_lock.lock().unwrap();
                        let mine = wal.written.fetch_add(1, Ordering::SeqCst) + 1;
                        let (wal, fired) = (wal.clone(), fired.clone());
                        group.submit(Box::new(move |result| {
                            let durable = wal.durable.load(Ordering::SeqCst);
                            fired.lock().unwrap().push((mine, durable, result.is_ok()));
                        }));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let stats = group.stats();
        drop(group); // answers what is queued, then joins the thread
        let fired = fired.lock().unwrap();
        let total = (threads * per_thread) as u64;
        assert_eq!(fired.len() as u64, total);
        assert_eq!(stats.completions(), total);
        for (i, (mine, durable, ok)) in fired.iter().enumerate() {
            assert!(ok);
            assert_eq!(*mine, i as u64 + 1, "completions out of order");
            assert!(
                durable >= mine,
                "write {mine} acknowledged at durable {durable}"
            );
        }
        assert!(
            stats.syncs() < total,
            "{} syncs for {total} appends: nothing was grouped",
            stats.syncs()
        );
    }

    #[test]
    fn a_failed_sync_fails_every_waiting_and_later_completion() {
        let wal = Arc::new(FakeWal::default());
        let group = GroupCommit::start(counting_sync(wal.clone(), Some(2))).unwrap();
        let results = Arc::new(Mutex::new(Vec::new()));
        let submit = |group: &GroupCommit| {
            let results = results.clone();
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            group.submit(Box::new(move |r| {
                results.lock().unwrap().push(r.is_ok());
                flag.store(true, Ordering::SeqCst);
            }));
            done
        };
        // The first sync succeeds.
        let first = submit(&group);
        while !first.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The second fails, and so does everything after it.
        for _ in 0..5 {
            submit(&group);
        }
        drop(group);
        let results = results.lock().unwrap();
        assert_eq!(*results, vec![true, false, false, false, false, false]);
    }
}
