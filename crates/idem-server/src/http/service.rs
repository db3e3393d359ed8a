//! Handlers about the node itself: cluster status, health, readiness,
//! metrics.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::backend::Backend;
use crate::http::bodies::StatusReply;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /v1/cluster`
pub async fn cluster<B: Backend>(State(state): State<AppState<B>>) -> Response {
    Json(state.backend.cluster_status().await).into_response()
}

/// `GET /health`: the process is up and answering (says nothing about the
/// cluster).
pub async fn health() -> Json<StatusReply> {
    Json(StatusReply { status: "ok" })
}

/// `GET /ready`: 200 when this node can serve requests, 503 when not.
pub async fn ready<B: Backend>(
    State(state): State<AppState<B>>,
) -> Result<Json<StatusReply>, ApiError> {
    if state.backend.is_ready().await {
        Ok(Json(StatusReply { status: "ready" }))
    } else {
        Err(ApiError::NotReady)
    }
}

/// `GET /metrics`
pub async fn metrics<B: Backend>(State(state): State<AppState<B>>) -> Response {
    let cluster = state.backend.cluster_status().await;
    let text = state.metrics.render(&cluster);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_TEXT),
        )],
        text,
    )
        .into_response()
}
