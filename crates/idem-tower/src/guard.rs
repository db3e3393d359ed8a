//! The engine both faces share: one guarded request from its headers to its
//! answer. It checks the key, reserves it in idem (with an attempt id, so a
//! lost reply is resumed by the client's own retry), waits for a duplicate's
//! answer, and hands a request it owns to [`crate::execute`]. It never
//! calls the upstream twice for one request (the call is an `FnOnce`), and
//! never calls it when idem says the request ran or may have run.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use idem_client::{Client, ClientError, ProblemType, Reservation, ReserveOptions};

use crate::config::{FailMode, GuardConfig};
use crate::error::{ConfigError, RequestRefused};
use crate::execute::{execute, Owned};
use crate::fingerprint::request_fingerprint;
use crate::key_header::RequestKey;
use crate::metrics::{GuardMetrics, GuardOutcome};
use crate::problem::GuardProblem;
use crate::respond::{pass_on, replayed};
use crate::scope::ScopedKey;
use crate::stored::UpstreamResponse;
use crate::upstream::{Upstream, UpstreamFailure};

/// The idempotency guard: configuration, an idem client, counters.
#[derive(Clone)]
pub struct Guard {
    pub(crate) client: Client,
    pub(crate) config: Arc<GuardConfig>,
    pub(crate) metrics: Arc<GuardMetrics>,
}

/// A guarded request that passed the checks.
struct Checked {
    key: ScopedKey,
    options: ReserveOptions,
}

impl Guard {
    pub fn new(client: Client, config: GuardConfig) -> Result<Guard, ConfigError> {
        config.validate()?;
        Ok(Guard {
            client,
            config: Arc::new(config),
            metrics: Arc::default(),
        })
    }

    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    pub fn metrics(&self) -> Arc<GuardMetrics> {
        self.metrics.clone()
    }

