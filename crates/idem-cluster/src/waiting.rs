//! Reserves that wait for an in-flight result (`wait_ms`).
//!
//! A reserve that finds the key in progress under another attempt may ask
//! to be held until the answer changes: the owner completes (the replay),
//! releases or lets its lease run out (a grant, written through the log),
//! or the wait runs out (the 409 a reserve gives at that moment). The
//! request registers a watcher on its key *before* its first reserve, then
//! asks again only when an applied write touched the key or the owner's
//! lease is due; each ask is an ordinary reserve (a linearizable read or a
//! log write, on a follower from a read index), so the answer is exactly
//! what a reserve at that moment gives. Nothing polls.

use std::future::Future;
use std::time::Duration;

use idem_core::{ApiKeyId, Command, Outcome, Reserve, ReserveOutcome};
use idem_store::{KeyChange, KeyWatcher};
use tokio::time::Instant;

use crate::error::ClusterError;

/// The longest a reserve may wait.
pub const MAX_WAIT_MS: u64 = 60_000;

/// Reserves `cmd` (made with API key `by`, if any) with `execute`, waiting
/// up to `wait` while the key is in progress under someone else, woken by
/// `watcher` (registered on the key before this is called). Without a
/// watcher (no room for another waiter, or the node is shutting down) it
/// answers at once. Every ask judges the key again, so a waiter whose key
/// is revoked meanwhile is refused at its next ask.
pub async fn reserve_waiting<F, Fut>(
    execute: F,
    mut watcher: Option<KeyWatcher>,
    cmd: Reserve,
    by: Option<ApiKeyId>,
    wait: Duration,
) -> Result<Outcome, ClusterError>
where
    F: Fn(Command) -> Fut,
    Fut: Future<Output = Result<Outcome, ClusterError>>,
{
    let deadline = Instant::now() + wait;
    loop {
        let outcome = execute(Command::Reserve(cmd.clone()).made_with(by.clone())).await?;
        let Outcome::Reserve(ReserveOutcome::InProgress { retry_after_ms }) = &outcome else {
            return Ok(outcome);
        };
        let Some(watcher) = watcher.as_mut() else {
            return Ok(outcome);
        };
        let now = Instant::now();
        if now >= deadline {
            return Ok(outcome);
        }
        let lease_due = now + Duration::from_millis(*retry_after_ms);
        tokio::select! {
            change = watcher.changed() => {
                if change == KeyChange::Closed {
                    return Ok(outcome);
                }
            }
            () = tokio::time::sleep_until(lease_due.min(deadline)) => {}
        }
    }
}
