//! Handlers of API keys: create, list, show, rotate, revoke
//! (`/v1/auth/keys`). Admin only (see [`crate::http::auth`]). A new key's
//! secret is drawn here, shown once in the reply, and only its keyed hash
//! is proposed.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idem_core::{
    key_hash, ApiKeyCommand, ApiKeyId, ApiKeyOutcome, ApiKeyRecord, AuthSecret, Command, Namespace,
    NamespaceScope, Outcome, PresentedKey, Role,
};
use serde::{Deserialize, Serialize};

use crate::backend::{auth_secret, Backend, Freshness};
use crate::http::caller::MadeWith;
use crate::http::error::{ApiError, NumberField};
use crate::http::extract::{ApiKeyIdPath, JsonBody};
use crate::http::state::AppState;

/// The longest a key's name may be, in bytes.
const MAX_NAME_BYTES: usize = 128;
/// The furthest a key's expiry (or a rotated key's grace) may lie: ten
/// years, in seconds.
const MAX_EXPIRES_IN_S: u64 = 10 * 365 * 24 * 3600;
/// How long a rotated key stays in force beside its successor unless told.
const DEFAULT_ROTATION_GRACE_S: u64 = 24 * 3600;
/// New ids drawn before giving up (a 64-bit collision is practically
/// impossible; this only bounds the loop).
const DRAW_ATTEMPTS: u32 = 3;

/// `POST /v1/auth/keys`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with fields name, role, and optional namespaces, expires_in_s"
)]
pub struct CreateKeyRequest {
    pub name: String,
    pub role: Role,
    /// The namespaces a client key may use; `["*"]`: all.
    pub namespaces: Option<Vec<String>>,
    pub expires_in_s: Option<u64>,
}

/// `POST /v1/auth/keys/{id}/rotate`.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with an optional field old_expires_in_s"
)]
pub struct RotateKeyRequest {
    /// How long the old key stays in force (default a day; 0: at once).
    pub old_expires_in_s: Option<u64>,
}

/// A key as listed: everything but its secret.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `["*"]`: every namespace.
    pub namespaces: Vec<String>,
    pub expires_at_ms: Option<u64>,
    pub revoked: bool,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(r: &ApiKeyRecord) -> Self {
        KeyView {
            id: r.id.to_string(),
            name: r.name.clone(),
            role: r.role,
            namespaces: match &r.scope {
                NamespaceScope::All => vec!["*".to_owned()],
                NamespaceScope::Only(set) => set.iter().map(|n| n.as_str().to_owned()).collect(),
            },
            expires_at_ms: r.expires_at_ms,
            revoked: r.revoked,
        }
    }
}

/// 201 to create and rotate: the key itself, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
    /// Rotation: the key replaced and until when it stays in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replaced>,
}

#[derive(Debug, Serialize)]
pub struct Replaced {
    pub id: String,
    pub expires_at_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

#[derive(Debug, Serialize)]
pub struct RevokedKey {
    pub id: String,
    pub revoked: bool,
}

/// `POST /v1/auth/keys`
pub async fn create<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    JsonBody(body): JsonBody<CreateKeyRequest>,
) -> Result<Response, ApiError> {
    let name = key_name(body.name)?;
    let scope = scope(body.role, body.namespaces)?;
    let (secret, now_ms) = cluster_secret(&state).await?;
    let expires_at_ms = body
        .expires_in_s
        .map(|s| expiry(now_ms, s, NumberField::ExpiresInS, 1))
        .transpose()?;
    for _ in 0..DRAW_ATTEMPTS {
        let (presented, record) = new_key(&secret, &name, body.role, &scope, expires_at_ms);
        let command = Command::ApiKey(ApiKeyCommand::Create(record.clone()));
        match key_outcome(state.execute(command, &by).await?)? {
            ApiKeyOutcome::Created { .. } => {
                return Ok(created(&record, &presented, None));
            }
            ApiKeyOutcome::Exists { .. } => continue,
            other => return Err(unexpected("create key", other)),
        }
    }
    Err(ApiError::MintCollisions {
        attempts: DRAW_ATTEMPTS,
    })
}

