//! Who is calling, and whether they may: the API key of
//! `Authorization: Bearer idem_<id>_<secret>`.
//!
//! Every route but `/health` and `/ready` is wrapped in [`guard`] with what
//! it needs ([`Need`]): the guard authenticates the key (401 otherwise),
//! checks its role and namespaces (403 otherwise) and hands the handler the
//! key it was made with ([`MadeWith`]). Nothing has been proposed or read
//! by then, so a refused request changes nothing.
//!
//! Authentication looks the key up in this node's own state; a key not
//! found there (created a moment ago, not yet applied here) is looked up
//! again by a linearizable read before it is refused. Whether a key is in
//! force is then judged once more at each operation's linearization point,
//! so a revocation, once acknowledged, holds on every node: a write carries
//! the key and the state machine refuses it when applied; a read, a replay
//! and each ask of a waiter judge it after their read index; the routes
//! with neither (the membership, listing keys, cluster status, metrics)
//! confirm it here by a linearizable read ([`Need::confirms`]). A key
//! request admitted is then held to its namespace's request rate
//! ([`crate::http::request_rate`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use idem_core::{
    authenticate, authorize, in_force, Action, ApiKeyRecord, Namespace, NotAuthenticated,
    PresentedKey,
};

use crate::backend::{AuthView, Backend, Freshness};
use crate::http::caller::{AuthMode, MadeWith, Need};
use crate::http::error::ApiError;
use crate::http::extract::NamespacePath;
use crate::http::state::AppState;

/// `route`, open only to callers who have `need`.
pub fn allow<B: Backend>(
    state: &AppState<B>,
    need: Need,
    route: MethodRouter<AppState<B>>,
) -> MethodRouter<AppState<B>> {
    route.route_layer(from_fn_with_state(
        (state.clone(), need),
        |State((state, need)): State<(AppState<B>, Need)>, request: Request, next: Next| async move {
            guard(state, need, request, next).await
        },
    ))
}

/// The middleware: refuses the request, or passes it on with [`MadeWith`].
async fn guard<B: Backend>(
    state: AppState<B>,
    need: Need,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admitted = match admit(&state, need, &mut parts).await {
        Ok((made_with, namespace)) if need == Need::UseKeys => {
            within_rate(&state, namespace, &mut parts)
                .await
                .map(|()| made_with)
        }
        other => other.map(|(made_with, _)| made_with),
    };
    match admitted {
        Ok(made_with) => {
            parts.extensions.insert(made_with);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refused) => refused.into_response(),
    }
}

/// The namespace's request rate on this node (its quota), judged after the
/// caller is known to be allowed in it. A refusal is answered after
/// [`RATE_LIMITED_HOLD`], so a client that ignores `Retry-After` cannot
/// turn refusals into load: a closed loop over N connections sends at most
/// N / hold refused requests a second, and the held ones cost only a timer.
async fn within_rate<B: Backend>(
    state: &AppState<B>,
    namespace: Option<Namespace>,
    parts: &mut Parts,
) -> Result<(), ApiError> {
    // Without API keys the guard has not read the path's namespace yet.
    let namespace = match namespace {
        Some(ns) => ns,
        None => NamespacePath::from_request_parts(parts, &()).await?.0,
    };
    let admitted = state.rates.admit(&state.backend, &namespace);
    if admitted.is_err() {
        tokio::time::sleep(RATE_LIMITED_HOLD).await;
    }
    admitted
}

/// How long a request over its namespace's rate waits for its 429.
const RATE_LIMITED_HOLD: std::time::Duration = std::time::Duration::from_millis(500);

/// The caller admitted, and the path's namespace if the route has one
/// (read once the caller is authenticated).
async fn admit<B: Backend>(
    state: &AppState<B>,
    need: Need,
    parts: &mut Parts,
) -> Result<(MadeWith, Option<Namespace>), ApiError> {
    if state.auth == AuthMode::Off {
        return Ok((MadeWith(None), None));
    }
    let key = caller(state, &parts.headers).await?;
    let namespace = match need {
        Need::UseKeys | Need::ReadNamespace | Need::ChangeNamespace => {
            Some(NamespacePath::from_request_parts(parts, &()).await?.0)
        }
        Need::Monitor | Need::Administer => None,
    };
    let action = match (need, &namespace) {
        (Need::UseKeys, Some(ns)) => Action::UseKeys(ns),
        (Need::ReadNamespace, Some(ns)) => Action::ReadNamespace(ns),
        (Need::ChangeNamespace, Some(ns)) => Action::ChangeNamespace(ns),
        (Need::Monitor, _) => Action::Monitor,
        _ => Action::Administer,
    };
    authorize(&key, action).map_err(ApiError::Forbidden)?;
    if need.confirms() {
        confirm(state, need, &key).await?;
    }
    Ok((MadeWith(Some(key.id)), namespace))
}

/// The record of the key `headers` present, known and in force.
async fn caller<B: Backend>(
    state: &AppState<B>,
    headers: &HeaderMap,
) -> Result<ApiKeyRecord, ApiError> {
    let presented = presented_key(headers).map_err(ApiError::Unauthenticated)?;
    let id = presented.id().clone();
    let local = state
        .backend
        .auth_view(id.clone(), Freshness::Local)
        .await?;
    let judged = match judge(&local, &presented) {
        Err(NotAuthenticated::Unknown) => {
            let fresh = state.backend.auth_view(id, Freshness::Linearizable).await?;
            judge(&fresh, &presented)
        }
        judged => judged,
    };
    judged.map_err(ApiError::Unauthenticated)
}

fn judge(view: &AuthView, presented: &PresentedKey) -> Result<ApiKeyRecord, NotAuthenticated> {
    // No secret yet: the cluster's bootstrap has not been applied here.
    let secret = view.secret.as_ref().ok_or(NotAuthenticated::Unknown)?;
    authenticate(view.key.as_ref(), secret, presented, view.now_ms).cloned()
}

/// The key of the one `Authorization: Bearer` header. Several headers, or
/// one that is not a well-formed key, are a key this cluster does not know.
fn presented_key(headers: &HeaderMap) -> Result<PresentedKey, NotAuthenticated> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(NotAuthenticated::Missing)?;
    if values.next().is_some() {
        return Err(NotAuthenticated::Unknown);
    }
    let text = value.to_str().map_err(|_| NotAuthenticated::Unknown)?;
    let (scheme, key) = text.split_once(' ').ok_or(NotAuthenticated::Unknown)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(NotAuthenticated::Unknown);
    }
    PresentedKey::parse(key.trim()).map_err(|_| NotAuthenticated::Unknown)
}

/// Judges `key` again by a linearizable read. A monitor's read of a node
/// cut off from the leader is judged by this node's state alone, so that a
/// partitioned node can still be watched (see docs/SECURITY.md).
async fn confirm<B: Backend>(
    state: &AppState<B>,
    need: Need,
    key: &ApiKeyRecord,
) -> Result<(), ApiError> {
    match state
        .backend
        .auth_view(key.id.clone(), Freshness::Linearizable)
        .await
    {
        Ok(view) => in_force(view.key.as_ref(), view.now_ms).map_err(ApiError::Unauthenticated),
        Err(_) if need == Need::Monitor => Ok(()),
        Err(e) => Err(e.into()),
    }
}
