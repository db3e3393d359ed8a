//! The production [`Transport`]: outgoing inter-node calls over one pool of
//! persistent TCP connections per peer address, one request in flight per
//! connection (the listening side is [`crate::rpc_server`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::peer_link::PeerLink;
use crate::peer_stream::PeerStream;
use crate::rpc::{Request, Response};
use crate::transport::{CallError, Transport};
use crate::wire::{read_frame, write_frame, WireError};

/// Idle connections kept per peer.
const MAX_IDLE: usize = 64;

/// Calls to one peer.
pub struct PeerClient {
    addr: String,
    /// The local address outgoing connections start from (this node's own
    /// inter-node IP), so that a firewall rule can tell nodes apart even
    /// when they all live on one loopback interface.
    source_ip: Option<IpAddr>,
    link: Arc<PeerLink>,
    idle: Mutex<Vec<PeerStream>>,
}

impl PeerClient {
    fn new(addr: String, source_ip: Option<IpAddr>, link: Arc<PeerLink>) -> Self {
        PeerClient {
            addr,
            source_ip,
            link,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A pooled connection that still looks alive: a peer that closed it
    /// (e.g. restarted) makes it readable at end-of-file, so it is dropped
    /// here rather than failing a request.
    fn take_idle(&self) -> Option<PeerStream> {
        loop {
            let conn = self.idle.lock().ok().and_then(|mut v| v.pop())?;
            // Nothing may arrive on an idle connection: anything readable
            // (end-of-file, a TLS alert) means it is done, and it is
            // dropped, so peeking under TLS loses nothing.
            let mut probe = [0u8; 1];
            match conn.tcp().try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(conn),
                _ => continue,
            }
        }
    }

    fn put_idle(&self, conn: PeerStream) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < MAX_IDLE {
                v.push(conn);
            }
        }
    }

    /// A new connection, admitted by the peer (TLS and the cluster id).
    /// Nothing has been sent on it, so any failure here is "unreachable".
    async fn connect(&self, timeout: Duration) -> Result<PeerStream, CallError> {
        let unreachable = |source| CallError::Unreachable {
            addr: self.addr.clone(),
            source,
        };
        let opened = async {
            let tcp = self.open().await.map_err(unreachable)?;
            self.link
                .open(&self.addr, tcp)
                .await
                .map_err(|e| unreachable(std::io::Error::other(e.to_string())))
        };
        tokio::time::timeout(timeout, opened)
            .await
            .map_err(|_| CallError::Timeout {
                addr: self.addr.clone(),
                timeout,
            })?
    }

    async fn open(&self) -> std::io::Result<TcpStream> {
        let Some(source_ip) = self.source_ip else {
            return TcpStream::connect(&self.addr).await;
        };
        let peer = tokio::net::lookup_host(&self.addr)
            .await?
            .find(|a| a.is_ipv4() == source_ip.is_ipv4())
            .ok_or_else(|| std::io::Error::other("no address of the peer's family"))?;
        let socket = match source_ip {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(source_ip, 0))?;
        socket.connect(peer).await
    }

    async fn exchange(conn: &mut PeerStream, req: &Request) -> Result<Response, WireError> {
        write_frame(conn, req).await?;
        read_frame(conn).await
    }

    /// Sends `req` and waits for the answer, within `timeout` overall.
    ///
    /// `retry_on_stale` allows one retry on a fresh connection when a pooled
    /// connection turns out to be dead; only for requests that are safe to
    /// repeat (Raft's own RPCs, reads, probes; not forwarded commands).
    async fn call(
        &self,
        req: &Request,
        timeout: Duration,
        retry_on_stale: bool,
    ) -> Result<Response, CallError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = || CallError::Timeout {
            addr: self.addr.clone(),
            timeout,
        };
        if let Some(mut conn) = self.take_idle() {
            match tokio::time::timeout_at(deadline, Self::exchange(&mut conn, req)).await {
                Ok(Ok(resp)) => {
                    self.put_idle(conn);
                    return Ok(resp);
                }
                Ok(Err(WireError::Io(_))) if retry_on_stale => {}
                Ok(Err(source)) => {
                    return Err(CallError::Wire {
                        addr: self.addr.clone(),
                        source,
                    })
                }
                Err(_) => return Err(timed_out()),
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let mut conn = self.connect(left).await?;
        match tokio::time::timeout_at(deadline, Self::exchange(&mut conn, req)).await {
            Ok(Ok(resp)) => {
                self.put_idle(conn);
                Ok(resp)
            }
            // The request may have been delivered before the connection
            // broke: this is not "unreachable" (which callers may retry as
            // "nothing was sent"), it is indeterminate.
            Ok(Err(source)) => Err(CallError::Wire {
                addr: self.addr.clone(),
                source,
            }),
            Err(_) => Err(timed_out()),
        }
    }
}

/// The pools for every peer this node talks to.
pub struct TcpTransport {
    source_ip: Option<IpAddr>,
    link: Arc<PeerLink>,
    by_addr: Mutex<HashMap<String, Arc<PeerClient>>>,
}

impl TcpTransport {
    /// Pools whose connections start from the IP of `own_raft_addr` when it
    /// names a specific one (not `0.0.0.0` or a host name), each admitted
    /// by `link`.
    pub fn new(own_raft_addr: &str, link: Arc<PeerLink>) -> Self {
        let source_ip = own_raft_addr
            .parse::<SocketAddr>()
            .ok()
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified());
        TcpTransport {
            source_ip,
            link,
            by_addr: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, addr: &str) -> Arc<PeerClient> {
        let mut map = match self.by_addr.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(addr.to_string())
            .or_insert_with(|| {
                Arc::new(PeerClient::new(
                    addr.to_string(),
                    self.source_ip,
                    self.link.clone(),
                ))
            })
            .clone()
    }
}

impl Transport for TcpTransport {
    fn call<'a>(
        &'a self,
        to: &'a str,
        request: &'a Request,
        timeout: Duration,
        repeatable: bool,
    ) -> BoxFuture<'a, Result<Response, CallError>> {
        let peer = self.get(to);
        async move { peer.call(request, timeout, repeatable).await }.boxed()
    }
}
