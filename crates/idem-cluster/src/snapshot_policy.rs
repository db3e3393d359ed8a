//! When a node takes a snapshot (after which its log is purged).
//!
//! A snapshot writes out the whole state machine, so it costs in proportion
//! to the number of records; the log it lets the node purge grows by one
//! command at a time. A fixed interval in log entries (openraft's own
//! policy) would, with millions of records, spend most of the time writing
//! snapshots. So every node decides for itself, once a second, and takes a
//! snapshot only when both hold since its last one:
//! - at least `snapshot_every` log entries were applied (this bounds the log
//!   of a small state, as a fixed interval would), and
//! - at least a quarter as many commands were applied as there are records.
//!
//! The second rule makes each command pay for at most four records' worth of
//! snapshot writing, however large the state grows, and keeps the log that
//! is not yet covered by a snapshot within about a quarter of the state.

use std::time::Duration;

use idem_store::StateReader;
use openraft::type_config::async_runtime::WatchReceiver;

use crate::types::Raft;

/// Commands since the last snapshot must reach `records / RECORDS_PER_COMMAND`.
const RECORDS_PER_COMMAND: u64 = 4;

/// How long to wait for a requested snapshot to appear before asking again.
const PATIENCE: Duration = Duration::from_secs(30);

/// Whether a snapshot is due, given what was applied since the last one.
pub(crate) fn snapshot_due(
    entries_since: u64,
    commands_since: u64,
    records: u64,
    snapshot_every: u64,
) -> bool {
    entries_since >= snapshot_every && commands_since >= records / RECORDS_PER_COMMAND
}

/// Runs until Raft stops: once a second, asks `raft` for a snapshot if one
/// is due by [`snapshot_due`].
pub(crate) async fn take_snapshots(raft: Raft, reader: StateReader, snapshot_every: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The snapshot index last seen, and the command count at that moment:
    // commands are counted from there (or from start-up).
    let mut last_snapshot = None;
    let mut commands_at_snapshot = reader.applied_commands();
    let mut requested: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let (applied, snapshot) = {
            let m = raft.metrics();
            let m = m.borrow_watched();
            if m.running_state.is_err() {
                return;
            }
            (m.last_applied.map(|l| l.index), m.snapshot.map(|l| l.index))
        };
        let commands = reader.applied_commands();
        if snapshot != last_snapshot {
            last_snapshot = snapshot;
            commands_at_snapshot = commands;
            requested = None;
        }
        if requested.is_some_and(|at| at.elapsed() < PATIENCE) {
            continue;
        }
        let entries_since = match (applied, snapshot) {
            (Some(a), Some(s)) => a.saturating_sub(s),
            (Some(a), None) => a + 1,
            (None, _) => 0,
        };
        let records = match reader.estimated_records() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("snapshot policy: cannot count records: {e}");
                continue;
            }
        };
        let commands_since = commands.saturating_sub(commands_at_snapshot);
        if snapshot_due(entries_since, commands_since, records, snapshot_every) {
            tracing::info!(
                "taking a snapshot: {entries_since} entries and {commands_since} commands \
                 since the last one, about {records} records"
            );
            if raft.trigger().snapshot().await.is_err() {
                return;
            }
            requested = Some(tokio::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::snapshot_due;

    #[test]
    fn a_small_state_snapshots_every_so_many_entries() {
        assert!(!snapshot_due(9_999, 50_000, 1_000, 10_000));
        assert!(snapshot_due(10_000, 10_000, 1_000, 10_000));
        // Batched entries: few entries, many commands, still waits for entries.
        assert!(!snapshot_due(500, 100_000, 1_000, 10_000));
    }

    #[test]
    fn a_large_state_waits_for_a_quarter_of_its_size_in_commands() {
        let records = 10_000_000;
        assert!(!snapshot_due(50_000, 2_499_999, records, 10_000));
        assert!(snapshot_due(50_000, 2_500_000, records, 10_000));
    }

    #[test]
    fn snapshot_work_per_command_stays_bounded_as_the_state_grows() {
        // Simulate a node that applies 20 commands per entry and adds one
        // record per command: records written by snapshots, divided by
        // commands applied, stays at most a few whatever the size reached.
        for target in [10_000u64, 1_000_000, 10_000_000] {
            let (mut records, mut entries_since, mut commands_since) = (0u64, 0u64, 0u64);
            let mut written = 0u64;
            while records < target {
                records += 20;
                entries_since += 1;
                commands_since += 20;
                if snapshot_due(entries_since, commands_since, records, 10_000) {
                    written += records;
                    entries_since = 0;
                    commands_since = 0;
                }
            }
            let per_command = written as f64 / records as f64;
            assert!(
                per_command <= 5.0,
                "{target}: {per_command} records written per command"
            );
        }
    }
}
