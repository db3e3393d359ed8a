//! openraft's network traits over the inter-node transport.

use std::future::Future;
use std::sync::Arc;

use openraft::error::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::RPCTypes;
use tokio::io::AsyncReadExt;

use crate::leader_lease::LeaderLease;
use crate::rpc::{Request, Response, SnapshotChunk};
use crate::transport::{CallError, Transport};
use crate::types::{IdemTypes, NodeAddr, NodeId, Snapshot, Vote};

/// Bytes of snapshot per message (the frame limit is far above it).
const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

pub struct Network {
    pub(crate) self_id: NodeId,
    pub(crate) transport: Arc<dyn Transport>,
    /// Learns of every AppendEntries a follower accepted.
    pub(crate) lease: Arc<LeaderLease>,
}

pub struct PeerConnection {
    self_id: NodeId,
    target: NodeId,
    target_node: NodeAddr,
    transport: Arc<dyn Transport>,
    lease: Arc<LeaderLease>,
}

impl RaftNetworkFactory<IdemTypes> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> PeerConnection {
        PeerConnection {
            self_id: self.self_id,
            target,
            target_node: node.clone(),
            transport: self.transport.clone(),
            lease: self.lease.clone(),
        }
    }
}

type RpcErr = RPCError<IdemTypes>;

impl PeerConnection {
    async fn call(&self, request: &Request, option: &RPCOption) -> Result<Response, CallError> {
        let to = &self.target_node.raft;
        self.transport
            .call(to, request, option.hard_ttl(), true)
            .await
    }

    fn call_error(&self, action: RPCTypes, option: &RPCOption, e: CallError) -> RpcErr {
        match e {
            CallError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Timeout { .. } => RPCError::Timeout(Timeout {
                action,
                id: self.self_id,
                target: self.target,
                timeout: option.hard_ttl(),
            }),
            CallError::Wire { .. } => RPCError::Network(NetworkError::new(&e)),
        }
    }

    /// An answer that is not the one asked for, a refusal, or the peer's
    /// Raft failing: the leader retries after a backoff.
    fn unexpected(&self, resp: Response) -> RpcErr {
        let why = match resp {
            Response::Refused(why) => why,
            other => format!("unexpected answer {other:?}"),
        };
        RPCError::Network(NetworkError::from_string(why))
    }

    fn remote_failed(&self, e: impl std::fmt::Display) -> RpcErr {
        RPCError::Network(NetworkError::from_string(format!(
            "node {}'s Raft failed: {e}",
            self.target
        )))
    }

    /// Sends `snapshot` in pieces, each answered before the next; the last
    /// one's answer is Raft's.
    async fn send_snapshot(
        &self,
        vote: Vote,
        mut snapshot: Snapshot,
        option: &RPCOption,
    ) -> Result<SnapshotResponse<IdemTypes>, RpcErr> {
        let read_error = |e: std::io::Error| {
            RPCError::Network(NetworkError::from_string(format!(
                "reading the snapshot to send: {e}"
            )))
        };
        let mut offset = 0u64;
        let mut buf = vec![0u8; SNAPSHOT_CHUNK_BYTES];
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                let n = snapshot
                    .snapshot
                    .read(&mut buf[filled..])
                    .await
                    .map_err(read_error)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            let done = filled < buf.len();
            let chunk = SnapshotChunk {
                vote,
                meta: snapshot.meta.clone(),
                offset,
                data: buf[..filled].to_vec(),
                done,
            };
            let resp = self
                .call(&Request::InstallSnapshot(chunk), option)
                .await
                .map_err(|e| self.call_error(RPCTypes::InstallSnapshot, option, e))?;
            match resp {
                Response::InstallSnapshot(Ok(Some(installed))) if done => return Ok(installed),
                Response::InstallSnapshot(Ok(None)) if !done => {}
                Response::InstallSnapshot(Err(why)) => {
                    return Err(self.unexpected(Response::Refused(why)))
                }
                other => return Err(self.unexpected(other)),
            }
            offset += filled as u64;
        }
    }
}

impl RaftNetworkV2<IdemTypes> for PeerConnection {
    type SnapshotData = tokio::fs::File;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<IdemTypes>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<IdemTypes>, RpcErr> {
        let (vote, sent) = (rpc.vote, self.lease.now());
        let resp = self
            .call(&Request::AppendEntries(rpc), &option)
            .await
            .map_err(|e| self.call_error(RPCTypes::AppendEntries, &option, e))?;
        match resp {
            Response::AppendEntries(Ok(r)) => {
                // Any answer but a higher vote means the follower took our
                // vote as the leader's, which starts its refusal to vote
                // for others (see `leader_lease`).
                if !matches!(r, AppendEntriesResponse::HigherVote(_)) {
                    self.lease.acknowledged(self.target, vote, sent);
                }
                Ok(r)
            }
            Response::AppendEntries(Err(e)) => Err(self.remote_failed(e)),
            other => Err(self.unexpected(other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<IdemTypes>,
        option: RPCOption,
    ) -> Result<VoteResponse<IdemTypes>, RpcErr> {
        let resp = self
            .call(&Request::Vote(rpc), &option)
            .await
            .map_err(|e| self.call_error(RPCTypes::Vote, &option, e))?;
        match resp {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(self.remote_failed(e)),
            other => Err(self.unexpected(other)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<IdemTypes>, StreamingError<IdemTypes>> {
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            sent = self.send_snapshot(vote, snapshot, &option) => sent.map_err(StreamingError::from),
        }
    }
}
