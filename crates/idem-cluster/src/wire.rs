//! Frames on the inter-node connection: a little-endian `u32` length, then
//! that many bytes: the marker `id`, the wire format version, and the
//! message in bincode. Sizes are limited on both sides so that a bad peer
//! cannot make a node allocate without bound.
//!
//! # Versions
//!
//! 1 (no marker: a frame was bare bincode) until replies carried relative
//! times; 2 when `idem_core::Outcome` gained the `*_remaining_ms` fields; 3
//! since commands and outcomes carry attempts and committing marks.
//! A node refuses, with an error that names both versions, a frame of
//! another version rather than misreading it; nodes of different versions
//! do not talk, so an upgrade across a wire version stops every node, then
//! starts them on the new release (their data directories are read as they
//! are).

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame a node sends or accepts: a batch of log entries or a
/// snapshot chunk (openraft splits both well below this).
pub const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

/// The wire format this build speaks.
pub const WIRE_VERSION: u8 = 4;

/// What every frame of version 2 or later starts with. A version 1 frame
/// starts with a bincode enum tag (a small number), never with `i`.
const MARKER: [u8; 2] = *b"id";

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
    #[error("the peer speaks wire format {theirs}, this node {WIRE_VERSION}: run one release on every node")]
    Version { theirs: u8 },
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
    // Grown as the bytes arrive, not allocated for the length a peer
    // claims: a peer that announces 64 MiB and sends nothing costs nothing.
    let mut buf = Vec::new();
    let read = r.take(u64::from(len)).read_to_end(&mut buf).await?;
    if read != len as usize {
        return Err(WireError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("frame of {len} bytes ended after {read}"),
        )));
    }
    decode_message(&buf)
}

/// One message as bytes (what a frame carries), for transports of other
/// kinds (an in-process test's copies messages through these, as TCP would).
pub fn encode_message<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MARKER);
    out.push(WIRE_VERSION);
    options()
        .serialize_into(&mut out, msg)
        .map_err(|e| WireError::Encode(e.to_string()))?;
    Ok(out)
}

/// The message `bytes` encode, as [`encode_message`] wrote it; a frame of
/// another wire version is refused undecoded.
pub fn decode_message<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let body = match bytes {
        [m0, m1, version, body @ ..] if [*m0, *m1] == MARKER => {
            if *version != WIRE_VERSION {
                return Err(WireError::Version { theirs: *version });
            }
            body
        }
        _ => return Err(WireError::Version { theirs: 1 }),
    };
    options()
        .deserialize(body)
        .map_err(|e| WireError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Request;

    #[test]
    fn messages_round_trip_and_other_versions_are_refused_undecoded() {
        let bytes = encode_message(&Request::ClockProbe).unwrap();
        assert!(matches!(
            decode_message::<Request>(&bytes),
            Ok(Request::ClockProbe)
        ));
        // Version 1: bare bincode.
        let v1 = options().serialize(&Request::ClockProbe).unwrap();
        assert!(matches!(
            decode_message::<Request>(&v1),
            Err(WireError::Version { theirs: 1 })
        ));
        for other in [2, 3, 5] {
            let mut framed = bytes.clone();
            framed[2] = other;
            assert!(matches!(
                decode_message::<Request>(&framed),
                Err(WireError::Version { theirs }) if theirs == other
            ));
        }
        assert!(decode_message::<Request>(&[]).is_err());
        assert!(decode_message::<Request>(b"id\x04\xff\xff").is_err());
    }

    #[tokio::test]
    async fn a_frame_cut_short_or_over_the_limit_is_refused() {
        let mut short: &[u8] = &[0, 0, 0, 4, 1, 2];
        assert!(read_frame::<_, Request>(&mut short).await.is_err());
        let mut claimed = (MAX_FRAME_BYTES).to_le_bytes().to_vec();
        claimed.extend_from_slice(b"id");
        assert!(read_frame::<_, Request>(&mut claimed.as_slice())
            .await
            .is_err());
        let mut huge: &[u8] = &(MAX_FRAME_BYTES + 1).to_le_bytes();
        assert!(matches!(
            read_frame::<_, Request>(&mut huge).await,
            Err(WireError::TooLarge(_))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Whatever a peer (or anything that reaches the Raft port) sends,
        /// decoding answers: a message or an error, never a panic.
        #[test]
        fn any_bytes_decode_or_are_refused_without_panicking(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            framed in proptest::prelude::any::<bool>(),
        ) {
            let bytes = if framed {
                let mut b = MARKER.to_vec();
                b.push(WIRE_VERSION);
                b.extend_from_slice(&body);
                b
            } else {
                body
            };
            let _ = decode_message::<Request>(&bytes);
            let _ = decode_message::<crate::rpc::Response>(&bytes);
            let mut frame = (bytes.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&bytes);
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let _ = runtime.block_on(read_frame::<_, Request>(&mut frame.as_slice()));
        }
    }
}