/// `GET /v1/auth/keys`
pub async fn list<B: Backend>(State(state): State<AppState<B>>) -> Result<Json<KeyList>, ApiError> {
    let keys = state.backend.api_keys().await?;
    Ok(Json(KeyList {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// `GET /v1/auth/keys/{id}`
pub async fn show<B: Backend>(
    State(state): State<AppState<B>>,
    ApiKeyIdPath(id): ApiKeyIdPath,
) -> Result<Json<KeyView>, ApiError> {
    let view = state
        .backend
        .auth_view(id.clone(), Freshness::Linearizable)
        .await?;
    let record = view.key.ok_or(ApiError::ApiKeyNotFound(id))?;
    Ok(Json(KeyView::from(&record)))
}

/// `POST /v1/auth/keys/{id}/rotate`: a new key with the old one's name,
/// role and namespaces; the old one stays in force for the grace given.
pub async fn rotate<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    ApiKeyIdPath(old): ApiKeyIdPath,
    JsonBody(body): JsonBody<RotateKeyRequest>,
) -> Result<Response, ApiError> {
    let (secret, now_ms) = cluster_secret(&state).await?;
    let view = state
        .backend
        .auth_view(old.clone(), Freshness::Linearizable)
        .await?;
    let current = view
        .key
        .ok_or_else(|| ApiError::ApiKeyNotFound(old.clone()))?;
    let grace = body.old_expires_in_s.unwrap_or(DEFAULT_ROTATION_GRACE_S);
    let old_expires_at_ms = expiry(now_ms, grace, NumberField::OldExpiresInS, 0)?;
    for _ in 0..DRAW_ATTEMPTS {
        let (presented, record) = new_key(
            &secret,
            &current.name,
            current.role,
            &current.scope,
            current.expires_at_ms,
        );
        let command = Command::ApiKey(ApiKeyCommand::Rotate {
            old: old.clone(),
            new: record.clone(),
            old_expires_at_ms,
        });
        match key_outcome(state.execute(command, &by).await?)? {
            ApiKeyOutcome::Rotated {
                old,
                old_expires_at_ms,
                ..
            } => {
                let replaced = Replaced {
                    id: old.to_string(),
                    expires_at_ms: old_expires_at_ms,
                };
                return Ok(created(&record, &presented, Some(replaced)));
            }
            ApiKeyOutcome::NotFound { id } => return Err(ApiError::ApiKeyNotFound(id)),
            ApiKeyOutcome::Exists { .. } => continue,
            other => return Err(unexpected("rotate key", other)),
        }
    }
    Err(ApiError::MintCollisions {
        attempts: DRAW_ATTEMPTS,
    })
}

/// `DELETE /v1/auth/keys/{id}`: revokes the key for good. Once this is
/// answered, no node accepts the key.
pub async fn revoke<B: Backend>(
    State(state): State<AppState<B>>,
    by: MadeWith,
    ApiKeyIdPath(id): ApiKeyIdPath,
) -> Result<Json<RevokedKey>, ApiError> {
    let command = Command::ApiKey(ApiKeyCommand::Revoke(id));
    match key_outcome(state.execute(command, &by).await?)? {
        ApiKeyOutcome::Revoked { id } => Ok(Json(RevokedKey {
            id: id.to_string(),
            revoked: true,
        })),
        ApiKeyOutcome::NotFound { id } => Err(ApiError::ApiKeyNotFound(id)),
        other => Err(unexpected("revoke key", other)),
    }
}

fn key_outcome(outcome: Outcome) -> Result<ApiKeyOutcome, ApiError> {
    match outcome {
        Outcome::ApiKey(o) => Ok(o),
        Outcome::Refused(refusal) => Err(ApiError::Refused(refusal)),
        other => Err(ApiError::UnexpectedOutcome {
            operation: "api key",
            outcome: format!("{other:?}"),
        }),
    }
}

fn unexpected(operation: &'static str, outcome: ApiKeyOutcome) -> ApiError {
    ApiError::UnexpectedOutcome {
        operation,
        outcome: format!("{outcome:?}"),
    }
}

/// The cluster's auth secret (set once at bootstrap, so this node's own
/// state is enough once it has it) and this node's cluster time.
async fn cluster_secret<B: Backend>(state: &AppState<B>) -> Result<(AuthSecret, u64), ApiError> {
    let (secret, now_ms) = auth_secret(&state.backend, Freshness::Local).await?;
    let secret = secret.ok_or_else(|| {
        ApiError::Backend(crate::backend::ClusterError::Unavailable(
            "this node has not applied the cluster's auth secret yet".into(),
        ))
    })?;
    Ok((secret, now_ms))
}

/// A fresh key (8 random bytes of id, 32 of secret) and its record.
fn new_key(
    secret: &AuthSecret,
    name: &str,
    role: Role,
    scope: &NamespaceScope,
    expires_at_ms: Option<u64>,
) -> (PresentedKey, ApiKeyRecord) {
    let presented = PresentedKey::new(
        ApiKeyId::from_bytes(rand::random::<[u8; 8]>()),
        rand::random::<[u8; 32]>(),
    );
    let record = ApiKeyRecord {
        id: presented.id().clone(),
        name: name.to_owned(),
        role,
        scope: scope.clone(),
        hash: key_hash(secret, &presented),
        expires_at_ms,
        revoked: false,
    };
    (presented, record)
}

fn created(
    record: &ApiKeyRecord,
    presented: &PresentedKey,
    replaces: Option<Replaced>,
) -> Response {
    let body = CreatedKey {
        view: KeyView::from(record),
        key: presented.reveal(),
        replaces,
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

/// A name of 1 to [`MAX_NAME_BYTES`] bytes without control characters.
fn key_name(name: String) -> Result<String, ApiError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidApiKeyRequest(format!(
            "name must be 1 to {MAX_NAME_BYTES} bytes without control characters"
        )));
    }
    Ok(name)
}

/// The namespaces a key of `role` may use: a client names them (or `"*"`
/// for all); monitor and admin keys are not scoped.
fn scope(role: Role, namespaces: Option<Vec<String>>) -> Result<NamespaceScope, ApiError> {
    let all = |list: &[String]| list.len() == 1 && list[0] == "*";
    match (role, namespaces) {
        (Role::Client, None) => Err(ApiError::InvalidApiKeyRequest(
            "a client key needs namespaces: a list of names, or [\"*\"] for all".into(),
        )),
        (Role::Client, Some(list)) if all(&list) => Ok(NamespaceScope::All),
        (Role::Client, Some(list)) if list.is_empty() => Err(ApiError::InvalidApiKeyRequest(
            "namespaces must name at least one namespace".into(),
        )),
        (Role::Client, Some(list)) => Ok(NamespaceScope::Only(
            list.into_iter()
                .map(Namespace::new)
                .collect::<Result<BTreeSet<_>, _>>()?,
        )),
        (_, None) => Ok(NamespaceScope::All),
        (_, Some(list)) if all(&list) => Ok(NamespaceScope::All),
        (role, Some(_)) => Err(ApiError::InvalidApiKeyRequest(format!(
            "a {} key is not scoped to namespaces; leave namespaces out",
            match role {
                Role::Monitor => "monitor",
                _ => "admin",
            }
        ))),
    }
}

/// `now_ms` plus `seconds`, which must be `min` to [`MAX_EXPIRES_IN_S`].
fn expiry(now_ms: u64, seconds: u64, field: NumberField, min: u64) -> Result<u64, ApiError> {
    if !(min..=MAX_EXPIRES_IN_S).contains(&seconds) {
        return Err(ApiError::NumberOutOfRange {
            field,
            expected: format!("{min} to {MAX_EXPIRES_IN_S} seconds"),
            got: seconds.to_string(),
        });
    }
    Ok(now_ms.saturating_add(seconds * 1000))
}
