//! Handlers for the cluster's membership: list, add, remove.

use axum::extract::State;
use axum::Json;

use crate::backend::{Backend, MemberStatus, MembershipChange};
use crate::http::bodies::AddMemberRequest;
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, MemberIdPath};
use crate::http::state::AppState;

/// `GET /v1/cluster/members`
pub async fn list<B: Backend>(State(state): State<AppState<B>>) -> Json<Vec<MemberStatus>> {
    Json(state.backend.cluster_status().await.members)
}

/// `host:port` with a numeric port.
fn check_addr(field: &str, addr: &str) -> Result<(), ApiError> {
    let ok = addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidMember(format!(
            "{field} must be host:port, got {addr:?}"
        )))
    }
}

/// `POST /v1/cluster/members`: the node joins as a learner and becomes a
/// voter once it has caught up; answers with the new member list.
pub async fn add<B: Backend>(
    State(state): State<AppState<B>>,
    JsonBody(req): JsonBody<AddMemberRequest>,
) -> Result<Json<Vec<MemberStatus>>, ApiError> {
    if req.id == 0 {
        return Err(ApiError::InvalidMember(
            "id must be a positive number".into(),
        ));
    }
    check_addr("raft_addr", &req.raft_addr)?;
    if !req.http_addr.is_empty() {
        check_addr("http_addr", &req.http_addr)?;
    }
    let members = state.backend.cluster_status().await.members;
    if members.iter().any(|m| m.id == req.id && m.voter) {
        return Err(ApiError::MemberExists(req.id));
    }
    let change = MembershipChange::Add {
        id: req.id,
        addr: idem_cluster::NodeAddr {
            raft: req.raft_addr,
            http: req.http_addr,
        },
    };
    state.backend.change_membership(change).await?;
    Ok(Json(state.backend.cluster_status().await.members))
}

/// `DELETE /v1/cluster/members/{id}`
pub async fn remove<B: Backend>(
    State(state): State<AppState<B>>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<Vec<MemberStatus>>, ApiError> {
    let members = state.backend.cluster_status().await.members;
    if !members.iter().any(|m| m.id == id) {
        return Err(ApiError::MemberNotFound(id));
    }
    state
        .backend
        .change_membership(MembershipChange::Remove { id })
        .await?;
    Ok(Json(state.backend.cluster_status().await.members))
}
