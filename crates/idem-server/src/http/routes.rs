//! The route table.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};
use axum::Router;

use crate::backend::Backend;
use crate::http::auth::allow;
use crate::http::caller::{AuthMode, Need::*};
use crate::http::limits::ApiLimits;
use crate::http::state::AppState;
use crate::http::{api_keys, fallback, keys, members, metrics, namespaces, service};

/// The HTTP API over `backend`, with `limits` on what requests may carry
/// and `auth` saying whether callers need API keys. Every route, who may
/// call it, status code and body is described in docs/API.md.
pub fn router<B: Backend>(backend: B, limits: ApiLimits, auth: AuthMode) -> Router {
    let state = AppState::new(backend, limits, auth);
    let request_metrics = Arc::clone(&state.metrics);
    let s = &state;
    Router::new()
        .route(
            "/v1/ns/{ns}/keys/{key}/reserve",
            allow(s, UseKeys, post(keys::reserve::<B>)),
        )
        .route(
            "/v1/ns/{ns}/keys/{key}/heartbeat",
            allow(s, UseKeys, post(keys::heartbeat::<B>)),
        )
        .route(
            "/v1/ns/{ns}/keys/{key}/complete",
            allow(s, UseKeys, post(keys::complete::<B>)),
        )
        .route(
            "/v1/ns/{ns}/keys/{key}/release",
            allow(s, UseKeys, post(keys::release::<B>)),
        )
        .route(
            "/v1/ns/{ns}/keys/{key}",
            allow(s, UseKeys, get(keys::get_record::<B>)),
        )
        .route(
            "/v1/ns/{ns}/keys",
            allow(s, UseKeys, post(namespaces::mint::<B>)),
        )
        .route(
            "/v1/ns/{ns}/derive",
            allow(s, UseKeys, post(namespaces::derive::<B>)),
        )
        .route(
            "/v1/ns/{ns}",
            allow(s, ReadNamespace, get(namespaces::get_policy::<B>)).merge(allow(
                s,
                ChangeNamespace,
                put(namespaces::put_policy::<B>),
            )),
        )
        .route(
            "/v1/ns/{ns}/quota",
            allow(s, ReadNamespace, get(namespaces::get_quota::<B>)).merge(allow(
                s,
                ChangeNamespace,
                put(namespaces::put_quota::<B>),
            )),
        )
        .route(
            "/v1/auth/keys",
            allow(
                s,
                Administer,
                get(api_keys::list::<B>).post(api_keys::create::<B>),
            ),
        )
        .route(
            "/v1/auth/keys/{id}",
            allow(
                s,
                Administer,
                get(api_keys::show::<B>).delete(api_keys::revoke::<B>),
            ),
        )
        .route(
            "/v1/auth/keys/{id}/rotate",
            allow(s, Administer, post(api_keys::rotate::<B>)),
        )
        .route("/v1/cluster", allow(s, Monitor, get(service::cluster::<B>)))
        .route(
            "/v1/cluster/members",
            allow(s, Monitor, get(members::list::<B>)).merge(allow(
                s,
                Administer,
                post(members::add::<B>),
            )),
        )
        .route(
            "/v1/cluster/members/{id}",
            allow(s, Administer, delete(members::remove::<B>)),
        )
        .route("/metrics", allow(s, Monitor, get(service::metrics::<B>)))
        // Open to anyone: load balancers and supervisors ask these.
        .route("/health", get(service::health))
        .route("/ready", get(service::ready::<B>))
        // Both fallbacks must come after the routes they cover.
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::not_found)
        // Layers wrap the routes added above, so they come last.
        .layer(DefaultBodyLimit::max(limits.max_request_body_bytes))
        .layer(from_fn_with_state(request_metrics, metrics::track))
        .with_state(state)
}
