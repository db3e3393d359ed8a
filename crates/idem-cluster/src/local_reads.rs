//! Judging requests against this node's own state, once a linearizable read
//! point is known (on the leader, see [`crate::leader_service`]; on a
//! follower, [`crate::follower_read`]): reads of a record or a namespace
//! policy, and reserves that leave the record unchanged (a replay, in
//! progress, a mismatch), which need no log entry.

use std::future::Future;

use idem_core::{Reserve, ReserveOutcome, Stamp};
use idem_store::StateReader;

use crate::error::ClusterError;
use crate::rpc::{ReadReply, ReadRequest};

/// The answer to `reserve` if it leaves the record unchanged, judged at the
/// stamp `read_point` returns; `None` when it must go through the log. A
/// cheap look at the local state first (at the time it has applied up to)
/// keeps fresh keys from paying for the read point.
pub(crate) async fn reserve_by_read<Fut>(
    reader: &StateReader,
    reserve: &Reserve,
    read_point: impl FnOnce() -> Fut,
) -> Result<Option<ReserveOutcome>, ClusterError>
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
    judge(&now)
}

/// Reads this node's own state, as it stands, judged at `now`:
/// linearizable only right after a read point was reached.
///
/// A record is shown as stored, even once its retention has passed: it is
/// forgotten only by a log entry (a purge, or the next command on the key).
/// Hiding it here by the clock would not be linearizable, since a later
/// leader may judge the same deadline not yet passed (its monotonic bound
/// starts again with its term) and show it again.
pub(crate) fn read_local(
    reader: &StateReader,
    read: ReadRequest,
    now: Stamp,
) -> Result<ReadReply, ClusterError> {
    match read {
        ReadRequest::Record(id) => {
            let record = reader.raw_record(&id)?;
            Ok(ReadReply::Record { record, now })
        }
        ReadRequest::Policy(ns) => Ok(ReadReply::Policy(reader.namespace_policy(&ns)?)),
    }
}
