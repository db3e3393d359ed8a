//! Frames on the inter-node connection: a little-endian `u32` length, then
//! that many bytes of bincode. Sizes are limited on both sides so that a bad
//! peer cannot make a node allocate without bound.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame a node sends or accepts: a batch of log entries or a
/// snapshot chunk (openraft splits both well below this).
pub const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(u64),
    #[error("frame does not decode: {0}")]
    Decode(String),
    #[error("message does not encode: {0}")]
    Encode(String),
}

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(u64::from(MAX_FRAME_BYTES))
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), WireError> {
    let bytes = encode_message(msg)?;
    let len = u32::try_from(bytes.len()).map_err(|_| WireError::TooLarge(bytes.len() as u64))?;
    if len > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge(u64::from(len)));
    }
    let mut buf = Vec::with_capacity(4 + bytes.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&bytes);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge(u64::from(len)));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await?;
    decode_message(&buf)
}

/// One message as bytes (what a frame carries), for transports of other
/// kinds (an in-process test's copies messages through these, as TCP would).
pub fn encode_message<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    options()
        .serialize(msg)
        .map_err(|e| WireError::Encode(e.to_string()))
}

/// The message `bytes` encode, as [`encode_message`] wrote it.
pub fn decode_message<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    options()
        .deserialize(bytes)
        .map_err(|e| WireError::Decode(e.to_string()))
}
