//! openraft's network traits over the inter-node transport.

use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::RPCTypes;

use crate::leader_lease::LeaderLease;
use crate::rpc::{Request, Response};
use crate::transport::{CallError, Transport};
use crate::types::{IdemTypes, NodeAddr, NodeId};

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

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, NodeAddr, RaftError<NodeId, E>>;

impl PeerConnection {
    async fn call(&self, request: &Request, option: &RPCOption) -> Result<Response, CallError> {
        let to = &self.target_node.raft;
        self.transport
            .call(to, request, option.hard_ttl(), true)
            .await
    }

    fn call_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        option: &RPCOption,
        e: CallError,
    ) -> RPCError<NodeId, NodeAddr, E> {
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

    fn unexpected<E: std::error::Error>(&self, resp: Response) -> RPCError<NodeId, NodeAddr, E> {
        let why = match resp {
            Response::Refused(why) => why,
            other => format!("unexpected answer {other:?}"),
        };
        RPCError::Network(NetworkError::new(&std::io::Error::other(why)))
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<NodeId, NodeAddr, E> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            self.target_node.clone(),
            e,
        ))
    }
}

impl RaftNetwork<IdemTypes> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<IdemTypes>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
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
            Response::AppendEntries(Err(e)) => Err(self.remote(e)),
            other => Err(self.unexpected(other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<IdemTypes>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        let resp = self
            .call(&Request::InstallSnapshot(rpc), &option)
            .await
            .map_err(|e| self.call_error(RPCTypes::InstallSnapshot, &option, e))?;
        match resp {
            Response::InstallSnapshot(Ok(r)) => Ok(r),
            Response::InstallSnapshot(Err(e)) => Err(self.remote(e)),
            other => Err(self.unexpected(other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        let resp = self
            .call(&Request::Vote(rpc), &option)
            .await
            .map_err(|e| self.call_error(RPCTypes::Vote, &option, e))?;
        match resp {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(self.remote(e)),
            other => Err(self.unexpected(other)),
        }
    }
}
