//! The abstract record store that [`crate::apply`] works on. RocksDB
//! implements it in `idem-store`; tests use [`MemoryStore`].

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::api_key::{ApiKeyId, ApiKeyRecord, AuthSecret};
use crate::names::{KeyId, Namespace};
use crate::namespace::NamespaceRecord;
use crate::quota::{NamespaceQuota, NamespaceUsage};
use crate::record::Record;
use crate::time::AppliedClock;

/// Where the state machine keeps records, namespaces and its clock. One call
/// of [`crate::apply`] makes its writes through this trait; the implementor
/// makes them durable together with the applied log index (one batch).
pub trait RecordStore {
    type Error;

    fn record(&self, id: &KeyId) -> Result<Option<Record>, Self::Error>;
    fn put_record(&mut self, id: &KeyId, record: Record) -> Result<(), Self::Error>;
    fn delete_record(&mut self, id: &KeyId) -> Result<(), Self::Error>;

    fn namespace(&self, ns: &Namespace) -> Result<Option<NamespaceRecord>, Self::Error>;
    fn put_namespace(&mut self, ns: &Namespace, record: NamespaceRecord)
        -> Result<(), Self::Error>;

    fn applied_clock(&self) -> Result<AppliedClock, Self::Error>;
    fn set_applied_clock(&mut self, clock: AppliedClock) -> Result<(), Self::Error>;

    fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, Self::Error>;
    fn put_api_key(&mut self, record: ApiKeyRecord) -> Result<(), Self::Error>;
    /// The cluster's secret for hashing API keys, once set.
    fn auth_secret(&self) -> Result<Option<AuthSecret>, Self::Error>;
    fn set_auth_secret(&mut self, secret: AuthSecret) -> Result<(), Self::Error>;

    /// The namespace's quota (`None`: never set, unlimited).
    fn quota(&self, ns: &Namespace) -> Result<Option<NamespaceQuota>, Self::Error>;
    fn put_quota(&mut self, ns: &Namespace, quota: NamespaceQuota) -> Result<(), Self::Error>;
    /// What the namespace holds now (this call's writes included): a count
    /// the implementor derives from the records it holds.
    fn usage(&self, ns: &Namespace) -> Result<NamespaceUsage, Self::Error>;
}

/// An in-memory store with a deterministic layout (sorted maps), so two
/// stores that applied the same log serialise to the same bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStore {
    pub records: BTreeMap<KeyId, Record>,
    pub namespaces: BTreeMap<Namespace, NamespaceRecord>,
    pub clock: AppliedClock,
    pub api_keys: BTreeMap<ApiKeyId, ApiKeyRecord>,
    pub auth_secret: Option<AuthSecret>,
    pub quotas: BTreeMap<Namespace, NamespaceQuota>,
}

impl RecordStore for MemoryStore {
    type Error = Infallible;

    fn record(&self, id: &KeyId) -> Result<Option<Record>, Infallible> {
        Ok(self.records.get(id).cloned())
    }

    fn put_record(&mut self, id: &KeyId, record: Record) -> Result<(), Infallible> {
        self.records.insert(id.clone(), record);
        Ok(())
    }

    fn delete_record(&mut self, id: &KeyId) -> Result<(), Infallible> {
        self.records.remove(id);
        Ok(())
    }

    fn namespace(&self, ns: &Namespace) -> Result<Option<NamespaceRecord>, Infallible> {
        Ok(self.namespaces.get(ns).cloned())
    }

    fn put_namespace(&mut self, ns: &Namespace, record: NamespaceRecord) -> Result<(), Infallible> {
        self.namespaces.insert(ns.clone(), record);
        Ok(())
    }

    fn applied_clock(&self) -> Result<AppliedClock, Infallible> {
        Ok(self.clock)
    }

    fn set_applied_clock(&mut self, clock: AppliedClock) -> Result<(), Infallible> {
        self.clock = clock;
        Ok(())
    }

    fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, Infallible> {
        Ok(self.api_keys.get(id).cloned())
    }

    fn put_api_key(&mut self, record: ApiKeyRecord) -> Result<(), Infallible> {
        self.api_keys.insert(record.id.clone(), record);
        Ok(())
    }

    fn auth_secret(&self) -> Result<Option<AuthSecret>, Infallible> {
        Ok(self.auth_secret.clone())
    }

    fn set_auth_secret(&mut self, secret: AuthSecret) -> Result<(), Infallible> {
        self.auth_secret = Some(secret);
        Ok(())
    }

    fn quota(&self, ns: &Namespace) -> Result<Option<NamespaceQuota>, Infallible> {
        Ok(self.quotas.get(ns).copied())
    }

    fn put_quota(&mut self, ns: &Namespace, quota: NamespaceQuota) -> Result<(), Infallible> {
        self.quotas.insert(ns.clone(), quota);
        Ok(())
    }

    /// Counted from the records (a test store: small).
    fn usage(&self, ns: &Namespace) -> Result<NamespaceUsage, Infallible> {
        Ok(self
            .records
            .iter()
            .filter(|(id, _)| &id.namespace == ns)
            .fold(NamespaceUsage::default(), |u, (_, r)| u.counting(r, true)))
    }
}
