//! What every handler shares: the backend, the limits and the metrics.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::backend::Backend;
use crate::http::limits::ApiLimits;
use crate::http::metrics::HttpMetrics;

/// The router's state.
#[derive(Debug)]
pub struct AppState<B> {
    pub backend: B,
    pub limits: ApiLimits,
    pub metrics: Arc<HttpMetrics>,
}

impl<B: Backend> AppState<B> {
    pub fn new(backend: B, limits: ApiLimits) -> Self {
        AppState {
            backend,
            limits,
            metrics: Arc::new(HttpMetrics::default()),
        }
    }
}

impl<B: Clone> Clone for AppState<B> {
    fn clone(&self) -> Self {
        AppState {
            backend: self.backend.clone(),
            limits: self.limits,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

impl<B> FromRef<AppState<B>> for ApiLimits {
    fn from_ref(state: &AppState<B>) -> ApiLimits {
        state.limits
    }
}
