//! A tiny Redis client: one connection, one command in flight, RESP2 replies
//! without arrays (the workloads use only SET and GET).

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::OpError;

/// Bulk replies larger than this are refused.
const MAX_BULK_BYTES: usize = 4 * 1024 * 1024;
/// Status lines longer than this are refused.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespValue {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None` is the nil bulk string.
    Bulk(Option<Vec<u8>>),
}

/// A connection to one Redis server.
pub struct RespConnection {
    authority: String,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl RespConnection {
    pub fn new(authority: String, timeout: Duration) -> RespConnection {
        RespConnection {
            authority,
            timeout,
            stream: None,
        }
    }

    /// Sends one command and reads its reply, within the timeout.
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<RespValue, OpError> {
        match tokio::time::timeout(self.timeout, self.exchange(args)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.stream = None;
                Err(error)
            }
            Err(_elapsed) => {
                self.stream = None;
                Err(OpError::Timeout)
            }
        }
    }

    async fn exchange(&mut self, args: &[&[u8]]) -> Result<RespValue, OpError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| OpError::transport(format!("connect {}: {e}", self.authority)))?;
            stream.set_nodelay(true).map_err(OpError::transport)?;
            self.stream = Some(BufReader::new(stream));
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| OpError::transport("no connection"))?;
        stream
            .write_all(&encode_command(args))
            .await
            .map_err(OpError::transport)?;
        read_value(stream).await
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply.
pub async fn read_value<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<RespValue, OpError> {
    let line = read_line(reader).await?;
    let mut chars = line.chars();
    let kind = chars.next();
    let rest = chars.as_str();
    match kind {
        Some('+') => Ok(RespValue::Simple(rest.to_string())),
        Some('-') => Ok(RespValue::Error(rest.to_string())),
        Some(':') => rest
            .parse()
            .map(RespValue::Integer)
            .map_err(|_| OpError::protocol(format!("bad integer {rest:?}"))),
        Some('$') => {
            let length: i64 = rest
                .parse()
                .map_err(|_| OpError::protocol(format!("bad bulk length {rest:?}")))?;
            if length < 0 {
                return Ok(RespValue::Bulk(None));
            }
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if length > MAX_BULK_BYTES {
                return Err(OpError::protocol(format!(
                    "bulk reply of {length} bytes is too large"
                )));
            }
            let mut data = vec![0; length + 2];
            reader
                .read_exact(&mut data)
                .await
                .map_err(OpError::transport)?;
            if !data.ends_with(b"\r\n") {
                return Err(OpError::protocol("bulk reply not terminated by CRLF"));
            }
            data.truncate(length);
            Ok(RespValue::Bulk(Some(data)))
        }
        Some(other) => Err(OpError::protocol(format!(
            "unsupported reply type {other:?}"
        ))),
        None => Err(OpError::protocol("empty reply line")),
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<String, OpError> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(OpError::transport)?;
    if read == 0 {
        return Err(OpError::transport("connection closed by the server"));
    }
    if !line.ends_with(b"\r\n") || line.len() < 3 {
        return Err(OpError::protocol("reply line not terminated by CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| OpError::protocol("reply line is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<RespValue, OpError> {
        let mut reader = bytes;
        read_value(&mut reader).await
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let encoded = encode_command(&[b"SET", b"k", b"v", b"NX"]);
        assert_eq!(
            encoded,
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n"
        );
    }

    #[tokio::test]
    async fn replies_parse() {
        assert_eq!(parse(b"+OK\r\n").await, Ok(RespValue::Simple("OK".into())));
        assert_eq!(
            parse(b"-ERR wrong\r\n").await,
            Ok(RespValue::Error("ERR wrong".into()))
        );
        assert_eq!(parse(b":42\r\n").await, Ok(RespValue::Integer(42)));
        assert_eq!(parse(b"$-1\r\n").await, Ok(RespValue::Bulk(None)));
        assert_eq!(
            parse(b"$3\r\nabc\r\n").await,
            Ok(RespValue::Bulk(Some(b"abc".to_vec())))
        );
    }

    #[tokio::test]
    async fn bad_replies_are_errors_not_panics() {
        assert!(matches!(parse(b"").await, Err(OpError::Transport(_))));
        assert!(matches!(parse(b"+OK\n").await, Err(OpError::Protocol(_))));
        assert!(matches!(
            parse(b"$5\r\nab\r\n").await,
            Err(OpError::Transport(_))
        ));
        assert!(matches!(
            parse(b"$2\r\nabcd").await,
            Err(OpError::Protocol(_))
        ));
        assert!(matches!(parse(b"*1\r\n").await, Err(OpError::Protocol(_))));
        assert!(matches!(parse(b":x\r\n").await, Err(OpError::Protocol(_))));
        assert!(matches!(
            parse("é\r\n".as_bytes()).await,
            Err(OpError::Protocol(_))
        ));
        assert!(matches!(
            parse(b"$99999999999\r\n").await,
            Err(OpError::Protocol(_))
        ));
    }
}
