//! # idem-store: durable storage on RocksDB
//!
//! This crate owns the bytes on disk: the Raft log, the vote and committed
//! id ([`LogStore`], openraft's `RaftLogStorage`), and the state machine's
//! records, namespaces and applied clock ([`StateMachineStore`], openraft's
//! `RaftStateMachine`, applying entries with `idem_core::apply`), snapshots as
//! streamed, checksummed files, and the start-up checks that refuse corrupt
//! or truncated data with a clear error.
//!
//! It must not decide anything about keys, leases or tokens (that is
//! `idem-core`), and must not talk to the network or read clocks for
//! anything but file names.
//!
//! Data directory layout: `db/` (RocksDB), `snapshots/` (at most one current
//! snapshot file), `checkpoints/` (point-in-time copies while a snapshot is
//! built; removed at start-up).

mod applied_meta;
pub mod codec;
mod db;
mod error;
mod format2;
mod group_commit;
mod integrity;
mod key_watch;
mod log_store;
mod pending;
mod reader;
mod snapshot_dir;
mod snapshot_file;
mod state_machine;
mod types;
mod usage;

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use error::StoreError;
pub use group_commit::SyncStats;
pub use integrity::StartupReport;
pub use key_watch::{KeyChange, KeyWatch, KeyWatcher};
pub use log_store::LogStore;
pub use reader::StateReader;
pub use state_machine::{SnapshotBuilder, SnapshotInbox, StateMachineStore};
pub use types::{
    AppliedOutcomes, Entry, IdemRaftTypes, LeaderId, LogId, NodeId, Payload, Snapshot,
    SnapshotMeta, StoredMembership, Term, Vote,
};

/// The most requests one node holds waiting for a key at a time.
pub const MAX_KEY_WATCHERS: usize = 10_000;

/// An opened, checked data directory.
pub struct Store<C> {
    pub log: LogStore<C>,
    pub state_machine: StateMachineStore<C>,
    pub reader: StateReader,
    /// Waiters on keys, touched by every apply.
    pub key_watch: KeyWatch,
    pub report: StartupReport,
    _types: PhantomData<C>,
}

impl<C: IdemRaftTypes> Store<C> {
    /// Opens (or creates) the data directory and checks it. Any corruption
    /// is returned as [`StoreError::Corrupt`] naming what is wrong.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        let checkpoints = data_dir.join("checkpoints");
        if checkpoints.exists() {
            std::fs::remove_dir_all(&checkpoints).map_err(|e| StoreError::io(&checkpoints, e))?;
        }
        let snapshots = snapshot_dir::SnapshotDir::open(data_dir.join("snapshots"))?;
        let db = db::open(&data_dir.join("db"))?;
        let log = LogStore::new(db.clone())?;
        let report = integrity::check::<C>(&db, &log, &snapshots)?;
        let applied_commands = Arc::new(AtomicU64::new(0));
        let applied = Arc::new(applied_meta::AppliedMetaCell::new(
            applied_meta::AppliedMeta::read(&db)?,
        ));
        let key_watch = KeyWatch::new(MAX_KEY_WATCHERS);
        Ok(Store {
            log,
            state_machine: StateMachineStore::new(
                db.clone(),
                snapshots,
                checkpoints,
                applied_commands.clone(),
                applied.clone(),
                key_watch.clone(),
            ),
            reader: StateReader::new(db, applied_commands, applied),
            key_watch,
            report,
            _types: PhantomData,
        })
    }

    /// Compacts every column family now, so deleted records give their disk
    /// space back (RocksDB otherwise does this in the background, in its own
    /// time).
    pub fn compact(&self) -> Result<(), StoreError> {
        let db = self.reader.db();
        for name in db::ALL_CFS {
            db.compact_range_cf(db::cf(db, name)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    /// Where snapshots of this store are kept.
    pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("snapshots")
    }
}
