//! How values and keys are laid out on disk.
//!
//! Values are a format version byte followed by bincode, with a size limit so
//! that a corrupt length prefix cannot make decoding allocate without bound.
//! Keys sort the way they are scanned: log indexes big-endian, record keys as
//! `namespace 0x00 key` (neither part can contain a NUL byte).

use bincode::Options;
use idem_core::{AppliedClock, IdemKey, KeyId, Namespace, NamespaceRecord, Record};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::format2::{EntryV2, RecordV2};
use crate::types::{Entry, LogId, SnapshotMeta, StoredMembership, Vote};

/// Bumped when the on-disk encoding changes. 3: attempts and committing
/// marks (see [`crate::format2`]); values written in format 2 are still
/// read and carried forward. 2: a log entry carries a batch of commands
/// (`idem_core::StampedBatch`) and tokens are virtual log positions; data
/// written by version 1 is refused at start-up.
pub const FORMAT_VERSION: u8 = 3;

/// The oldest format still read.
pub const OLDEST_READABLE_FORMAT: u8 = 2;

/// A value the store keeps: how it decodes when it was written in format 2.
/// Most values did not change (the default); those that did decode through
/// their format-2 shape.
pub trait Stored: DeserializeOwned {
    fn decode_format2(bytes: &[u8]) -> Result<Self, String> {
        options().deserialize(bytes).map_err(|e| e.to_string())
    }
}

impl Stored for Record {
    fn decode_format2(bytes: &[u8]) -> Result<Self, String> {
        let old: RecordV2 = options().deserialize(bytes).map_err(|e| e.to_string())?;
        Ok(old.into())
    }
}

impl<N: openraft::Node> Stored for Entry<N> {
    fn decode_format2(bytes: &[u8]) -> Result<Self, String> {
        let old: EntryV2<N> = options().deserialize(bytes).map_err(|e| e.to_string())?;
        old.try_into()
            .map_err(|e: idem_core::BadBatchSize| e.to_string())
    }
}

impl Stored for NamespaceRecord {}
impl Stored for idem_core::ApiKeyRecord {}
impl Stored for idem_core::AuthSecret {}
impl Stored for idem_core::NamespaceQuota {}
impl Stored for AppliedClock {}
impl Stored for LogId {}
impl Stored for Option<LogId> {}
impl Stored for Vote {}
impl<N: openraft::Node> Stored for StoredMembership<N> {}
impl<N: openraft::Node> Stored for SnapshotMeta<N> {}
// Plain values the tests store.
impl Stored for String {}
impl Stored for (u64, String) {}

/// The largest value the store will decode (a log entry carries at most a
/// few MiB of response body).
pub const MAX_VALUE_BYTES: u64 = 64 * 1024 * 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_VALUE_BYTES)
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_VERSION];
    options()
        .serialize_into(&mut out, value)
        .map_err(|e| StoreError::corrupt("value does not encode", e))?;
    Ok(out)
}

/// Decodes a value written by [`encode`], in this format or format 2;
/// `what` names it in the error.
pub fn decode<T: Stored>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => options()
            .deserialize(rest)
            .map_err(|e| StoreError::corrupt(what, e)),
        Some((&OLDEST_READABLE_FORMAT, rest)) => {
            T::decode_format2(rest).map_err(|e| StoreError::corrupt(what, e))
        }
        Some((v, _)) => Err(StoreError::corrupt(
            what,
            format!("unknown format version {v}"),
        )),
        None => Err(StoreError::corrupt(what, "empty value")),
    }
}

pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub fn index_from_key(key: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::corrupt("log key", format!("{} bytes, not 8", key.len())))?;
    Ok(u64::from_be_bytes(arr))
}

pub fn record_key(id: &KeyId) -> Vec<u8> {
    let ns = id.namespace.as_str().as_bytes();
    let key = id.key.as_str().as_bytes();
    let mut out = Vec::with_capacity(ns.len() + 1 + key.len());
    out.extend_from_slice(ns);
    out.push(0);
    out.extend_from_slice(key);
    out
}

pub fn record_id_from_key(bytes: &[u8]) -> Result<KeyId, StoreError> {
    let bad = |d: &str| StoreError::corrupt("record key", d.to_string());
    let split = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| bad("no separator"))?;
    let ns = std::str::from_utf8(&bytes[..split]).map_err(|_| bad("namespace is not UTF-8"))?;
    let key = std::str::from_utf8(&bytes[split + 1..]).map_err(|_| bad("key is not UTF-8"))?;
    let ns = Namespace::new(ns).map_err(|e| bad(&e.to_string()))?;
    let key = IdemKey::new(key).map_err(|e| bad(&e.to_string()))?;
    Ok(KeyId::new(ns, key))
}

/// Key of a record in the expiry index: the wall-clock hint of its forget
/// deadline (big-endian, so the index scans in deadline order), then its
/// record key.
pub fn expiry_key(forget_after_wall_ms: u64, id: &KeyId) -> Vec<u8> {
    let mut out = forget_after_wall_ms.to_be_bytes().to_vec();
    out.extend_from_slice(&record_key(id));
    out
}

pub fn expiry_key_parts(bytes: &[u8]) -> Result<(u64, KeyId), StoreError> {
    if bytes.len() < 9 {
        return Err(StoreError::corrupt(
            "expiry key",
            format!("{} bytes", bytes.len()),
        ));
    }
    let (time, rest) = bytes.split_at(8);
    Ok((index_from_key(time)?, record_id_from_key(rest)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_garbage_is_reported() {
        let bytes = encode(&(7u64, "x".to_string())).unwrap();
        assert_eq!(
            decode::<(u64, String)>(&bytes, "t").unwrap(),
            (7, "x".to_string())
        );
        assert!(decode::<(u64, String)>(&[], "t").is_err());
        assert!(decode::<(u64, String)>(&[9, 1, 2], "t").is_err());
        // A huge length prefix is refused, not allocated.
        let mut huge = vec![FORMAT_VERSION, 7, 0xfd];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<(u64, String)>(&huge, "t").is_err());
    }

    #[test]
    fn record_keys_round_trip() {
        let id = KeyId::new(
            Namespace::new("ns").unwrap(),
            IdemKey::new("a/b ü").unwrap(),
        );
        assert_eq!(record_id_from_key(&record_key(&id)).unwrap(), id);
        assert!(record_id_from_key(b"nosep").is_err());
        assert_eq!(
            expiry_key_parts(&expiry_key(42, &id)).unwrap(),
            (42, id.clone())
        );
        assert!(expiry_key(1, &id) < expiry_key(2, &id));
    }
}