    /// Answers `req`, calling `upstream` at most once.
    pub async fn handle<F, Fut>(&self, req: Request<Bytes>, upstream: F) -> Response<Bytes>
    where
        F: FnOnce(Request<Bytes>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<UpstreamResponse, UpstreamFailure>> + Send + 'static,
    {
        let upstream: Upstream = Box::new(move |req| Box::pin(upstream(req)));
        let (outcome, response) = self.answer(req, upstream).await;
        self.metrics.count(outcome);
        response
    }

    /// The answer to a request refused before anything was reserved (a
    /// face that reads the body itself refuses through this), counted.
    pub fn refuse(&self, why: &RequestRefused) -> Response<Bytes> {
        self.metrics.count(GuardOutcome::Refused);
        GuardProblem::refused(why).into_response()
    }

    async fn answer(
        &self,
        mut req: Request<Bytes>,
        upstream: Upstream,
    ) -> (GuardOutcome, Response<Bytes>) {
        // Nobody but the guard tells the upstream a token.
        req.headers_mut().remove(&self.config.token_header);
        if !self.config.guards(req.method()) {
            return (GuardOutcome::Bypassed, self.unguarded(req, upstream).await);
        }
        let checked = match self.check(&req) {
            Ok(Some(c)) => c,
            Ok(None) => return (GuardOutcome::Bypassed, self.unguarded(req, upstream).await),
            Err(why) => {
                return (
                    GuardOutcome::Refused,
                    GuardProblem::refused(&why).into_response(),
                )
            }
        };
        let ns = self.config.namespace.as_str();
        let first = self
            .client
            .reserve(ns, checked.key.as_str(), &checked.options)
            .await;
        let (reservation, waited) = match first {
            Ok(Reservation::InProgress { .. }) if !self.config.wait.is_zero() => {
                let options = checked.options.clone().wait(self.config.wait);
                (
                    self.client
                        .reserve(ns, checked.key.as_str(), &options)
                        .await,
                    true,
                )
            }
            other => (other, false),
        };
        let owned = match reservation {
            Ok(Reservation::Owned(lease)) => Owned::Fresh(lease),
            Ok(Reservation::TakenOver {
                lease,
                previous_committing,
            }) if previous_committing.is_empty() => Owned::Fresh(lease),
            Ok(Reservation::TakenOver {
                lease,
                previous_committing,
            }) => Owned::AfterCommitting {
                lease,
                tokens: previous_committing.iter().map(|t| t.0).collect(),
            },
            Ok(Reservation::Completed { response, .. }) => {
                let outcome = if waited {
                    GuardOutcome::Waited
                } else {
                    GuardOutcome::Replayed
                };
                return (outcome, replayed(&response));
            }
            Ok(Reservation::InProgress { retry_after }) => {
                return (
                    GuardOutcome::Conflict,
                    GuardProblem::in_progress(retry_after).into_response(),
                )
            }
            Err(ClientError::Problem(p)) if p.kind == ProblemType::FingerprintMismatch => {
                return (
                    GuardOutcome::Mismatch,
                    GuardProblem::key_reused().into_response(),
                )
            }
            Err(e) => return self.idem_failed(e, req, upstream).await,
        };
        execute(&self.config, &self.metrics, owned, req, upstream).await
    }

    /// The key and fingerprint of a guarded request; `None`: it carries no
    /// key and keys are optional.
    fn check(&self, req: &Request<Bytes>) -> Result<Option<Checked>, RequestRefused> {
        let c = &self.config;
        let header = || c.key_header.as_str().to_owned();
        let mut values = req.headers().get_all(&c.key_header).iter();
        let Some(value) = values.next() else {
            return if c.key_required {
                Err(RequestRefused::KeyMissing { header: header() })
            } else {
                Ok(None)
            };
        };
        if values.next().is_some() {
            return Err(RequestRefused::KeyInvalid {
                header: header(),
                why: "it appears more than once".into(),
            });
        }
        let key =
            RequestKey::parse(value.as_bytes()).map_err(|why| RequestRefused::KeyInvalid {
                header: header(),
                why,
            })?;
        let identity = match &c.identity_header {
            None => None,
            Some(name) => Some(identity(req.headers().get(name)).ok_or_else(|| {
                RequestRefused::IdentityMissing {
                    header: name.as_str().to_owned(),
                }
            })?),
        };
        if req.body().len() > c.max_request_bytes {
            return Err(RequestRefused::BodyTooLarge {
                max: c.max_request_bytes,
            });
        }
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let fingerprint = request_fingerprint(
            req.method(),
            path,
            req.headers(),
            &c.fingerprint_headers,
            req.body(),
        );
        let mut options = ReserveOptions::new()
            .fingerprint(fingerprint)
            .lease(c.lease);
        if let Some(retain) = c.retain {
            options = options.retain(retain);
        }
        Ok(Some(Checked {
            key: ScopedKey::new(identity, &key),
            options,
        }))
    }

    /// A request the guard does not protect: sent on as it is.
    async fn unguarded(&self, req: Request<Bytes>, upstream: Upstream) -> Response<Bytes> {
        match upstream(req).await {
            Ok(answer) => pass_on(answer),
            Err(UpstreamFailure::NotSent(why)) => {
                GuardProblem::upstream_unavailable(why).into_response()
            }
            Err(UpstreamFailure::MaybeSent(why)) => {
                GuardProblem::outcome_unknown(why, false, &[]).into_response()
            }
        }
    }

    /// idem could not answer the reserve: fail closed, or open if told to.
    async fn idem_failed(
        &self,
        e: ClientError,
        req: Request<Bytes>,
        upstream: Upstream,
    ) -> (GuardOutcome, Response<Bytes>) {
        if let ClientError::Problem(p) = &e {
            if p.status < 500 {
                // idem refused what the guard built: a configuration that
                // cannot work (an unknown namespace, minted keys only).
                tracing::error!(problem = %e, "idem refused the guard's reserve");
                return (
                    GuardOutcome::Unavailable,
                    GuardProblem::idem_refused(e.to_string()).into_response(),
                );
            }
        }
        match self.config.fail {
            FailMode::Closed => (
                GuardOutcome::Unavailable,
                GuardProblem::idem_unavailable(e.to_string()).into_response(),
            ),
            FailMode::Open => {
                tracing::warn!(error = %e, "idem unreachable: sending the request unprotected (fail open)");
                (
                    GuardOutcome::FailedOpen,
                    self.unguarded(req, upstream).await,
                )
            }
        }
    }
}

/// The caller's identity: a non-empty, visible header value.
fn identity(value: Option<&HeaderValue>) -> Option<&str> {
    value
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}
