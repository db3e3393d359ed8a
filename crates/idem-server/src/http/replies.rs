//! Outcomes to HTTP replies: the status code, body and headers of each row
//! of the semantics table. Failures become an [`ApiError`], whose status is
//! decided in [`crate::http::error`].

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use idem_core::{
    CompleteOutcome, FencingToken, HeartbeatOutcome, KeyId, MintOutcome, Namespace,
    NamespacePolicy, Outcome, ReleaseOutcome, ReserveOutcome,
};

use crate::http::bodies::{
    CompleteReply, DeriveReply, HeartbeatReply, MintReply, PolicyReply, QuotaReply, ReleaseReply,
    ReserveReply,
};
use crate::http::error::ApiError;

/// Set to `true` on a reserve that replays a stored response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `Retry-After` in whole seconds: rounded up, at least 1.
pub fn retry_after_secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// An outcome of another command than the one proposed (a bug), or a
/// refusal (retryable).
fn not_this(operation: &'static str, outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::Refused(refusal) => ApiError::Refused(refusal),
        other => ApiError::UnexpectedOutcome {
            operation,
            outcome: format!("{other:?}"),
        },
    }
}

pub fn reserve(id: KeyId, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::Reserve(outcome) = outcome else {
        return Err(not_this("reserve", outcome));
    };
    Ok(match outcome {
        ReserveOutcome::Reserved {
            token,
            lease_expires_at_ms,
            lease_remaining_ms,
            takeover,
            resumed,
            previous_committing,
        } => (
            StatusCode::CREATED,
            Json(ReserveReply::Reserved {
                token,
                lease_expires_at_ms,
                lease_remaining_ms,
                takeover,
                resumed,
                previous_committing: !previous_committing.is_empty(),
                previous_committing_tokens: previous_committing,
            }),
        )
            .into_response(),
        ReserveOutcome::Completed { token, response } => (
            StatusCode::OK,
            [(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"))],
            Json(ReserveReply::Completed { response, token }),
        )
            .into_response(),
        ReserveOutcome::InProgress { retry_after_ms } => (
            StatusCode::CONFLICT,
            [(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(retry_after_ms)),
            )],
            Json(ReserveReply::InProgress { retry_after_ms }),
        )
            .into_response(),
        ReserveOutcome::FingerprintMismatch => return Err(ApiError::FingerprintMismatch(id)),
        ReserveOutcome::KeyNotMinted => return Err(ApiError::KeyNotMinted(id)),
        ReserveOutcome::OverQuota(over) => {
            return Err(ApiError::OverQuota {
                namespace: id.namespace,
                over,
            })
        }
    })
}

pub fn heartbeat(id: KeyId, token: FencingToken, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::Heartbeat(outcome) = outcome else {
        return Err(not_this("heartbeat", outcome));
    };
    match outcome {
        HeartbeatOutcome::Extended {
            token,
            lease_expires_at_ms,
            lease_remaining_ms,
            committing,
        } => Ok(Json(HeartbeatReply {
            token,
            lease_expires_at_ms,
            lease_remaining_ms,
            committing,
        })
        .into_response()),
        HeartbeatOutcome::Lost(why) => Err(ApiError::LostKey { id, token, why }),
    }
}

pub fn complete(id: KeyId, token: FencingToken, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::Complete(outcome) = outcome else {
        return Err(not_this("complete", outcome));
    };
    match outcome {
        CompleteOutcome::Completed {
            token,
            retain_until_ms,
            retain_remaining_ms,
        } => Ok(Json(CompleteReply {
            token,
            retain_until_ms,
            retain_remaining_ms,
            replayed: false,
        })
        .into_response()),
        CompleteOutcome::AlreadyCompleted {
            token,
            retain_until_ms,
            retain_remaining_ms,
        } => Ok(Json(CompleteReply {
            token,
            retain_until_ms,
            retain_remaining_ms,
            replayed: true,
        })
        .into_response()),
        CompleteOutcome::ConflictingResponse { token } => {
            Err(ApiError::ConflictingResponse { id, token })
        }
        CompleteOutcome::Lost(why) => Err(ApiError::LostKey { id, token, why }),
        CompleteOutcome::OverQuota(over) => Err(ApiError::OverQuota {
            namespace: id.namespace,
            over,
        }),
    }
}

pub fn release(id: KeyId, token: FencingToken, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::Release(outcome) = outcome else {
        return Err(not_this("release", outcome));
    };
    match outcome {
        ReleaseOutcome::Released { token } => Ok(Json(ReleaseReply { token }).into_response()),
        ReleaseOutcome::Committing { token } => Err(ApiError::ReleaseOfCommitting { id, token }),
        ReleaseOutcome::Lost(why) => Err(ApiError::LostKey { id, token, why }),
    }
}

pub fn set_policy(namespace: &Namespace, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::SetPolicy(policy) = outcome else {
        return Err(not_this("set-policy", outcome));
    };
    Ok(policy_reply(namespace, &policy))
}

pub fn policy_reply(namespace: &Namespace, policy: &NamespacePolicy) -> Response {
    Json(PolicyReply::new(namespace, policy)).into_response()
}

/// `Ok(None)`: the drawn key already exists; draw another.
pub fn mint(namespace: &Namespace, outcome: Outcome) -> Result<Option<Response>, ApiError> {
    let Outcome::Mint(outcome) = outcome else {
        return Err(not_this("mint", outcome));
    };
    Ok(match outcome {
        MintOutcome::Minted {
            id,
            expires_at_ms,
            retain_remaining_ms,
        } => Some(
            (
                StatusCode::CREATED,
                Json(MintReply {
                    key: id.key.as_str().to_owned(),
                    expires_at_ms,
                    retain_remaining_ms,
                }),
            )
                .into_response(),
        ),
        MintOutcome::KeyExists => None,
        MintOutcome::OverQuota(over) => {
            return Err(ApiError::OverQuota {
                namespace: namespace.clone(),
                over,
            })
        }
    })
}

pub fn set_quota(namespace: &Namespace, outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::SetQuota(quota) = outcome else {
        return Err(not_this("set-quota", outcome));
    };
    Ok(Json(QuotaReply::new(namespace, &quota, None)).into_response())
}

pub fn derive(outcome: Outcome) -> Result<Response, ApiError> {
    let Outcome::Derive(outcome) = outcome else {
        return Err(not_this("derive", outcome));
    };
    Ok(Json(DeriveReply {
        key: outcome.key.as_str().to_owned(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::retry_after_secs;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1000), 1);
        assert_eq!(retry_after_secs(1001), 2);
        assert_eq!(retry_after_secs(29_999), 30);
    }
}
