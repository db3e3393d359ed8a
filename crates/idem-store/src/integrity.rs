//! Start-up checks: every piece of state the node will rely on decodes and
//! fits together, or the node refuses to start with a message that says what
//! is wrong and where.

use rocksdb::{IteratorMode, DB};

use crate::codec::{decode, index_from_key};
use crate::db::{cf, CF_LOG, CF_SM, KEY_INSTALLING};
use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::snapshot_dir::SnapshotDir;
use crate::snapshot_file::SnapshotReader;
use crate::state_machine::{applied_state, load_snapshot};
use crate::types::IdemRaftTypes;

/// What the checks found, for the start-up log line.
#[derive(Debug, Clone, Default)]
pub struct StartupReport {
    pub log_entries: u64,
    pub first_log_index: Option<u64>,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    /// A snapshot load interrupted by a crash was finished.
    pub resumed_snapshot_install: bool,
}

pub(crate) fn check<C: IdemRaftTypes>(
    db: &DB,
    log: &LogStore<C>,
    snapshots: &SnapshotDir,
) -> Result<StartupReport, StoreError> {
    let mut report = StartupReport::default();

    // An interrupted snapshot install is finished first.
    if let Some(path) = db.get_cf(cf(db, CF_SM)?, KEY_INSTALLING)? {
        let path = std::path::PathBuf::from(String::from_utf8_lossy(&path).into_owned());
        load_snapshot::<C>(db, &path)?;
        report.resumed_snapshot_install = true;
    }

    log.read_vote_now()?;
    log.committed()?;
    let last_purged = log.last_purged()?;

    // The log: every entry decodes, sits at its own index, and the indexes
    // run without a gap from just after the purged prefix.
    let mut expected = last_purged.map(|l| l.index + 1);
    for item in db.iterator_cf(cf(db, CF_LOG)?, IteratorMode::Start) {
        let (key, value) = item?;
        let index = index_from_key(&key)?;
        if let Some(e) = expected {
            if index != e {
                return Err(StoreError::corrupt(
                    "raft log",
                    format!("entry {e} is missing (next present: {index})"),
                ));
            }
        }
        let entry: C::Entry = decode(&value, &format!("log entry {index}"))?;
        if entry.log_id.index != index {
            return Err(StoreError::corrupt(
                format!("log entry {index}"),
                format!("holds index {}", entry.log_id.index),
            ));
        }
        report.first_log_index.get_or_insert(index);
        report.last_log_index = Some(index);
        report.log_entries += 1;
        expected = Some(index + 1);
    }

    let (last_applied, _membership) = applied_state::<C>(db)?;
    crate::pending::read_clock(db)?;
    report.last_applied_index = last_applied.map(|l| l.index);

    if let Some((path, meta)) = snapshots.current::<C::Node>()? {
        let (_, reader): (crate::types::SnapshotMeta<C::Node>, _) = SnapshotReader::open(&path)?;
        reader.verify()?;
        report.snapshot_index = meta.last_log_id.map(|l| l.index);
    }

    // The state machine must not be behind the purged log with nothing to
    // catch up from.
    if let Some(purged) = last_purged {
        let covered = last_applied.is_some_and(|a| a.index >= purged.index)
            || report.snapshot_index.is_some_and(|s| s >= purged.index);
        if !covered {
            return Err(StoreError::corrupt(
                "state machine",
                format!(
                    "applied up to {:?}, but the log is purged up to {} and no snapshot covers the gap",
                    last_applied.map(|l| l.index),
                    purged.index
                ),
            ));
        }
    }
    Ok(report)
}
