//! Reads of the applied state, for the API's linearizable reads (the cluster
//! layer makes them linearizable; this only reads).

use std::sync::Arc;

use idem_core::{AppliedClock, KeyId, Namespace, NamespacePolicy, Record, Stamp};
use rocksdb::DB;

use crate::error::StoreError;
use crate::pending::{read_clock, read_namespace, read_record};

#[derive(Clone)]
pub struct StateReader {
    db: Arc<DB>,
}

impl StateReader {
    pub(crate) fn new(db: Arc<DB>) -> Self {
        StateReader { db }
    }

    /// The record for `id` as seen at `now`: `None` if absent or forgotten.
    pub fn record_at(&self, id: &KeyId, now: &Stamp) -> Result<Option<Record>, StoreError> {
        Ok(read_record(&self.db, id)?.filter(|r| !r.is_forgotten(now)))
    }

    /// The record exactly as stored, forgotten or not.
    pub fn raw_record(&self, id: &KeyId) -> Result<Option<Record>, StoreError> {
        read_record(&self.db, id)
    }

    pub fn namespace_policy(&self, ns: &Namespace) -> Result<NamespacePolicy, StoreError> {
        Ok(read_namespace(&self.db, ns)?.map(|n| n.policy).unwrap_or_default())
    }

    /// The largest stamp applied so far.
    pub fn applied_clock(&self) -> Result<AppliedClock, StoreError> {
        read_clock(&self.db)
    }
}
