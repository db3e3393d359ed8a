//! Handlers of a namespace: its policy, its quota, minting keys, deriving
//! keys.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idem_core::{Command, Derive, KeyId, Mint, SetPolicy, SetQuota};

use crate::backend::Backend;
use crate::http::bodies::{DeriveRequest, MintRequest, PolicyRequest, QuotaReply, QuotaRequest};
use crate::http::caller::MadeWith;
use crate::http::commands;
use crate::http::draws;
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, NamespacePath};
use crate::http::replies;
use crate::http::state::AppState;

/// How many fresh keys mint draws before giving up (a UUIDv7 collision is
/// practically impossible; this only bounds the loop).
const MINT_ATTEMPTS: u32 = 3;

/// `GET /v1/ns/{ns}`
pub async fn get_policy<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
) -> Result<Response, ApiError> {
    let policy = state
        .backend
        .namespace_policy(namespace.clone(), by.0)
        .await?;
    Ok(replies::policy_reply(&namespace, &policy))
}

/// `PUT /v1/ns/{ns}`
pub async fn put_policy<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
    JsonBody(body): JsonBody<PolicyRequest>,
) -> Result<Response, ApiError> {
    let change = commands::policy_change(body)?;
    let command = SetPolicy {
        namespace: namespace.clone(),
        change,
        secret_if_new: draws::namespace_secret(),
    };
    let outcome = state.execute(Command::SetPolicy(command), &by).await?;
    replies::set_policy(&namespace, outcome)
}

/// `GET /v1/ns/{ns}/quota`: the quota and what the namespace holds.
pub async fn get_quota<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
) -> Result<Response, ApiError> {
    let (quota, usage) = state
        .backend
        .namespace_quota(namespace.clone(), by.0)
        .await?;
    Ok(Json(QuotaReply::new(&namespace, &quota, Some(usage))).into_response())
}

/// `PUT /v1/ns/{ns}/quota`: replaces the quota whole.
pub async fn put_quota<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
    JsonBody(body): JsonBody<QuotaRequest>,
) -> Result<Response, ApiError> {
    let quota = commands::quota(body)?;
    let command = SetQuota {
        namespace: namespace.clone(),
        quota,
    };
    let outcome = state.execute(Command::SetQuota(command), &by).await?;
    replies::set_quota(&namespace, outcome)
}

/// `POST /v1/ns/{ns}/keys`
pub async fn mint<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
    JsonBody(MintRequest {}): JsonBody<MintRequest>,
) -> Result<Response, ApiError> {
    for _ in 0..MINT_ATTEMPTS {
        let id = KeyId::new(namespace.clone(), draws::new_minted_key());
        let command = Mint {
            id,
            secret_if_new: draws::namespace_secret(),
        };
        let outcome = state.execute(Command::Mint(command), &by).await?;
        if let Some(reply) = replies::mint(&namespace, outcome)? {
            return Ok(reply);
        }
    }
    Err(ApiError::MintCollisions {
        attempts: MINT_ATTEMPTS,
    })
}

/// `POST /v1/ns/{ns}/derive`
pub async fn derive<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    NamespacePath(namespace): NamespacePath,
    JsonBody(body): JsonBody<DeriveRequest>,
) -> Result<Response, ApiError> {
    let payload = commands::derive_payload(&body)?;
    let command = Derive {
        namespace,
        payload,
        secret_if_new: draws::namespace_secret(),
    };
    let outcome = state.execute(Command::Derive(command), &by).await?;
    replies::derive(outcome)
}
