//! What a guard does, as configured: which requests it guards, how it names
//! and fingerprints them, what it stores, how long it waits and runs, and
//! what it does when idem cannot be reached. Every field has a documented
//! default (see `docs/PROXY.md`); the proxy reads the same fields from TOML.

use std::time::Duration;

use http::{HeaderName, Method};
use serde::Deserialize;

use crate::error::ConfigError;

/// Which upstream answers are stored for replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorePolicy {
    /// 2xx, 3xx and 4xx except 408, 409, 425 and 429; a 5xx (or one of
    /// those four) is not stored and the key is released, so a retry runs
    /// the request again.
    Default,
    /// Stripe's choice: every answer the upstream gave is stored, 5xx
    /// included.
    Everything,
}

/// What to do when idem cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// Answer 503 and do not call the upstream.
    Closed,
    /// Call the upstream without protection (logged and counted).
    Open,
}

/// The guard's configuration.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// idem namespace the keys live in.
    pub namespace: String,
    /// Methods that are guarded; others pass through.
    pub methods: Vec<Method>,
    /// The request header that carries the key.
    pub key_header: HeaderName,
    /// A guarded request without a key: 400 (true) or passed through.
    pub key_required: bool,
    /// A request header naming the caller (e.g. an API key's id): part of
    /// the key, so two callers' identical keys never meet. A guarded
    /// request without it is refused with 400.
    pub identity_header: Option<HeaderName>,
    /// Request headers that are part of the fingerprint (besides method,
    /// path, query and body).
    pub fingerprint_headers: Vec<HeaderName>,
    /// Response headers stored and replayed with the status and body.
    pub stored_headers: Vec<HeaderName>,
    pub store: StorePolicy,
    /// How long a duplicate waits for the first request's answer before it
    /// gets 409.
    pub wait: Duration,
    /// The lease idem grants; heartbeats keep it while the upstream works.
    pub lease: Duration,
    /// How long the stored answer is kept (None: the namespace's default).
    pub retain: Option<Duration>,
    /// The longest the upstream may take; after it the outcome is unknown.
    pub max_run_time: Duration,
    /// The largest request body accepted (it is read whole to fingerprint).
    pub max_request_bytes: usize,
    /// The largest response body stored; a larger one is recorded as too
    /// large to replay.
    pub max_stored_bytes: usize,
    pub fail: FailMode,
    /// The request header that carries the fencing token to the upstream
    /// (a caller's own header of that name is removed).
    pub token_header: HeaderName,
    /// If set, a request whose earlier owner may have run it (a takeover
    /// reporting committing tokens) goes to this path of the upstream
    /// instead of being refused as of unknown outcome.
    pub reconcile_path: Option<String>,
}

impl GuardConfig {
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_RUN_TIME: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;
    pub const DEFAULT_MAX_STORED_BYTES: usize = 256 << 10;
    pub const DEFAULT_TOKEN_HEADER: &'static str = "idem-fencing-token";

    /// The defaults, for keys in `namespace`.
    pub fn new(namespace: impl Into<String>) -> GuardConfig {
        GuardConfig {
            namespace: namespace.into(),
            methods: vec![Method::POST, Method::PATCH],
            key_header: HeaderName::from_static("idempotency-key"),
            key_required: true,
            identity_header: None,
            fingerprint_headers: Vec::new(),
            stored_headers: ["content-type", "content-location", "location"]
                .into_iter()
                .map(HeaderName::from_static)
                .collect(),
            store: StorePolicy::Default,
            wait: Self::DEFAULT_WAIT,
            lease: Self::DEFAULT_LEASE,
            retain: None,
            max_run_time: Self::DEFAULT_MAX_RUN_TIME,
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
            max_stored_bytes: Self::DEFAULT_MAX_STORED_BYTES,
            fail: FailMode::Closed,
            token_header: HeaderName::from_static(Self::DEFAULT_TOKEN_HEADER),
            reconcile_path: None,
        }
    }

    /// Whether requests with `method` are guarded.
    pub fn guards(&self, method: &Method) -> bool {
        self.methods.contains(method)
    }

    /// Checks what cannot work: no namespace, no guarded method, a lease
    /// too short to heartbeat, a wait beyond idem's limit, a reconcile
    /// path that is not a path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError(what.to_owned()));
        if self.namespace.is_empty() {
            return bad("the namespace is empty");
        }
        if self.methods.is_empty() {
            return bad("no method is guarded");
        }
        if self.lease < Duration::from_millis(300) {
            return bad("the lease must be at least 300 ms (heartbeats come at a third of it)");
        }
        if self.wait > Duration::from_secs(60) {
            return bad("the wait can be at most 60 s (idem's limit)");
        }
        if self.max_run_time.is_zero() {
            return bad("the maximum run time is zero");
        }
        if let Some(p) = &self.reconcile_path {
            if !p.starts_with('/') {
                return bad("the reconcile path must start with /");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_guard_post_and_patch_and_are_valid() {
        let c = GuardConfig::new("payments");
        assert!(c.guards(&Method::POST) && c.guards(&Method::PATCH));
        assert!(!c.guards(&Method::GET) && !c.guards(&Method::PUT));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn what_cannot_work_is_refused() {
        let mut c = GuardConfig::new("");
        assert!(c.validate().is_err());
        c = GuardConfig::new("p");
        c.lease = Duration::from_millis(100);
        assert!(c.validate().is_err());
        c = GuardConfig::new("p");
        c.wait = Duration::from_secs(61);
        assert!(c.validate().is_err());
        c = GuardConfig::new("p");
        c.reconcile_path = Some("reconcile".into());
        assert!(c.validate().is_err());
    }
}
