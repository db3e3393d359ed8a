//! The client: one per process, shared by every task (it is cheap to clone).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use idem_core::{FencingToken, StoredResponse};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::{ClientError, ProblemType};
use crate::key_ops::{Heartbeat, KeyOps};
use crate::lease::{Grant, Lease};
use crate::path::{key_path, namespace_path};
use crate::records::Completed;
use crate::records::{ClusterStatus, KeyRecord, MintedKey, NamespacePolicy};
use crate::replies::ReserveReply;
use crate::reservation::{new_attempt_id, Reservation, ReserveOptions};
use crate::transport::{Retry, Transport};

/// A client of an idem cluster.
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    releases: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Client {
    /// A client of the nodes at these base URLs (`http://host:port`), with
    /// the default [`ClientConfig`].
    pub fn new(nodes: impl IntoIterator<Item = impl Into<String>>) -> Result<Client, ClientError> {
        Self::with_config(nodes, ClientConfig::default())
    }

    pub fn with_config(
        nodes: impl IntoIterator<Item = impl Into<String>>,
        config: ClientConfig,
    ) -> Result<Client, ClientError> {
        let nodes = nodes.into_iter().map(Into::into).collect();
        Ok(Client {
            transport: Arc::new(Transport::new(nodes, config)?),
            releases: Arc::default(),
        })
    }

    /// Waits for the releases of dropped leases to finish.
    pub async fn close(&self) {
        let tasks: Vec<_> =
            std::mem::take(&mut *self.releases.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Reserves `key` in `namespace`. Retried (on every node) while it is
    /// safe, which it always is: the reserve carries an attempt id, so a
    /// retry of a reserve that went through resumes it.
    pub async fn reserve(
        &self,
        namespace: &str,
        key: &str,
        options: &ReserveOptions,
    ) -> Result<Reservation, ClientError> {
        let attempt = options.attempt.clone().unwrap_or_else(new_attempt_id);
        let mut body = Map::new();
        body.insert("attempt".into(), json!(attempt));
        if let Some(f) = &options.fingerprint {
            body.insert("fingerprint".into(), json!(f));
        }
        if let Some(l) = options.lease {
            body.insert("lease_ms".into(), json!(ms(l)));
        }
        if let Some(r) = options.retain {
            body.insert("retain_ms".into(), json!(ms(r)));
        }
        let wait = options.wait.unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            body.insert("wait_ms".into(), json!(ms(wait)));
        }
        let sent_at = Instant::now();
        let answer = self
            .transport
            .call(
                Method::POST,
                &key_path(namespace, key, "reserve"),
                Some(&Value::Object(body)),
                Retry::Always,
                Some(sent_at + self.transport.config.retry_for + wait),
                wait,
            )
            .await?;
        let status = answer.status;
        if !(status.is_success() || status == StatusCode::CONFLICT) {
            return Err(answer.into_error());
        }
        if status == StatusCode::CONFLICT && answer.body.get("outcome").is_none() {
            return Err(answer.into_error());
        }
        Ok(match answer.decode::<ReserveReply>()? {
            ReserveReply::Reserved {
                token,
                lease_remaining_ms,
                takeover,
                resumed,
                previous_committing_tokens,
            } => {
                // The lease's length: asked for, or (the namespace's
                // default) what the grant says is left of it.
                let remaining = Duration::from_millis(lease_remaining_ms);
                let lease = Lease::start(
                    self.transport.clone(),
                    self.releases.clone(),
                    namespace,
                    key,
                    Grant {
                        token,
                        // A retried reserve was confirmed no earlier than
                        // its first try was sent: count from there.
                        sent_at,
                        remaining,
                        length: options.lease.unwrap_or(remaining),
                        resumed,
                    },
                );
                if takeover {
                    Reservation::TakenOver {
                        lease,
                        previous_committing: previous_committing_tokens,
                    }
                } else {
                    Reservation::Owned(lease)
                }
            }
            ReserveReply::Completed { response, token } => {
                Reservation::Completed { response, token }
            }
            ReserveReply::InProgress { retry_after_ms } => Reservation::InProgress {
                retry_after: Duration::from_millis(retry_after_ms),
            },
        })
    }

    /// Extends the lease `token` holds on `key` (for a holder without a
    /// [`Lease`], such as the command line).
    pub async fn heartbeat(
        &self,
        namespace: &str,
        key: &str,
        token: FencingToken,
        lease: Option<Duration>,
        committing: bool,
    ) -> Result<Heartbeat, ClientError> {
        self.key_ops(namespace, key, token)
            .heartbeat(lease, committing, None)
            .await
    }

    /// Stores `response` for `key` as completed by `token`.
    pub async fn complete(
        &self,
        namespace: &str,
        key: &str,
        token: FencingToken,
        response: &StoredResponse,
    ) -> Result<Completed, ClientError> {
        self.key_ops(namespace, key, token).complete(response).await
    }

    /// Gives `key` up; `not_committed` asserts the side effect did not run.
    pub async fn release(
        &self,
        namespace: &str,
        key: &str,
        token: FencingToken,
        not_committed: bool,
    ) -> Result<(), ClientError> {
        self.key_ops(namespace, key, token)
            .release(not_committed)
            .await
    }

    fn key_ops<'a>(&'a self, namespace: &'a str, key: &'a str, token: FencingToken) -> KeyOps<'a> {
        KeyOps {
            transport: &self.transport,
            namespace,
            key,
            token,
        }
    }

    /// The key's record, or `None` if it has none.
    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<KeyRecord>, ClientError> {
        let answer = self
            .transport
            .call(
                Method::GET,
                &key_path(namespace, key, ""),
                None,
                Retry::Always,
                None,
                Duration::ZERO,
            )
            .await?;
        match answer.status {
            StatusCode::OK => answer.decode().map(Some),
            StatusCode::NOT_FOUND => match answer.into_error() {
                ClientError::Problem(p) if p.kind == ProblemType::KeyNotFound => Ok(None),
                e => Err(e),
            },
            _ => Err(answer.into_error()),
        }
    }

    /// A namespace's policy (the defaults for one never configured).
    pub async fn namespace_policy(&self, namespace: &str) -> Result<NamespacePolicy, ClientError> {
        self.read(&namespace_path(namespace, "")).await
    }

    /// Changes a namespace's policy; fields left `None` keep their value.
    /// Retried: setting the same policy twice means the same.
    pub async fn set_namespace_policy(
        &self,
        namespace: &str,
        default_lease: Option<Duration>,
        default_retain: Option<Duration>,
        require_minted_keys: Option<bool>,
    ) -> Result<NamespacePolicy, ClientError> {
        let mut body = Map::new();
        if let Some(l) = default_lease {
            body.insert("default_lease_ms".into(), json!(ms(l)));
        }
        if let Some(r) = default_retain {
            body.insert("default_retain_ms".into(), json!(ms(r)));
        }
        if let Some(m) = require_minted_keys {
            body.insert("require_minted_keys".into(), json!(m));
        }
        let answer = self
            .transport
            .call(
                Method::PUT,
                &namespace_path(namespace, ""),
                Some(&Value::Object(body)),
                Retry::Always,
                None,
                Duration::ZERO,
            )
            .await?;
        self.ok_or_error(answer)
    }

    /// Mints a key. Not retried once it may have gone through (a retry
    /// would mint another key, and the first would be left unused).
    pub async fn mint(&self, namespace: &str) -> Result<MintedKey, ClientError> {
        let answer = self
            .transport
            .call(
                Method::POST,
                &namespace_path(namespace, "/keys"),
                Some(&json!({})),
                Retry::IfNotApplied,
                None,
                Duration::ZERO,
            )
            .await?;
        self.ok_or_error(answer)
    }

    /// The namespace's deterministic key for `payload` (retried: the same
    /// payload always derives the same key).
    pub async fn derive(&self, namespace: &str, payload: &Value) -> Result<String, ClientError> {
        let answer = self
            .transport
            .call(
                Method::POST,
                &namespace_path(namespace, "/derive"),
                Some(&json!({ "payload": payload })),
                Retry::Always,
                None,
                Duration::ZERO,
            )
            .await?;
        let reply: Value = self.ok_or_error(answer)?;
        reply
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::UnexpectedReply {
                status: 200,
                body: reply.to_string(),
            })
    }

    /// The status of whichever node answers.
    pub async fn cluster_status(&self) -> Result<ClusterStatus, ClientError> {
        self.read("/v1/cluster").await
    }

    async fn read<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let answer = self
            .transport
            .call(Method::GET, path, None, Retry::Always, None, Duration::ZERO)
            .await?;
        self.ok_or_error(answer)
    }

    fn ok_or_error<T: serde::de::DeserializeOwned>(
        &self,
        answer: crate::transport::Answer,
    ) -> Result<T, ClientError> {
        if answer.status.is_success() {
            answer.decode()
        } else {
            Err(answer.into_error())
        }
    }
}
