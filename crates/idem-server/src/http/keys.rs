//! Handlers of one key: reserve, heartbeat, complete, release, get.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idem_core::Command;

use crate::backend::Backend;
use crate::http::bodies::{CompleteRequest, HeartbeatRequest, ReleaseRequest, ReserveRequest};
use crate::http::caller::MadeWith;
use crate::http::commands;
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, KeyPath};
use crate::http::record_view::RecordView;
use crate::http::replies;
use crate::http::state::AppState;

/// `POST /v1/ns/{ns}/keys/{key}/reserve`
pub async fn reserve<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    KeyPath(id): KeyPath,
    JsonBody(body): JsonBody<ReserveRequest>,
) -> Result<Response, ApiError> {
    let wait = commands::reserve_wait(&body)?;
    let command = commands::reserve(id.clone(), body, by.0.as_ref())?;
    let outcome = match wait {
        None => state.execute(Command::Reserve(command), &by).await?,
        Some(wait) => state.reserve_waiting(command, &by, wait).await?,
    };
    replies::reserve(id, outcome)
}

/// `POST /v1/ns/{ns}/keys/{key}/heartbeat`
pub async fn heartbeat<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    KeyPath(id): KeyPath,
    JsonBody(body): JsonBody<HeartbeatRequest>,
) -> Result<Response, ApiError> {
    let command = commands::heartbeat(id.clone(), body)?;
    let token = command.token;
    let outcome = state.execute(Command::Heartbeat(command), &by).await?;
    replies::heartbeat(id, token, outcome)
}

/// `POST /v1/ns/{ns}/keys/{key}/complete`
pub async fn complete<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    KeyPath(id): KeyPath,
    JsonBody(body): JsonBody<CompleteRequest>,
) -> Result<Response, ApiError> {
    let command = commands::complete(id.clone(), body, &state.limits)?;
    let token = command.token;
    let outcome = state.execute(Command::Complete(command), &by).await?;
    replies::complete(id, token, outcome)
}

/// `POST /v1/ns/{ns}/keys/{key}/release`
pub async fn release<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    KeyPath(id): KeyPath,
    JsonBody(body): JsonBody<ReleaseRequest>,
) -> Result<Response, ApiError> {
    let command = commands::release(id.clone(), body)?;
    let token = command.token;
    let outcome = state.execute(Command::Release(command), &by).await?;
    replies::release(id, token, outcome)
}

/// `GET /v1/ns/{ns}/keys/{key}`
pub async fn get_record<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    KeyPath(id): KeyPath,
) -> Result<Response, ApiError> {
    let read = state.backend.read_record(id.clone(), by.0).await?;
    match read.record {
        Some(record) => Ok(Json(RecordView::new(&id, record, &read.now)).into_response()),
        None => Err(ApiError::RecordNotFound(id)),
    }
}
