//! What each namespace holds (records, stored response bytes), for the
//! quotas `idem_core::apply` judges.
//!
//! Usage is derived from the records, never stored: a namespace's count is
//! made by scanning its records (they are contiguous: record keys start
//! with the namespace) the first time an apply needs it, then kept in
//! memory and moved by every write of that namespace's records. So it
//! always equals a recount, on every replica, and namespaces without a
//! quota cost nothing. A snapshot install forgets every count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use idem_core::{Namespace, NamespaceUsage, Record};
use rocksdb::{Direction, IteratorMode, DB};

use crate::codec::decode;
use crate::db::{cf, CF_RECORDS};
use crate::error::StoreError;

/// Counts of the namespaces an apply has asked about, as of the last
/// written batch. Shared by the state machine's apply calls.
#[derive(Clone, Default)]
pub(crate) struct UsageCounts(Arc<Mutex<HashMap<Namespace, NamespaceUsage>>>);

/// A change to a namespace's usage (a batch not written yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UsageDelta {
    records: i64,
    bytes: i64,
}

impl UsageDelta {
    /// `record` added (`added`) or taken away.
    pub(crate) fn count(&mut self, record: &Record, added: bool) {
        let sign = if added { 1 } else { -1 };
        self.records += sign;
        self.bytes += sign * i64::try_from(record.stored_bytes()).unwrap_or(i64::MAX);
    }

    pub(crate) fn applied_to(self, usage: NamespaceUsage) -> NamespaceUsage {
        let moved = |base: u64, by: i64| {
            if by >= 0 {
                base.saturating_add(by.unsigned_abs())
            } else {
                base.saturating_sub(by.unsigned_abs())
            }
        };
        NamespaceUsage {
            records: moved(usage.records, self.records),
            stored_bytes: moved(usage.stored_bytes, self.bytes),
        }
    }
}

impl UsageCounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Namespace, NamespaceUsage>> {
        // A panic while holding it cannot leave a half-made count: every
        // update is one insert.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The usage of `ns` as written in `db` (counted now if not known).
    pub(crate) fn written(&self, db: &DB, ns: &Namespace) -> Result<NamespaceUsage, StoreError> {
        if let Some(u) = self.lock().get(ns) {
            return Ok(*u);
        }
        let counted = count(db, ns)?;
        self.lock().insert(ns.clone(), counted);
        Ok(counted)
    }

    /// A batch with these changes was written.
    pub(crate) fn written_batch(&self, deltas: &HashMap<Namespace, UsageDelta>) {
        let mut counts = self.lock();
        for (ns, delta) in deltas {
            // A namespace not counted yet is counted from the database
            // (which has the batch) when first asked.
            if let Some(u) = counts.get_mut(ns) {
                *u = delta.applied_to(*u);
            }
        }
    }

    /// The records were replaced (a snapshot was installed).
    pub(crate) fn forget(&self) {
        self.lock().clear();
    }
}

/// Counts the records of `ns` in `db`.
pub(crate) fn count(db: &DB, ns: &Namespace) -> Result<NamespaceUsage, StoreError> {
    let mut prefix = ns.as_str().as_bytes().to_vec();
    prefix.push(0);
    let mut usage = NamespaceUsage::default();
    let records = cf(db, CF_RECORDS)?;
    for item in db.iterator_cf(records, IteratorMode::From(&prefix, Direction::Forward)) {
        let (key, value) = item?;
        if !key.starts_with(&prefix) {
            break;
        }
        let record: Record = decode(&value, "record")?;
        usage = usage.counting(&record, true);
    }
    Ok(usage)
}
