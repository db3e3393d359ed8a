//! The calls a token holder makes on its key: heartbeat, complete,
//! release. Each is retried wherever a retry is safe, which, carrying the
//! token, it always is.

use std::time::Duration;

use idem_core::{FencingToken, StoredResponse};
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::error::{ClientError, LeaseLost, ProblemType};
use crate::path::key_path;
use crate::records::Completed;
use crate::replies::{CompleteReply, HeartbeatReply};
use crate::transport::{Retry, Transport};

/// A confirmed heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// How long the lease lasts from when the heartbeat was sent.
    pub remaining: Duration,
    /// Whether the owner has marked the key committing.
    pub committing: bool,
}

pub(crate) struct KeyOps<'a> {
    pub transport: &'a Transport,
    pub namespace: &'a str,
    pub key: &'a str,
    pub token: FencingToken,
}

impl KeyOps<'_> {
    async fn post(
        &self,
        action: &str,
        body: Value,
        give_up: Option<Instant>,
    ) -> Result<crate::transport::Answer, ClientError> {
        self.transport
            .call(
                Method::POST,
                &key_path(self.namespace, self.key, action),
                Some(&body),
                Retry::Always,
                give_up,
                Duration::ZERO,
            )
            .await
    }

    pub async fn heartbeat(
        &self,
        lease: Option<Duration>,
        committing: bool,
        give_up: Option<Instant>,
    ) -> Result<Heartbeat, ClientError> {
        let mut body = Map::new();
        body.insert("token".into(), json!(self.token));
        body.insert("committing".into(), json!(committing));
        if let Some(l) = lease {
            body.insert("lease_ms".into(), json!(l.as_millis() as u64));
        }
        let answer = self.post("heartbeat", Value::Object(body), give_up).await?;
        if !answer.status.is_success() {
            return Err(answer.into_error().into_lease_lost());
        }
        let reply: HeartbeatReply = answer.decode()?;
        Ok(Heartbeat {
            remaining: Duration::from_millis(reply.lease_remaining_ms),
            committing: reply.committing,
        })
    }

    pub async fn complete(&self, response: &StoredResponse) -> Result<Completed, ClientError> {
        let body = json!({"token": self.token, "response": response});
        let answer = self.post("complete", body, None).await?;
        if !answer.status.is_success() {
            return Err(answer.into_error().into_lease_lost());
        }
        let reply: CompleteReply = answer.decode()?;
        Ok(Completed {
            token: reply.token,
            retained_for: Duration::from_millis(reply.retain_remaining_ms),
            replayed: reply.replayed,
        })
    }

    pub async fn release(&self, not_committed: bool) -> Result<(), ClientError> {
        let body = json!({"token": self.token, "not_committed": not_committed});
        let answer = self.post("release", body, None).await?;
        if answer.status.is_success() {
            return Ok(());
        }
        match answer.into_error() {
            ClientError::Problem(p) if p.kind == ProblemType::ReleaseOfCommitting => {
                Err(ClientError::Committing)
            }
            e => match e.into_lease_lost() {
                // Released by an earlier try whose reply was lost: done.
                ClientError::LeaseLost(LeaseLost::Absent) => Ok(()),
                e => Err(e),
            },
        }
    }
}
