//! Clean-up of records whose retention has ended (and of abandoned or unused
//! minted keys): the leader reads candidates from the store's expiry index,
//! soonest first, and proposes them as a replicated `Purge` entry. Applying
//! it checks every candidate again with both time bounds, so nothing is
//! deleted before its deadline, whatever the leader's wall clock says.
//!
//! The cost of a round follows the number of due records, not all records.
//! When the candidates are not due yet by the monotonic bound (after a leader
//! change a retention window is counted again from the term's start), the
//! purge outcome says when the soonest will be, and the cleaner waits that
//! long instead of proposing the same candidates again.

use std::sync::Arc;
use std::time::Duration;

use idem_core::{Command, Outcome, Purge};
use idem_store::StateReader;

use crate::clock::ClusterClock;
use crate::proposer::Proposer;

/// Candidates per purge entry.
pub const PURGE_BATCH: usize = 1_000;

/// Runs until the node shuts down: every `every`, while this node leads,
/// proposes a purge of the records the expiry index says are due.
pub(crate) async fn clean_expired(
    clock: Arc<ClusterClock>,
    reader: StateReader,
    proposer: Proposer,
    every: Duration,
) {
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        wait = every;
        if !clock.is_leader() || !clock.is_synced() {
            continue; // only the leader cleans, by the time it stamps with
        }
        let now_wall_ms = clock.cluster_ms();
        let ids = match reader.due_for_purge(now_wall_ms, PURGE_BATCH) {
            Ok(ids) if ids.is_empty() => continue,
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("cleaner: reading the expiry index failed: {e}");
                continue;
            }
        };
        let full_batch = ids.len() == PURGE_BATCH;
        match proposer.propose(Command::Purge(Purge { ids })).await {
            Ok(Outcome::Purge(p)) => {
                tracing::debug!("cleaner: purged {}, skipped {}", p.purged.len(), p.skipped);
                if p.purged.is_empty() {
                    if let Some(due) = p.next_due_in_ms {
                        wait = every.max(Duration::from_millis(due));
                    }
                } else if full_batch {
                    wait = Duration::ZERO; // more are due: keep going
                }
            }
            Ok(other) => tracing::warn!("cleaner: unexpected outcome {other:?}"),
            Err(e) => tracing::debug!("cleaner: purge not applied: {e}"),
        }
    }
}
