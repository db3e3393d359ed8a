//! The HTTP API: routes, bodies, limits, problem+json errors and metrics.
//!
//! A request flows: [`extract`] (path names and JSON body, each rejection a
//! problem) → [`commands`] (every domain rule checked, an `idem_core`
//! command built) → [`crate::backend::Backend`] (the cluster) → [`replies`]
//! (the outcome's status, body and headers). Failures are [`ApiError`]s,
//! mapped to status codes and problem types in one place, [`error`].
//! The reference is docs/API.md.

pub mod api_keys;
pub mod auth;
pub mod bodies;
pub mod caller;
pub mod commands;
pub mod draws;
pub mod error;
pub mod extract;
pub mod fallback;
pub mod keys;
pub mod limits;
pub mod members;
pub mod metrics;
pub mod namespaces;
pub mod problem;
pub mod record_view;
pub mod replies;
pub mod request_rate;
pub mod routes;
pub mod serve;
pub mod service;
pub mod state;
pub mod tls;

pub use caller::AuthMode;
pub use error::ApiError;
pub use limits::ApiLimits;
pub use problem::{Problem, PROBLEM_JSON};
pub use routes::router;
pub use serve::{serve, ServeLimits};
pub use state::AppState;
pub use tls::{api_tls_acceptor, ApiTlsFiles};
