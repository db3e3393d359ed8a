//! The hardware's floor for one replicated write: what a reserve cannot be
//! faster than on this machine, measured by the tool itself, so that a
//! latency can be read as a ratio to it.
//!
//! A replicated write is durable when a majority has synced it; the three
//! nodes of a local cluster share one disk, so their syncs contend. The
//! floor is therefore one round of **concurrent** appends + `fdatasync`s,
//! one per data directory (as each node's write-ahead log does), plus one
//! loopback TCP round trip (the leader's message to a follower and its
//! answer). Both are medians of many rounds, taken while nothing else runs.
//!
//! Files are created in the given directories and removed afterwards; the
//! round trip uses a listener on 127.0.0.1 only.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;

/// Bytes appended before each sync: a small log entry.
const APPEND_BYTES: usize = 512;
/// Bytes of each round-trip message: a small Raft append request.
const MESSAGE_BYTES: usize = 256;
/// Not preallocated: like a write-ahead log the file grows with each
/// append, so each sync also persists the new size. Emptied at this size.
const FILE_LIMIT: u64 = 64 << 20;

/// The measured floor (microseconds).
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    /// Data directories synced concurrently (one per node).
    pub dirs: Vec<String>,
    pub rounds: usize,
    /// Concurrent append + fdatasync in every directory: median and p90 of
    /// the slowest of each round.
    pub sync_round_p50_us: u64,
    pub sync_round_p90_us: u64,
    /// One file alone, for comparison (median).
    pub single_sync_p50_us: u64,
    /// Loopback TCP round trip of a small message (median).
    pub loopback_rtt_p50_us: u64,
    /// `sync_round_p50_us + loopback_rtt_p50_us`.
    pub floor_us: u64,
}

impl Floor {
    /// Measures `rounds` rounds in `dirs` (each must exist and be writable).
    pub fn measure(dirs: &[PathBuf], rounds: usize) -> Result<Floor, BenchError> {
        if dirs.is_empty() {
            return Err(BenchError::invalid("--floor-dir", "no directory given"));
        }
        let rounds = rounds.max(1);
        let files = dirs
            .iter()
            .map(|dir| SyncFile::create(dir))
            .collect::<Result<Vec<_>, _>>()?;
        let single = {
            let mut first = files[0].try_clone()?;
            let mut times = (0..rounds)
                .map(|_| first.append_and_sync())
                .collect::<Result<Vec<_>, _>>()?;
            percentile(&mut times, 0.5)
        };
        let mut rounds_us = concurrent_sync_rounds(files, rounds)?;
        let mut rtt = loopback_round_trips(rounds)?;
        let sync_p50 = percentile(&mut rounds_us, 0.5);
        let rtt_p50 = percentile(&mut rtt, 0.5);
        Ok(Floor {
            dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
            rounds,
            sync_round_p50_us: sync_p50,
            sync_round_p90_us: percentile(&mut rounds_us, 0.9),
            single_sync_p50_us: single,
            loopback_rtt_p50_us: rtt_p50,
            floor_us: sync_p50 + rtt_p50,
        })
    }
}

/// A file that grows by an append and a `fdatasync` at a time, removed when
/// dropped (by its creator, not its clones).
struct SyncFile {
    file: File,
    path: Option<PathBuf>,
    written: u64,
}

impl SyncFile {
    fn create(dir: &Path) -> Result<SyncFile, BenchError> {
        let path = dir.join(format!(".idem-bench-floor-{}", std::process::id()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| floor_io(&path, e))?;
        Ok(SyncFile {
            file,
            path: Some(path),
            written: 0,
        })
    }

    fn try_clone(&self) -> Result<SyncFile, BenchError> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| BenchError::Floor(e.to_string()))?;
        Ok(SyncFile {
            file,
            path: None,
            written: 0,
        })
    }

    /// One append and sync; its duration in microseconds.
    fn append_and_sync(&mut self) -> Result<u64, BenchError> {
        let io = |e: std::io::Error| BenchError::Floor(format!("append and sync: {e}"));
        if self.written >= FILE_LIMIT {
            self.file.set_len(0).map_err(io)?;
            self.file.sync_all().map_err(io)?;
            self.written = 0;
        }
        let started = Instant::now();
        self.file.write_all(&[0x5a; APPEND_BYTES]).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.written += APPEND_BYTES as u64;
        Ok(micros(started.elapsed()))
    }
}

