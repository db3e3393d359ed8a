//! The inter-node TCP listener: admits each connection (TLS and the
//! cluster id, see [`PeerLink`]), then reads request frames and writes
//! back what the [`PeerService`] answers, one connection task per peer
//! connection (owned by the listener's task, so they end with it).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::peer_link::PeerLink;
use crate::peer_service::PeerService;
use crate::peer_stream::PeerStream;
use crate::rpc::Request;
use crate::wire::{read_frame, write_frame, WireError};

pub(crate) async fn serve(listener: TcpListener, service: Arc<PeerService>, link: Arc<PeerLink>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let service = service.clone();
                let link = link.clone();
                connections.spawn(async move {
                    let conn = match link.accept(tcp).await {
                        Ok(conn) => conn,
                        Err(e) => {
                            tracing::warn!("refused a connection from {peer}: {e}");
                            return;
                        }
                    };
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

async fn serve_connection(mut conn: PeerStream, service: &PeerService) -> Result<(), WireError> {
    loop {
        let req: Request = read_frame(&mut conn).await?;
        let resp = service.handle(req).await;
        write_frame(&mut conn, &resp).await?;
    }
}
