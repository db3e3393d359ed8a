//! Reads of the applied state, for the API's linearizable reads (the cluster
//! layer makes them linearizable; this only reads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::types::LogId;
use idem_core::{
    ApiKeyId, ApiKeyRecord, AppliedClock, AuthSecret, KeyId, Namespace, NamespacePolicy, Record,
};
use rocksdb::{IteratorMode, DB};

use crate::applied_meta::AppliedMetaCell;
use crate::codec::{decode, expiry_key_parts};
use crate::db::{cf, API_KEY_PREFIX, CF_AUTH, CF_EXPIRY, CF_RECORDS};

use crate::error::StoreError;
use crate::pending::{read_api_key, read_auth_secret, read_namespace, read_quota, read_record};

#[derive(Clone)]
pub struct StateReader {
    db: Arc<DB>,
    /// Commands applied by this process (counted by the state machine).
    applied_commands: Arc<AtomicU64>,
    /// The applied clock and log id, as the state machine last stored them.
    applied: Arc<AppliedMetaCell>,
}

impl StateReader {
    pub(crate) fn new(
        db: Arc<DB>,
        applied_commands: Arc<AtomicU64>,
        applied: Arc<AppliedMetaCell>,
    ) -> Self {
        StateReader {
            db,
            applied_commands,
            applied,
        }
    }

    /// How many commands this process has applied since it started (the
    /// snapshot policy compares it with the number of records).
    pub fn applied_commands(&self) -> u64 {
        self.applied_commands.load(Ordering::Relaxed)
    }

    /// The record exactly as stored: a record whose retention has passed
    /// stays until a log entry (a purge, or the next command on its key)
    /// deletes it.
    pub fn raw_record(&self, id: &KeyId) -> Result<Option<Record>, StoreError> {
        read_record(&self.db, id)
    }

    pub fn namespace_policy(&self, ns: &Namespace) -> Result<NamespacePolicy, StoreError> {
        Ok(read_namespace(&self.db, ns)?
            .map(|n| n.policy)
            .unwrap_or_default())
    }

    /// The record of API key `id`.
    pub fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        read_api_key(&self.db, id)
    }

    /// The secret API keys are hashed under (`None` until bootstrap set it).
    pub fn auth_secret(&self) -> Result<Option<AuthSecret>, StoreError> {
        read_auth_secret(&self.db)
    }

    /// Every API key the cluster knows, revoked ones too, by id.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let auth = cf(&self.db, CF_AUTH)?;
        let mut out = Vec::new();
        let from = IteratorMode::From(API_KEY_PREFIX, rocksdb::Direction::Forward);
        for item in self.db.iterator_cf(auth, from) {
            let (key, value) = item?;
            if !key.starts_with(API_KEY_PREFIX) {
                break;
            }
            out.push(decode(&value, "API key")?);
        }
        Ok(out)
    }

    /// Up to `limit` records whose forget deadline's wall-clock hint is at or
    /// before `wall_ms`, soonest first: candidates for a purge (which checks
    /// each again, with both time bounds).
    pub fn due_for_purge(&self, wall_ms: u64, limit: usize) -> Result<Vec<KeyId>, StoreError> {
        let expiry = cf(&self.db, CF_EXPIRY)?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(expiry, IteratorMode::Start) {
            let (key, _) = item?;
            let (due, id) = expiry_key_parts(&key)?;
            if due > wall_ms || out.len() >= limit {
                break;
            }
            out.push(id);
        }
        Ok(out)
    }

    /// How many records are stored (an estimate from RocksDB).
    pub fn estimated_records(&self) -> Result<u64, StoreError> {
        let records = cf(&self.db, CF_RECORDS)?;
        Ok(self
            .db
            .property_int_value_cf(records, "rocksdb.estimate-num-keys")?
            .unwrap_or(0))
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    /// The largest stamp applied so far (from memory: no lookup, no error).
    pub fn applied_clock(&self) -> AppliedClock {
        self.applied.get().clock
    }

    /// The namespace's quota (unlimited if never set).
    pub fn namespace_quota(&self, ns: &Namespace) -> Result<idem_core::NamespaceQuota, StoreError> {
        Ok(read_quota(&self.db, ns)?.unwrap_or_default())
    }

    /// What the namespace holds, counted now (a scan of its records).
    pub fn namespace_usage(&self, ns: &Namespace) -> Result<idem_core::NamespaceUsage, StoreError> {
        crate::usage::count(&self.db, ns)
    }

    /// The last log entry applied, as stored with the state it produced
    /// (written in the same batch, so every command whose outcome has been
    /// answered is at or below it).
    pub fn applied_log_id(&self) -> Option<LogId> {
        self.applied.get().last_applied
    }
}

/// Reads through the core's store interface, for judging requests that need
/// no write (see `idem_core::reserve_without_write`). Writes are refused.
impl idem_core::RecordStore for StateReader {
    type Error = StoreError;

    fn record(&self, id: &KeyId) -> Result<Option<Record>, StoreError> {
        read_record(&self.db, id)
    }

    fn put_record(&mut self, _id: &KeyId, _record: Record) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn delete_record(&mut self, _id: &KeyId) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn namespace(&self, ns: &Namespace) -> Result<Option<idem_core::NamespaceRecord>, StoreError> {
        read_namespace(&self.db, ns)
    }

    fn put_namespace(
        &mut self,
        _ns: &Namespace,
        _record: idem_core::NamespaceRecord,
    ) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn applied_clock(&self) -> Result<AppliedClock, StoreError> {
        Ok(StateReader::applied_clock(self))
    }

    fn set_applied_clock(&mut self, _clock: AppliedClock) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn api_key(
        &self,
        id: &idem_core::ApiKeyId,
    ) -> Result<Option<idem_core::ApiKeyRecord>, StoreError> {
        read_api_key(&self.db, id)
    }

    fn put_api_key(&mut self, _record: idem_core::ApiKeyRecord) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn auth_secret(&self) -> Result<Option<idem_core::AuthSecret>, StoreError> {
        read_auth_secret(&self.db)
    }

    fn set_auth_secret(&mut self, _secret: idem_core::AuthSecret) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn quota(&self, ns: &Namespace) -> Result<Option<idem_core::NamespaceQuota>, StoreError> {
        read_quota(&self.db, ns)
    }

    fn put_quota(
        &mut self,
        _ns: &Namespace,
        _quota: idem_core::NamespaceQuota,
    ) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn usage(&self, ns: &Namespace) -> Result<idem_core::NamespaceUsage, StoreError> {
        self.namespace_usage(ns)
    }
}
