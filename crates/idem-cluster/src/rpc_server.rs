//! The inter-node listener: reads request frames from peers, hands Raft's
//! RPCs to openraft (after the clock checks), serves forwarded requests as
//! leader, answers clock probes.

use openraft::EntryPayload;
use tokio::net::{TcpListener, TcpStream};

use crate::clock::wall_now_ms;
use crate::node::ClusterNode;
use crate::rpc::{Request, Response};
use crate::wire::{read_frame, write_frame, WireError};

pub(crate) async fn serve(listener: TcpListener, node: ClusterNode) {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                let node = node.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_connection(conn, node).await {
                        tracing::debug!("peer connection closed: {e}");
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

async fn serve_connection(mut conn: TcpStream, node: ClusterNode) -> Result<(), WireError> {
    conn.set_nodelay(true)?;
    loop {
        let req: Request = read_frame(&mut conn).await?;
        let resp = handle(&node, req).await;
        write_frame(&mut conn, &resp).await?;
    }
}

async fn handle(node: &ClusterNode, req: Request) -> Response {
    let raft = node.raft();
    let clock = node.clock();
    match req {
        Request::AppendEntries(req) => {
            let leader = req.vote.leader_id();
            let (leader_id, term) = (leader.node_id, leader.term);
            if clock.is_suspect_leader(leader_id, term) {
                return Response::Refused(format!(
                    "node {leader_id}'s clock ran ahead of ours in term {term}"
                ));
            }
            let committed = req.leader_commit.map(|c| c.index);
            for entry in &req.entries {
                if let EntryPayload::Normal(stamped) = &entry.payload {
                    if committed.is_some_and(|c| entry.log_id.index <= c) {
                        clock.observe_committed(stamped.stamp().hlc);
                        continue;
                    }
                    if let Err(ahead) = clock.observe(stamped.stamp().hlc) {
                        tracing::warn!(
                            "refusing entries from node {leader_id} (term {term}): {ahead}"
                        );
                        clock.suspect(leader_id, term);
                        return Response::Refused(ahead.to_string());
                    }
                }
            }
            Response::AppendEntries(raft.append_entries(req).await)
        }
        Request::Vote(req) => {
            if let Some(why) = node.refuses_votes() {
                return Response::Refused(format!("no vote: {why}"));
            }
            let candidate = req.vote.leader_id().node_id;
            if clock.is_suspect_candidate(candidate) {
                return Response::Refused(format!(
                    "node {candidate}'s clock ran ahead of ours recently"
                ));
            }
            Response::Vote(raft.vote(req).await)
        }
        Request::InstallSnapshot(req) => {
            Response::InstallSnapshot(raft.install_snapshot(req).await)
        }
        Request::Forward(commands) => {
            let each = commands.into_iter().map(|c| node.execute_as_leader(c));
            Response::Forward(futures::future::join_all(each).await)
        }
        Request::ReadIndex => Response::ReadIndex(node.leader_read_point().await),
        Request::Membership(change) => {
            Response::Membership(node.change_membership_as_leader(change).await)
        }
        Request::ClockProbe => Response::ClockProbe {
            wall_ms: wall_now_ms(),
        },
    }
}
