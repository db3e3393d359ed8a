//! How patient the client is, the API key it sends and how it speaks TLS.

use std::fmt;
use std::time::Duration;

use crate::tls::ClientTls;

/// An API key (`idem_<id>_<secret>`), sent as `Authorization: Bearer` with
/// every request. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key as `idem` printed it (surrounding whitespace, such as the
    /// newline of a key file, is dropped).
    pub fn new(text: impl AsRef<str>) -> ApiKey {
        ApiKey(text.as_ref().trim().to_owned())
    }

    /// Reads a key from a file (as `idem` writes `admin.key`).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> std::io::Result<ApiKey> {
        std::fs::read_to_string(path).map(ApiKey::new)
    }

    /// The key's text, to send it somewhere else than through this
    /// client (a command-line tool's own request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The id part (before the second '_') is not secret.
        let id = self.0.splitn(3, '_').take(2).collect::<Vec<_>>().join("_");
        write!(f, "ApiKey({id}_..)")
    }
}

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
    /// The API key every request carries (`None`: a cluster started with
    /// `--no-auth`).
    pub api_key: Option<ApiKey>,
    /// How `https://` nodes are trusted (default: the system's roots) and
    /// the certificate presented to a node that asks for one.
    pub tls: ClientTls,
}

impl ClientConfig {
    /// This configuration, sending `key` with every request.
    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// This configuration, speaking TLS as `tls` says.
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            api_key: None,
            tls: ClientTls::default(),
        }
    }
}
