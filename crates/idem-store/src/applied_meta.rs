//! The applied clock and the last-applied log id, kept in memory beside the
//! database so that reads need no RocksDB lookup for them.
//!
//! Both are read on every request (a reserve's early look judges at the
//! applied clock; a leader's read takes the applied log id as its read index
//! and a stamp no earlier than the applied clock). In the database they are
//! single keys overwritten by every apply, so the memtable holds thousands of
//! their versions and each lookup walks a deep skip list.
//!
//! The database stays the source of truth: the copy is loaded from it at
//! open and set again after every write that changes them (an apply, a
//! snapshot install), never before the write has returned. So a reader sees
//! values at most as new as the stored ones, exactly as when it read them
//! from the database one key at a time; and once an apply has returned (and
//! its outcomes can have been answered), the copy covers it.
//!
//! One exception: a snapshot install replaces the state in several batches,
//! and until it ends the copy keeps the values from before it (a real
//! earlier state, while the database holds a half-loaded one). Nothing
//! judges by them then: openraft's applied index moves only when the
//! install ends, and a follower's reads wait for it. A failed install or
//! apply stops Raft's core (and so the node), so the copy, which never
//! trails a stored apply otherwise, is never used to apply on top of a
//! newer database: `apply` takes the stored clock from it.

use std::sync::{Mutex, MutexGuard};

use crate::types::LogId;
use idem_core::AppliedClock;
use rocksdb::DB;

use crate::codec::decode;
use crate::db::{cf, CF_SM, KEY_LAST_APPLIED};
use crate::error::StoreError;
use crate::pending::read_clock;

/// What the last write of the state machine stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AppliedMeta {
    pub(crate) clock: AppliedClock,
    pub(crate) last_applied: Option<LogId>,
}

impl AppliedMeta {
    /// As stored in `db`.
    pub(crate) fn read(db: &DB) -> Result<AppliedMeta, StoreError> {
        Ok(AppliedMeta {
            clock: read_clock(db)?,
            last_applied: read_last_applied(db)?,
        })
    }
}

/// The last-applied log id as stored in `db`.
pub(crate) fn read_last_applied(db: &DB) -> Result<Option<LogId>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_SM)?, KEY_LAST_APPLIED)? {
        None => Ok(None),
        Some(b) => decode(&b, "last applied log id"),
    }
}

/// The shared copy: the state machine sets it, the reader reads it.
#[derive(Debug, Default)]
pub(crate) struct AppliedMetaCell(Mutex<AppliedMeta>);

impl AppliedMetaCell {
    pub(crate) fn new(meta: AppliedMeta) -> AppliedMetaCell {
        AppliedMetaCell(Mutex::new(meta))
    }

    pub(crate) fn get(&self) -> AppliedMeta {
        *self.lock()
    }

    /// Call only after the write that stored `meta` has returned.
    pub(crate) fn set(&self, meta: AppliedMeta) {
        *self.lock() = meta;
    }

    fn lock(&self) -> MutexGuard<'_, AppliedMeta> {
        // The guarded value is plain data, always whole: a panic elsewhere
        // while it was held cannot have left it half-written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
