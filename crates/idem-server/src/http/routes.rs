//! The route table.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::backend::Backend;
use crate::http::limits::ApiLimits;
use crate::http::state::AppState;
use crate::http::{fallback, keys, members, metrics, namespaces, service};

/// The HTTP API over `backend`, with `limits` on what requests may carry.
/// Every route, status code and body is described in docs/API.md.
pub fn router<B: Backend>(backend: B, limits: ApiLimits) -> Router {
    let state = AppState::new(backend, limits);
    let request_metrics = Arc::clone(&state.metrics);
    Router::new()
        .route("/v1/ns/{ns}/keys/{key}/reserve", post(keys::reserve::<B>))
        .route(
            "/v1/ns/{ns}/keys/{key}/heartbeat",
            post(keys::heartbeat::<B>),
        )
        .route("/v1/ns/{ns}/keys/{key}/complete", post(keys::complete::<B>))
        .route("/v1/ns/{ns}/keys/{key}/release", post(keys::release::<B>))
        .route("/v1/ns/{ns}/keys/{key}", get(keys::get_record::<B>))
        .route("/v1/ns/{ns}/keys", post(namespaces::mint::<B>))
        .route("/v1/ns/{ns}/derive", post(namespaces::derive::<B>))
        .route(
            "/v1/ns/{ns}",
            get(namespaces::get_policy::<B>).put(namespaces::put_policy::<B>),
        )
        .route("/v1/cluster", get(service::cluster::<B>))
        .route(
            "/v1/cluster/members",
            get(members::list::<B>).post(members::add::<B>),
        )
        .route("/v1/cluster/members/{id}", delete(members::remove::<B>))
        .route("/health", get(service::health))
        .route("/ready", get(service::ready::<B>))
        .route("/metrics", get(service::metrics::<B>))
        // Both fallbacks must come after the routes they cover.
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::not_found)
        // Layers wrap the routes added above, so they come last.
        .layer(DefaultBodyLimit::max(limits.max_request_body_bytes))
        .layer(from_fn_with_state(request_metrics, metrics::track))
        .with_state(state)
}
