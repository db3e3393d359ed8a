//! What every handler shares: the backend, the limits and the metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use idem_core::{Command, Outcome, Reserve};

use crate::backend::Backend;
use crate::http::caller::{AuthMode, MadeWith};
use crate::http::error::ApiError;
use crate::http::limits::ApiLimits;
use crate::http::metrics::HttpMetrics;
use crate::http::request_rate::RequestRates;

/// The router's state.
#[derive(Debug)]
pub struct AppState<B> {
    pub backend: B,
    pub limits: ApiLimits,
    pub auth: AuthMode,
    pub metrics: Arc<HttpMetrics>,
    /// Each namespace's request rate on this node.
    pub rates: Arc<RequestRates>,
}

impl<B: Backend> AppState<B> {
    pub fn new(backend: B, limits: ApiLimits, auth: AuthMode) -> Self {
        AppState {
            backend,
            limits,
            auth,
            metrics: Arc::new(HttpMetrics::default()),
            rates: Arc::new(RequestRates::default()),
        }
    }

    /// Carries out `command` made with the request's key.
    pub async fn execute(&self, command: Command, by: &MadeWith) -> Result<Outcome, ApiError> {
        key_in_force(
            self.backend
                .execute(command.made_with(by.0.clone()))
                .await?,
        )
    }

    /// A reserve made with the request's key that waits up to `wait` for
    /// an in-flight result (see [`Backend::reserve_waiting`]).
    pub async fn reserve_waiting(
        &self,
        command: Reserve,
        by: &MadeWith,
        wait: Duration,
    ) -> Result<Outcome, ApiError> {
        key_in_force(
            self.backend
                .reserve_waiting(command, by.0.clone(), wait)
                .await?,
        )
    }
}

/// A key found not in force when the command was applied is a 401.
fn key_in_force(outcome: Outcome) -> Result<Outcome, ApiError> {
    match outcome {
        Outcome::KeyNotInForce(why) => Err(ApiError::Unauthenticated(why)),
        outcome => Ok(outcome),
    }
}

impl<B: Clone> Clone for AppState<B> {
    fn clone(&self) -> Self {
        AppState {
            backend: self.backend.clone(),
            limits: self.limits,
            auth: self.auth,
            metrics: Arc::clone(&self.metrics),
            rates: Arc::clone(&self.rates),
        }
    }
}

impl<B> FromRef<AppState<B>> for ApiLimits {
    fn from_ref(state: &AppState<B>) -> ApiLimits {
        state.limits
    }
}
