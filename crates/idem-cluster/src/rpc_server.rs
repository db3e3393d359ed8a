//! The inter-node TCP listener: reads request frames from peers and writes
//! back what the [`PeerService`] answers, one connection task per peer
//! connection (owned by the listener's task, so they end with it).

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::peer_service::PeerService;
use crate::rpc::Request;
use crate::wire::{read_frame, write_frame, WireError};

pub(crate) async fn serve(listener: TcpListener, service: Arc<PeerService>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((conn, peer)) => {
                let service = service.clone();
                connections.spawn(async move {
                    match serve_connection(conn, &service).await {
                        Err(e @ WireError::Version { .. }) => {
                            tracing::warn!("refused a frame from {peer}: {e}")
                        }
                        Err(e) => tracing::debug!("peer connection closed: {e}"),
                        Ok(()) => {}
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accepting a peer connection failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(mut conn: TcpStream, service: &PeerService) -> Result<(), WireError> {
    conn.set_nodelay(true)?;
    loop {
        let req: Request = read_frame(&mut conn).await?;
        let resp = service.handle(req).await;
        write_frame(&mut conn, &resp).await?;
    }
}
