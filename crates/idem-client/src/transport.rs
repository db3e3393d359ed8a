//! Sending one API call to the cluster: to one node after another, with
//! jittered backoff, retrying exactly where a retry cannot change what the
//! call means.
//!
//! Any node serves any call (followers forward to the leader), so a node
//! that cannot be reached, or answers 503, is left for the next one. Whether
//! the call may be sent again depends on what the failure says:
//!
//! * the request never left (the connection was refused), or the cluster
//!   says it certainly changed nothing (503 `not-applied`, `not-ready`):
//!   any call may be retried;
//! * the request may have been applied (a timeout, a connection cut, 503
//!   `outcome-unknown`): only a call whose retry means the same thing
//!   ([`Retry::Always`]: a reserve with an attempt id, an identical
//!   complete, a heartbeat or release with the token, a read) is sent
//!   again; any other call returns the error at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::ClientConfig;
use crate::error::{ClientError, Problem};

/// Whether a call may be sent again after a failure that may have applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A retry means the same as the first try.
    Always,
    /// Only if the first try certainly changed nothing.
    IfNotApplied,
}

/// One answer that is not a failure of the cluster (any status but 503).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

pub(crate) struct Transport {
    http: reqwest::Client,
    nodes: Vec<String>,
    /// The node tried first: the last one that answered.
    preferred: AtomicUsize,
    pub config: ClientConfig,
}

enum Failure {
    /// Certainly not applied: retry anything.
    NotApplied(ClientError),
    /// Maybe applied: retry only what means the same.
    Unknown(ClientError),
}

impl Transport {
    pub(crate) fn new(nodes: Vec<String>, config: ClientConfig) -> Result<Self, ClientError> {
        if nodes.is_empty() {
            return Err(ClientError::Config("no node given".into()));
        }
        for n in &nodes {
            if !(n.starts_with("http://") || n.starts_with("https://")) {
                return Err(ClientError::Config(format!(
                    "node {n:?} is not an http:// or https:// base URL"
                )));
            }
        }
        // Idle connections are closed before a node would close them (it
        // does after 30 s without a request), so a request never goes out
        // on a connection the node is closing.
        let tls = config
            .tls
            .config_for(nodes.iter().any(|n| n.starts_with("https://")))?;
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(20))
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Transport {
            http,
            nodes: nodes
                .into_iter()
                .map(|n| n.trim_end_matches('/').to_owned())
                .collect(),
            preferred: AtomicUsize::new(0),
            config,
        })
    }

    /// Sends `method path` with `body`, retrying by `retry` until `give_up`
    /// (at most `config.retry_for` from now). `extra_time`: how much longer
    /// than the request timeout the server may legitimately hold the call
    /// (a waiting reserve).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
        give_up: Option<Instant>,
        extra_time: Duration,
    ) -> Result<Answer, ClientError> {
        let give_up = give_up.unwrap_or_else(|| Instant::now() + self.config.retry_for);
        let mut backoff = Backoff::new(self.config.initial_backoff, self.config.max_backoff);
        let mut node = self.preferred.load(Ordering::Relaxed) % self.nodes.len();
        loop {
            let failure = match self.send_once(node, &method, path, body, extra_time).await {
                Ok(answer) => {
                    self.preferred.store(node, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(f) => f,
            };
            let error = match failure {
                Failure::NotApplied(e) => e,
                Failure::Unknown(e) if retry == Retry::Always => e,
                Failure::Unknown(e) => return Err(e),
            };
            let sleep = backoff.next_sleep();
            if Instant::now() + sleep >= give_up {
                return Err(error);
            }
            tracing::debug!(node = %self.nodes[node], %error, "retrying on the next node");
            node = (node + 1) % self.nodes.len();
            tokio::time::sleep(sleep).await;
        }
    }

    async fn send_once(
        &self,
        node: usize,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        extra_time: Duration,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}", self.nodes[node]);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .timeout(self.config.request_timeout + extra_time);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(Failure::NotApplied(unreachable(&url, &e, false)));
            }
            Err(e) => return Err(Failure::Unknown(unreachable(&url, &e, true))),
        };
        let status = response.status();
        let body: Value = match response.bytes().await {
            Ok(bytes) if bytes.is_empty() => Value::Null,
            Ok(bytes) => serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) => return Err(Failure::Unknown(unreachable(&url, &e, true))),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let problem = Problem::from_reply(status.as_u16(), &body);
            return Err(if problem.certainly_not_applied() {
                Failure::NotApplied(ClientError::Problem(problem))
            } else {
                Failure::Unknown(ClientError::Problem(problem))
            });
        }
        Ok(Answer { status, body })
    }
}

fn unreachable(url: &str, e: &reqwest::Error, applied_maybe: bool) -> ClientError {
    ClientError::Unreachable {
        reason: format!("{url}: {e}"),
        applied_maybe,
    }
}

impl Answer {
    /// The body as a `T`; a body of another shape is an unexpected reply.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(self) -> Result<T, ClientError> {
        serde_json::from_value(self.body.clone()).map_err(|_| ClientError::UnexpectedReply {
            status: self.status.as_u16(),
            body: self.body.to_string(),
        })
    }

    /// The answer as an error: a problem document if it is one.
    pub(crate) fn into_error(self) -> ClientError {
        if self.body.get("type").is_some() {
            ClientError::Problem(Problem::from_reply(self.status.as_u16(), &self.body))
        } else {
            ClientError::UnexpectedReply {
                status: self.status.as_u16(),
                body: self.body.to_string(),
            }
        }
    }
}
