//! What the API knows of a request's caller: whether keys are asked for
//! at all, what a route needs, and the key a request was made with (set by
//! the guard in [`crate::http::auth`], taken by handlers).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use idem_core::{ApiKeyId, NotAuthenticated};

use crate::http::error::ApiError;

/// Whether the API asks for keys at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every route but `/health` and `/ready` needs a key.
    Keys,
    /// No key is asked for (a loopback-only development cluster).
    Off,
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reserve, heartbeat, complete, release, get, mint, derive in the
    /// path's namespace.
    UseKeys,
    /// Read the path's namespace's settings.
    ReadNamespace,
    /// Change the path's namespace's settings.
    ChangeNamespace,
    /// Cluster status and metrics.
    Monitor,
    /// Keys and membership.
    Administer,
}

impl Need {
    /// Whether the route has no linearization point that judges the key
    /// (neither a command nor a read made with it), so the guard confirms
    /// the key by a linearizable read itself.
    pub(crate) fn confirms(self) -> bool {
        matches!(self, Need::Monitor | Need::Administer)
    }
}

/// The API key a request was made with (`None` when auth is off), for the
/// command or read it leads to.
#[derive(Debug, Clone)]
pub struct MadeWith(pub Option<ApiKeyId>);

impl<S: Send + Sync> FromRequestParts<S> for MadeWith {
    type Rejection = ApiError;

    /// A handler behind no guard has no caller: refused, never let through.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<MadeWith>()
            .cloned()
            .ok_or(ApiError::Unauthenticated(NotAuthenticated::Missing))
    }
}
