//! A namespace's quota (what it may hold and how fast it may ask) and its
//! usage (what it holds).
//!
//! The limits on what a namespace holds are judged where a command takes
//! effect, in [`crate::apply`]: a reserve that would create a record, or a
//! mint, finds the namespace at `max_records`; a complete whose response
//! would take the namespace's stored bytes past `max_stored_bytes`. Such a
//! command changes nothing. Usage counts what the store holds: every
//! record until it is purged (shortly after its retention ends), and the
//! response bytes of completed records. It is derived from the records, so
//! every replica that applied the same log counts the same. The request
//! rate is not state: each node enforces it on the requests it serves.

use serde::{Deserialize, Serialize};

/// Limits of one namespace; `None`: unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceQuota {
    /// Records held at once (every state, until purged).
    pub max_records: Option<u64>,
    /// Bytes of stored responses held at once.
    pub max_stored_bytes: Option<u64>,
    /// Requests per second each node serves for the namespace.
    pub max_requests_per_s: Option<u32>,
}

/// What a namespace holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamespaceUsage {
    pub records: u64,
    pub stored_bytes: u64,
}

impl NamespaceUsage {
    /// The usage with `record` added or taken away.
    pub fn counting(self, record: &crate::record::Record, added: bool) -> NamespaceUsage {
        let bytes = record.stored_bytes();
        if added {
            NamespaceUsage {
                records: self.records.saturating_add(1),
                stored_bytes: self.stored_bytes.saturating_add(bytes),
            }
        } else {
            NamespaceUsage {
                records: self.records.saturating_sub(1),
                stored_bytes: self.stored_bytes.saturating_sub(bytes),
            }
        }
    }
}

/// Which limit a command ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuotaLimit {
    Records,
    StoredBytes,
}

/// A command refused by the namespace's quota: nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OverQuota {
    pub limit: QuotaLimit,
    /// The limit's value.
    pub max: u64,
    /// The namespace's usage of it when the command was judged.
    pub used: u64,
}
