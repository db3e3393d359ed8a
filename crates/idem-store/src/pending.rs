//! The core's `RecordStore` over RocksDB for one apply call: writes go into
//! a `WriteBatch` and an overlay (so later entries in the same call read
//! them), and the batch is written once, together with the last-applied id
//! and membership.

use std::collections::HashMap;

use idem_core::{
    ApiKeyId, ApiKeyRecord, AppliedClock, AuthSecret, KeyId, Namespace, NamespaceQuota,
    NamespaceRecord, NamespaceUsage, Record, RecordStore,
};
use rocksdb::{WriteBatch, DB};

use crate::codec::{decode, encode, expiry_key, record_key};
use crate::db::{
    api_key_key, cf, CF_AUTH, CF_EXPIRY, CF_NAMESPACES, CF_QUOTAS, CF_RECORDS, CF_SM,
    KEY_AUTH_SECRET, KEY_CLOCK,
};
use crate::error::StoreError;
use crate::usage::{UsageCounts, UsageDelta};

pub(crate) struct PendingWrites<'a> {
    db: &'a DB,
    pub(crate) batch: WriteBatch,
    records: HashMap<KeyId, Option<Record>>,
    namespaces: HashMap<Namespace, Option<NamespaceRecord>>,
    api_keys: HashMap<ApiKeyId, ApiKeyRecord>,
    auth_secret: Option<AuthSecret>,
    quotas: HashMap<Namespace, NamespaceQuota>,
    /// Usage as of the last written batch, and this batch's changes to it.
    usage: UsageCounts,
    pub(crate) usage_deltas: HashMap<Namespace, UsageDelta>,
    /// The applied clock as set by this batch, if it set it.
    clock: Option<AppliedClock>,
    /// The applied clock as stored before this batch.
    stored_clock: AppliedClock,
}

impl<'a> PendingWrites<'a> {
    pub(crate) fn new(db: &'a DB, stored_clock: AppliedClock, usage: UsageCounts) -> Self {
        PendingWrites {
            db,
            batch: WriteBatch::default(),
            records: HashMap::new(),
            namespaces: HashMap::new(),
            api_keys: HashMap::new(),
            auth_secret: None,
            quotas: HashMap::new(),
            usage,
            usage_deltas: HashMap::new(),
            clock: None,
            stored_clock,
        }
    }

    /// The applied clock once the batch is written.
    pub(crate) fn clock_after(&self) -> AppliedClock {
        self.clock.unwrap_or(self.stored_clock)
    }
}

impl PendingWrites<'_> {
    /// Removes the expiry-index entry of the record currently stored for
    /// `id`, and takes it out of its namespace's usage.
    fn unindex(&mut self, id: &KeyId) -> Result<(), StoreError> {
        if let Some(old) = self.record(id)? {
            self.batch.delete_cf(
                cf(self.db, CF_EXPIRY)?,
                expiry_key(old.forget_deadline().wall_ms(), id),
            );
            self.usage_deltas
                .entry(id.namespace.clone())
                .or_default()
                .count(&old, false);
        }
        Ok(())
    }
}

pub(crate) fn read_record(db: &DB, id: &KeyId) -> Result<Option<Record>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_RECORDS)?, record_key(id))? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, &format!("record {id}")).map(Some),
    }
}

pub(crate) fn read_namespace(
    db: &DB,
    ns: &Namespace,
) -> Result<Option<NamespaceRecord>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_NAMESPACES)?, ns.as_str().as_bytes())? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, &format!("namespace {ns}")).map(Some),
    }
}

pub(crate) fn read_quota(db: &DB, ns: &Namespace) -> Result<Option<NamespaceQuota>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_QUOTAS)?, ns.as_str().as_bytes())? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, &format!("quota of {ns}")).map(Some),
    }
}

pub(crate) fn read_api_key(db: &DB, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_AUTH)?, api_key_key(id))? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, &format!("API key {id}")).map(Some),
    }
}

pub(crate) fn read_auth_secret(db: &DB) -> Result<Option<AuthSecret>, StoreError> {
    match db.get_pinned_cf(cf(db, CF_AUTH)?, KEY_AUTH_SECRET)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes, "auth secret").map(Some),
    }
}

