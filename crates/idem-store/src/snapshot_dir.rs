//! The folder of snapshot files: at most one current snapshot (the newest),
//! written under a temporary name and renamed into place once synced.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::StoreError;
use crate::snapshot_file::SnapshotReader;
use crate::types::{LogId, SnapshotMeta};

#[derive(Clone)]
pub(crate) struct SnapshotDir {
    dir: PathBuf,
    publish: Arc<Mutex<()>>,
    counter: Arc<AtomicU64>,
}

/// The newest snapshot file and its metadata.
pub(crate) type CurrentSnapshot<N> = (PathBuf, SnapshotMeta<N>);

const SUFFIX: &str = ".snap";
const PART: &str = ".part";

impl SnapshotDir {
    /// Opens the folder, removing half-written files left by a crash.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        for path in list(&dir)? {
            if path.to_string_lossy().ends_with(PART) {
                std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
        }
        Ok(SnapshotDir {
            dir,
            publish: Arc::new(Mutex::new(())),
            counter: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A fresh path for a snapshot being written.
    pub(crate) fn temp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!("incoming-{}-{n}{PART}", std::process::id()))
    }

    /// The newest complete snapshot and its metadata.
    pub(crate) fn current<N: openraft::Node>(
        &self,
    ) -> Result<Option<CurrentSnapshot<N>>, StoreError> {
        let mut best: Option<(PathBuf, SnapshotMeta<N>)> = None;
        for path in list(&self.dir)? {
            if !path.to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            let (meta, _): (SnapshotMeta<N>, _) = SnapshotReader::open(&path)?;
            if best
                .as_ref()
                .is_none_or(|(_, b)| meta.last_log_id > b.last_log_id)
            {
                best = Some((path, meta));
            }
        }
        Ok(best)
    }

    /// Moves a synced snapshot file into place and removes older ones. A
    /// snapshot older than the current one is kept out of the way, never
    /// replacing it.
    pub(crate) fn publish<N: openraft::Node>(
        &self,
        written: &Path,
        meta: &SnapshotMeta<N>,
    ) -> Result<PathBuf, StoreError> {
        let _guard = self
            .publish
            .lock()
            .map_err(|_| StoreError::Task("snapshot publish lock poisoned".into()))?;
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        let term = meta.last_log_id.map(|l| l.leader_id.term).unwrap_or(0);
        // Two snapshots of the same log id (built twice, or received) get
        // names of their own.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("snapshot-{index:020}-{term:020}-{nanos}{SUFFIX}");
        let target = self.dir.join(name);
        std::fs::rename(written, &target).map_err(|e| StoreError::io(&target, e))?;
        sync_dir(&self.dir)?;
        // Keep only the newest.
        let mut snaps: Vec<(PathBuf, Option<LogId>)> = Vec::new();
        for path in list(&self.dir)? {
            if path.to_string_lossy().ends_with(SUFFIX) {
                let (m, _): (SnapshotMeta<N>, _) = SnapshotReader::open(&path)?;
                snaps.push((path, m.last_log_id));
            }
        }
        let newest = snaps.iter().map(|(_, l)| *l).max().flatten();
        for (path, last) in snaps {
            if last < newest {
                std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
        }
        Ok(target)
    }
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        out.push(entry.map_err(|e| StoreError::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
