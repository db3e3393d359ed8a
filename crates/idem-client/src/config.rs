//! How patient the client is.

use std::time::Duration;

/// Timeouts and retry bounds. The defaults suit a service calling a local
/// cluster; every field can be changed.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long one HTTP request may take before it counts as failed (a
    /// waiting reserve gets its `wait` on top).
    pub request_timeout: Duration,
    /// How long a call keeps retrying (over every node) where a retry is
    /// safe, before it gives up with the last error.
    pub retry_for: Duration,
    /// The first backoff between retries; it doubles up to
    /// `max_backoff`, and each sleep is drawn at random below it.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}