pub(crate) fn read_clock(db: &DB) -> Result<AppliedClock, StoreError> {
    match db.get_pinned_cf(cf(db, CF_SM)?, KEY_CLOCK)? {
        None => Ok(AppliedClock::default()),
        Some(bytes) => decode(&bytes, "applied clock"),
    }
}

impl RecordStore for PendingWrites<'_> {
    type Error = StoreError;

    fn record(&self, id: &KeyId) -> Result<Option<Record>, StoreError> {
        match self.records.get(id) {
            Some(pending) => Ok(pending.clone()),
            None => read_record(self.db, id),
        }
    }

    fn put_record(&mut self, id: &KeyId, record: Record) -> Result<(), StoreError> {
        self.unindex(id)?;
        let expiry = cf(self.db, CF_EXPIRY)?;
        self.batch.put_cf(
            expiry,
            expiry_key(record.forget_deadline().wall_ms(), id),
            [],
        );
        self.batch
            .put_cf(cf(self.db, CF_RECORDS)?, record_key(id), encode(&record)?);
        self.usage_deltas
            .entry(id.namespace.clone())
            .or_default()
            .count(&record, true);
        self.records.insert(id.clone(), Some(record));
        Ok(())
    }

    fn delete_record(&mut self, id: &KeyId) -> Result<(), StoreError> {
        self.unindex(id)?;
        self.batch
            .delete_cf(cf(self.db, CF_RECORDS)?, record_key(id));
        self.records.insert(id.clone(), None);
        Ok(())
    }

    fn namespace(&self, ns: &Namespace) -> Result<Option<NamespaceRecord>, StoreError> {
        match self.namespaces.get(ns) {
            Some(pending) => Ok(pending.clone()),
            None => read_namespace(self.db, ns),
        }
    }

    fn put_namespace(&mut self, ns: &Namespace, record: NamespaceRecord) -> Result<(), StoreError> {
        self.batch.put_cf(
            cf(self.db, CF_NAMESPACES)?,
            ns.as_str().as_bytes(),
            encode(&record)?,
        );
        self.namespaces.insert(ns.clone(), Some(record));
        Ok(())
    }

    fn applied_clock(&self) -> Result<AppliedClock, StoreError> {
        Ok(self.clock_after())
    }

    fn set_applied_clock(&mut self, clock: AppliedClock) -> Result<(), StoreError> {
        self.batch
            .put_cf(cf(self.db, CF_SM)?, KEY_CLOCK, encode(&clock)?);
        self.clock = Some(clock);
        Ok(())
    }

    fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        match self.api_keys.get(id) {
            Some(pending) => Ok(Some(pending.clone())),
            None => read_api_key(self.db, id),
        }
    }

    fn put_api_key(&mut self, record: ApiKeyRecord) -> Result<(), StoreError> {
        self.batch.put_cf(
            cf(self.db, CF_AUTH)?,
            api_key_key(&record.id),
            encode(&record)?,
        );
        self.api_keys.insert(record.id.clone(), record);
        Ok(())
    }

    fn auth_secret(&self) -> Result<Option<AuthSecret>, StoreError> {
        match &self.auth_secret {
            Some(s) => Ok(Some(s.clone())),
            None => read_auth_secret(self.db),
        }
    }

    fn set_auth_secret(&mut self, secret: AuthSecret) -> Result<(), StoreError> {
        self.batch
            .put_cf(cf(self.db, CF_AUTH)?, KEY_AUTH_SECRET, encode(&secret)?);
        self.auth_secret = Some(secret);
        Ok(())
    }

    fn quota(&self, ns: &Namespace) -> Result<Option<NamespaceQuota>, StoreError> {
        match self.quotas.get(ns) {
            Some(q) => Ok(Some(*q)),
            None => read_quota(self.db, ns),
        }
    }

    fn put_quota(&mut self, ns: &Namespace, quota: NamespaceQuota) -> Result<(), StoreError> {
        self.batch.put_cf(
            cf(self.db, CF_QUOTAS)?,
            ns.as_str().as_bytes(),
            encode(&quota)?,
        );
        self.quotas.insert(ns.clone(), quota);
        Ok(())
    }

    fn usage(&self, ns: &Namespace) -> Result<NamespaceUsage, StoreError> {
        let written = self.usage.written(self.db, ns)?;
        Ok(match self.usage_deltas.get(ns) {
            Some(delta) => delta.applied_to(written),
            None => written,
        })
    }
}
