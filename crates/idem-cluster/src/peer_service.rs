//! What a node answers its peers: Raft's RPCs (after the clock checks: a
//! leader whose stamps run too far ahead is refused, and so are votes while
//! this node must not give them), forwarded commands and membership changes
//! (carried out as leader), read-index requests, clock probes. The TCP
//! listener ([`crate::rpc_server`]) hands it every frame it reads; an
//! in-process transport calls it directly.

use std::sync::Arc;

use openraft::EntryPayload;

use crate::clock::ClusterClock;
use crate::leader_service::LeaderService;
use crate::rpc::{Request, Response};
use crate::snapshot_transfer::SnapshotReceiver;
use crate::types::Raft;

pub(crate) struct PeerService {
    pub(crate) raft: Raft,
    pub(crate) clock: Arc<ClusterClock>,
    pub(crate) leader: Arc<LeaderService>,
    pub(crate) snapshots: SnapshotReceiver,
}

impl PeerService {
    pub(crate) async fn handle(&self, req: Request) -> Response {
        let (raft, clock) = (&self.raft, &self.clock);
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
                if let Some(why) = self.leader.refuses_votes() {
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
            Request::InstallSnapshot(chunk) => {
                Response::InstallSnapshot(self.snapshots.receive(raft, chunk).await)
            }
            Request::Forward(commands) => {
                let each = commands.into_iter().map(|c| self.leader.execute(c));
                Response::Forward(futures::future::join_all(each).await)
            }
            Request::ReadIndex => Response::ReadIndex(self.leader.read_point().await),
            Request::Membership(change) => {
                Response::Membership(self.leader.change_membership(change).await)
            }
            Request::ClockProbe => Response::ClockProbe {
                wall_ms: clock.wall_ms(),
            },
        }
    }
}