impl Drop for SyncFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn floor_io(path: &Path, e: std::io::Error) -> BenchError {
    BenchError::Floor(format!("{}: {e}", path.display()))
}

/// Every file appends and syncs at the same moment, `rounds` times; each
/// round's time is its slowest sync (microseconds).
fn concurrent_sync_rounds(files: Vec<SyncFile>, rounds: usize) -> Result<Vec<u64>, BenchError> {
    let start = Arc::new(Barrier::new(files.len()));
    let workers: Vec<_> = files
        .into_iter()
        .map(|mut file| {
            let start = start.clone();
            std::thread::spawn(move || -> Result<Vec<u64>, BenchError> {
                (0..rounds)
                    .map(|_| {
                        start.wait();
                        file.append_and_sync()
                    })
                    .collect()
            })
        })
        .collect();
    let mut per_file = Vec::new();
    for worker in workers {
        let times = worker
            .join()
            .map_err(|_| BenchError::Floor("a sync thread panicked".into()))??;
        per_file.push(times);
    }
    Ok((0..rounds)
        .map(|round| per_file.iter().map(|t| t[round]).max().unwrap_or(0))
        .collect())
}

/// Round trips of a small message over loopback TCP (microseconds).
fn loopback_round_trips(rounds: usize) -> Result<Vec<u64>, BenchError> {
    let io = |e: std::io::Error| BenchError::Floor(format!("loopback round trip: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let address = listener.local_addr().map_err(io)?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut message = [0u8; MESSAGE_BYTES];
        for _ in 0..rounds {
            stream.read_exact(&mut message)?;
            stream.write_all(&message)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(address).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let mut message = [0x5au8; MESSAGE_BYTES];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        stream.write_all(&message).map_err(io)?;
        stream.read_exact(&mut message).map_err(io)?;
        times.push(micros(started.elapsed()));
    }
    echo.join()
        .map_err(|_| BenchError::Floor("the echo thread panicked".into()))?
        .map_err(io)?;
    Ok(times)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The `q` quantile of `values` (sorts them); 0 for none.
fn percentile(values: &mut [u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    values[rank.min(values.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_syncs_and_round_trips_and_leaves_no_file() {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
        let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
        let floor = Floor::measure(&paths, 20).expect("measured");
        assert_eq!(floor.rounds, 20);
        assert_eq!(floor.dirs.len(), 3);
        assert!(floor.sync_round_p50_us > 0, "{floor:?}");
        assert!(floor.sync_round_p90_us >= floor.sync_round_p50_us);
        assert!(floor.loopback_rtt_p50_us > 0, "{floor:?}");
        assert_eq!(
            floor.floor_us,
            floor.sync_round_p50_us + floor.loopback_rtt_p50_us
        );
        for dir in &dirs {
            let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read").collect();
            assert!(left.is_empty(), "files left behind: {left:?}");
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_panic() {
        let error = Floor::measure(&[PathBuf::from("/nonexistent/idem-floor")], 3)
            .expect_err("cannot create a file there");
        assert!(
            error.to_string().contains("/nonexistent/idem-floor"),
            "{error}"
        );
        assert!(Floor::measure(&[], 3).is_err());
    }

    #[test]
    fn percentiles_pick_ranks() {
        assert_eq!(percentile(&mut [], 0.5), 0);
        assert_eq!(percentile(&mut [5, 1, 3], 0.5), 3);
        assert_eq!(percentile(&mut [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
    }
}
