//! Judging requests against this node's own state, once a linearizable read
//! point is known (on the leader, see [`crate::leader_service`]; on a
//! follower, [`crate::follower_read`]): reads of a record or a namespace
//! policy, and reserves that leave the record unchanged (a replay, in
//! progress, a mismatch), which need no log entry.

use std::future::Future;

use idem_core::{key_in_force, ApiKeyId, Outcome, Reserve, Stamp};
use idem_store::StateReader;

use crate::error::ClusterError;
use crate::rpc::{ReadReply, ReadRequest};

/// The answer to `reserve` (made with API key `by`, if any) if it leaves
/// the record unchanged, judged at the stamp `read_point` returns; `None`
/// when it must go through the log. A cheap look at the local state first
/// (at the time it has applied up to) keeps fresh keys from paying for the
/// read point. The key is judged at the read point too: a reserve answered
/// here is refused once its key's revocation is committed.
pub(crate) async fn reserve_by_read<Fut>(
    reader: &StateReader,
    reserve: &Reserve,
    by: Option<&ApiKeyId>,
    read_point: impl FnOnce() -> Fut,
) -> Result<Option<Outcome>, ClusterError>
where
    Fut: Future<Output = Result<Stamp, ClusterError>>,
{
    let judge = |now: &Stamp| {
        idem_core::reserve_without_write(reader, reserve, now).map_err(ClusterError::from)
    };
    if judge(&reader.applied_clock().now())?.is_none() {
        return Ok(None);
    }
    let now = read_point().await?;
    if let Some(key) = by {
        key_allowed(reader, key, &now)?;
    }
    Ok(judge(&now)?.map(Outcome::Reserve))
}

/// Whether API key `key` is in force at `now` in this node's state (the
/// error: [`ClusterError::KeyNotInForce`]).
fn key_allowed(reader: &StateReader, key: &ApiKeyId, now: &Stamp) -> Result<(), ClusterError> {
    key_in_force(reader, key, now)?.map_err(ClusterError::KeyNotInForce)
}

/// Reads this node's own state, as it stands, judged at `now`:
/// linearizable only right after a read point was reached.
///
/// A record is shown as stored, even once its retention has passed: it is
/// forgotten only by a log entry (a purge, or the next command on the key).
/// Hiding it here by the clock would not be linearizable, since a later
/// leader may judge the same deadline not yet passed (its monotonic bound
/// starts again with its term) and show it again.
///
/// A read made with an API key is answered only if the key is in force at
/// `now` (a read of the key's own state answers whatever it finds).
pub(crate) fn read_local(
    reader: &StateReader,
    read: ReadRequest,
    by: Option<&ApiKeyId>,
    now: Stamp,
) -> Result<ReadReply, ClusterError> {
    if let (Some(key), false) = (by, matches!(read, ReadRequest::Auth(_))) {
        key_allowed(reader, key, &now)?;
    }
    match read {
        ReadRequest::Record(id) => {
            let record = reader.raw_record(&id)?;
            Ok(ReadReply::Record { record, now })
        }
        ReadRequest::Policy(ns) => Ok(ReadReply::Policy(reader.namespace_policy(&ns)?)),
        ReadRequest::Auth(id) => Ok(ReadReply::Auth {
            key: reader.api_key(&id)?,
            secret: reader.auth_secret()?,
            now,
        }),
        ReadRequest::ApiKeys => Ok(ReadReply::ApiKeys(reader.api_keys()?)),
        ReadRequest::Quota(ns) => Ok(ReadReply::Quota {
            quota: reader.namespace_quota(&ns)?,
            usage: reader.namespace_usage(&ns)?,
        }),
    }
}
