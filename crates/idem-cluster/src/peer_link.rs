//! How an inter-node connection is opened and admitted, both ways: TLS
//! when the node has certificates, then the hello with the cluster id.
//! Nothing of a connection that fails either is decoded as a frame.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::cluster_id::ClusterIdentity;
use crate::peer_hello::{self, HelloError};
use crate::peer_stream::PeerStream;
use crate::peer_tls::PeerTls;

/// How long a caller may take over TLS and the hello on a new connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct PeerLink {
    tls: Option<PeerTls>,
    identity: Arc<ClusterIdentity>,
}

impl PeerLink {
    pub fn new(tls: Option<PeerTls>, identity: Arc<ClusterIdentity>) -> PeerLink {
        PeerLink { tls, identity }
    }

    /// A connection a peer opened to this node, once admitted.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> Result<PeerStream, HelloError> {
        let admit = async {
            let _ = tcp.set_nodelay(true);
            let mut stream = match &self.tls {
                Some(tls) => tls.accept(tcp).await?,
                None => PeerStream::Plain(tcp),
            };
            peer_hello::answer(&mut stream, &self.identity).await?;
            Ok(stream)
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, admit)
            .await
            .map_err(|_| HelloError::Io(std::io::ErrorKind::TimedOut.into()))?
    }

    /// A connection this node opened to the peer at `addr`, once the peer
    /// admitted it (the caller bounds the time).
    pub(crate) async fn open(&self, addr: &str, tcp: TcpStream) -> Result<PeerStream, HelloError> {
        let _ = tcp.set_nodelay(true);
        let mut stream = match &self.tls {
            Some(tls) => tls.connect(addr, tcp).await?,
            None => PeerStream::Plain(tcp),
        };
        peer_hello::call(&mut stream, &self.identity).await?;
        Ok(stream)
    }
}
