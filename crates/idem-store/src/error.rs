//! Storage errors, typed. The cluster layer turns them into openraft's
//! `StorageError` (which stops the node) or, at start-up, into a clear
//! message for the operator.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("RocksDB: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bytes on disk that do not decode: corruption, or a file from another
    /// program or version.
    #[error("corrupt data: {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("the state reader is read-only; writes go through the log")]
    ReadOnly,
    #[error("a blocking storage task failed: {0}")]
    Task(String),
}

impl StoreError {
    pub fn corrupt(what: impl Into<String>, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Runs a blocking RocksDB or file-system call off the async worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

/// A store error as the `io::Error` openraft's storage traits return (which
/// stops the Raft node); the typed error stays its source.
pub(crate) fn to_io(e: StoreError) -> std::io::Error {
    std::io::Error::other(e)
}
