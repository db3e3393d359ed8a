//! The first bytes of every inter-node connection, after TLS if any: the
//! caller's cluster id, answered by the listener's (see
//! [`crate::cluster_id`]). A connection whose first bytes are not a peer's
//! hello, or a peer of another cluster, is closed before any frame is read.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cluster_id::{ClusterId, ClusterIdentity, OtherCluster};

const MAGIC: &[u8; 6] = b"idemhi";
const VERSION: u8 = 1;
const ADMITTED: u8 = 0;
const REFUSED: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    #[error("not an idem node's hello")]
    NotAPeer,
    #[error(transparent)]
    OtherCluster(#[from] OtherCluster),
    #[error("the peer refused this node: it is of cluster {}", .theirs.map_or("(none)".to_string(), |t| t.to_hex()))]
    Refused { theirs: Option<ClusterId> },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn encode(id: Option<ClusterId>) -> [u8; 16] {
    id.map_or([0; 16], |id| id.0)
}

fn decode(bytes: [u8; 16]) -> Option<ClusterId> {
    (bytes != [0; 16]).then_some(ClusterId(bytes))
}

/// The calling side: presents this node's id and checks the listener's.
pub(crate) async fn call<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    identity: &ClusterIdentity,
) -> Result<(), HelloError> {
    let mut hello = Vec::with_capacity(23);
    hello.extend_from_slice(MAGIC);
    hello.push(VERSION);
    hello.extend_from_slice(&encode(identity.current()));
    stream.write_all(&hello).await?;
    stream.flush().await?;
    let mut answer = [0u8; 17];
    stream.read_exact(&mut answer).await?;
    let mut theirs = [0u8; 16];
    theirs.copy_from_slice(&answer[1..]);
    let theirs = decode(theirs);
    match answer[0] {
        ADMITTED => Ok(identity.admit(theirs)?),
        REFUSED => Err(HelloError::Refused { theirs }),
        _ => Err(HelloError::NotAPeer),
    }
}

/// The listening side: reads the caller's hello and admits or refuses it.
pub(crate) async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    identity: &ClusterIdentity,
) -> Result<(), HelloError> {
    let mut hello = [0u8; 23];
    stream.read_exact(&mut hello).await?;
    if &hello[..6] != MAGIC || hello[6] != VERSION {
        return Err(HelloError::NotAPeer);
    }
    let mut theirs = [0u8; 16];
    theirs.copy_from_slice(&hello[7..]);
    let admitted = identity.admit(decode(theirs));
    let mut reply = [0u8; 17];
    reply[0] = if admitted.is_ok() { ADMITTED } else { REFUSED };
    reply[1..].copy_from_slice(&encode(identity.current()));
    stream.write_all(&reply).await?;
    stream.flush().await?;
    Ok(admitted?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn peers_of_one_cluster_meet_and_of_two_do_not() {
        let a = ClusterIdentity::fixed(ClusterId([1; 16]));
        let b = ClusterIdentity::fixed(ClusterId([2; 16]));
        let (mut x, mut y) = tokio::io::duplex(64);
        let (called, answered) = tokio::join!(call(&mut x, &a), answer(&mut y, &a));
        assert!(called.is_ok() && answered.is_ok());
        let (mut x, mut y) = tokio::io::duplex(64);
        let (called, answered) = tokio::join!(call(&mut x, &a), answer(&mut y, &b));
        assert!(
            matches!(called, Err(HelloError::Refused { .. })),
            "{called:?}"
        );
        assert!(
            matches!(answered, Err(HelloError::OtherCluster(_))),
            "{answered:?}"
        );
        // Anything else (an HTTP request, say) is not a peer.
        let (mut x, mut y) = tokio::io::duplex(64);
        x.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(matches!(
            answer(&mut y, &a).await,
            Err(HelloError::NotAPeer)
        ));
    }
}
