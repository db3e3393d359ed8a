//! The snapshot file: a streamed copy of the state machine at one log id.
//!
//! ```text
//! "IDEMSNAP" | u8 format | u32 len | meta            (header)
//! u8 kind | u32 len | key | u32 len | value           (one frame per entry)
//! u8 END | u64 frame count | u32 CRC-32 of all bytes before it
//! ```
//!
//! Written and read as a stream, so neither building nor installing a
//! snapshot holds the state machine in memory. The trailer makes a truncated
//! or corrupted file detectable before it replaces anything.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::Serialize;

use crate::codec::{decode, encode, Stored, MAX_VALUE_BYTES};
use crate::error::StoreError;

const MAGIC: &[u8; 8] = b"IDEMSNAP";
const FORMAT: u8 = 1;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Record = 1,
    Namespace = 2,
    Clock = 3,
    /// A key of the `auth` column family: an API key record or the auth
    /// secret (snapshots from before API keys have none).
    Auth = 4,
    /// A namespace's quota (snapshots from before quotas have none).
    Quota = 5,
}

const END: u8 = 0xFF;

impl FrameKind {
    fn from_byte(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Record),
            2 => Some(FrameKind::Namespace),
            3 => Some(FrameKind::Clock),
            4 => Some(FrameKind::Auth),
            5 => Some(FrameKind::Quota),
            _ => None,
        }
    }
}

struct Crc<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Crc<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

pub struct SnapshotWriter {
    out: Crc<BufWriter<File>>,
    frames: u64,
    path: std::path::PathBuf,
}

impl SnapshotWriter {
    pub fn create<M: Serialize>(path: &Path, meta: &M) -> Result<Self, StoreError> {
        let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
        let mut w = SnapshotWriter {
            out: Crc {
                inner: BufWriter::new(file),
                crc: crc32fast::Hasher::new(),
            },
            frames: 0,
            path: path.to_path_buf(),
        };
        let meta = encode(meta)?;
        w.put(MAGIC)?;
        w.put(&[FORMAT])?;
        w.put(&(meta.len() as u32).to_le_bytes())?;
        w.put(&meta)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.out
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    pub fn frame(&mut self, kind: FrameKind, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(&[kind as u8])?;
        self.put(&(key.len() as u32).to_le_bytes())?;
        self.put(key)?;
        self.put(&(value.len() as u32).to_le_bytes())?;
        self.put(value)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the trailer and syncs the file to disk.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.put(&[END])?;
        let frames = self.frames;
        self.put(&frames.to_le_bytes())?;
        let crc = self.out.crc.clone().finalize();
        let path = self.path.clone();
        let mut inner = self.out.inner;
        inner
            .write_all(&crc.to_le_bytes())
            .map_err(|e| StoreError::io(&path, e))?;
        let file = inner
            .into_inner()
            .map_err(|e| StoreError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| StoreError::io(&path, e))
    }
}

/// One frame: what it holds, its key, its value.
pub type Frame = (FrameKind, Vec<u8>, Vec<u8>);

pub struct SnapshotReader {
    input: Crc<BufReader<File>>,
    frames: u64,
    what: String,
    done: bool,
}

impl SnapshotReader {
    /// Opens a snapshot file and reads its header.
    pub fn open<M: Stored>(path: &Path) -> Result<(M, SnapshotReader), StoreError> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let mut r = SnapshotReader {
            input: Crc {
                inner: BufReader::new(file),
                crc: crc32fast::Hasher::new(),
            },
            frames: 0,
            what: format!("snapshot {}", path.display()),
            done: false,
        };
        let mut magic = [0u8; 8];
        r.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(StoreError::corrupt(r.what.clone(), "not a snapshot file"));
        }
        let mut format = [0u8; 1];
        r.take(&mut format)?;
        if format[0] != FORMAT {
            return Err(StoreError::corrupt(
                r.what.clone(),
                format!("unknown format {}", format[0]),
            ));
        }
        let meta = r.sized()?;
        let meta = decode(&meta, &r.what)?;
        Ok((meta, r))
    }

    fn take(&mut self, buf: &mut [u8]) -> Result<(), StoreError> {
        let what = self.what.clone();
        self.input
            .read_exact(buf)
            .map_err(|e| StoreError::corrupt(what, format!("truncated: {e}")))
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let mut b = [0u8; 4];
        self.take(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn sized(&mut self) -> Result<Vec<u8>, StoreError> {
        let len = self.u32()?;
        if u64::from(len) > MAX_VALUE_BYTES {
            return Err(StoreError::corrupt(
                self.what.clone(),
                format!("frame of {len} bytes"),
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.take(&mut buf)?;
        Ok(buf)
    }

    /// The next frame, or `None` after the trailer (whose count and checksum
    /// are verified).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut kind = [0u8; 1];
        self.take(&mut kind)?;
        if kind[0] == END {
            self.done = true;
            let mut count = [0u8; 8];
            self.take(&mut count)?;
            let expected = self.input.crc.clone().finalize();
            let mut crc = [0u8; 4];
            self.input
                .inner
                .read_exact(&mut crc)
                .map_err(|e| StoreError::corrupt(self.what.clone(), format!("truncated: {e}")))?;
            if u64::from_le_bytes(count) != self.frames {
                return Err(StoreError::corrupt(
                    self.what.clone(),
                    "frame count does not match",
                ));
            }
            if u32::from_le_bytes(crc) != expected {
                return Err(StoreError::corrupt(
                    self.what.clone(),
                    "checksum does not match",
                ));
            }
            let mut rest = [0u8; 1];
            if self
                .input
                .inner
                .read(&mut rest)
                .map_err(|e| StoreError::io(&self.what, e))?
                != 0
            {
                return Err(StoreError::corrupt(
                    self.what.clone(),
                    "bytes after the trailer",
                ));
            }
            return Ok(None);
        }
        let kind = FrameKind::from_byte(kind[0]).ok_or_else(|| {
            StoreError::corrupt(self.what.clone(), format!("unknown frame kind {}", kind[0]))
        })?;
        let key = self.sized()?;
        let value = self.sized()?;
        self.frames += 1;
        Ok(Some((kind, key, value)))
    }

    /// Reads to the end, verifying the trailer.
    pub fn verify(mut self) -> Result<u64, StoreError> {
        while self.next_frame()?.is_some() {}
        Ok(self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, frames: u32) {
        let mut w = SnapshotWriter::create(path, &"meta".to_string()).unwrap();
        for i in 0..frames {
            w.frame(FrameKind::Record, format!("k{i}").as_bytes(), b"value")
                .unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_snapshot_reads_back_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        write(&path, 100);
        let (meta, r): (String, _) = SnapshotReader::open(&path).unwrap();
        assert_eq!(meta, "meta");
        assert_eq!(r.verify().unwrap(), 100);
    }

    #[test]
    fn truncation_and_bit_flips_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        write(&path, 100);
        let bytes = std::fs::read(&path).unwrap();
        for cut in [bytes.len() - 1, bytes.len() - 5, bytes.len() / 2, 20] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let r = SnapshotReader::open::<String>(&path).and_then(|(_, r)| r.verify());
            assert!(
                matches!(r, Err(StoreError::Corrupt { .. })),
                "cut at {cut}: {r:?}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x01;
        std::fs::write(&path, &flipped).unwrap();
        let r = SnapshotReader::open::<String>(&path).and_then(|(_, r)| r.verify());
        assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");
    }
}
