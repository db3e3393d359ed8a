//! A request the guard owns the key for, run once: mark the reservation
//! committing, send the request with the fencing token, keep the lease
//! alive while the upstream works (the lease heartbeats itself), and store
//! what the upstream answered, or release the key when the answer is not
//! stored. What cannot be known (no answer after sending, the maximum run
//! time passed) is never sent again: the lease is left committing, so the
//! next owner is told a request may have run.

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use idem_client::Lease;

use crate::config::{GuardConfig, StorePolicy};
use crate::metrics::{GuardMetrics, GuardOutcome};
use crate::problem::GuardProblem;
use crate::respond::pass_on;
use crate::stored::to_stored;
use crate::upstream::{Upstream, UpstreamFailure};

/// The request header that lists an earlier owner's committing tokens on a
/// request sent to the reconcile path.
pub const PREVIOUS_TOKENS_HEADER: HeaderName = HeaderName::from_static("idem-previous-tokens");

/// How the guard came to own the key.
pub(crate) enum Owned {
    /// Nobody may have run the request before.
    Fresh(Lease),
    /// Earlier owners marked it committing and may have run it.
    AfterCommitting { lease: Lease, tokens: Vec<u64> },
}

pub(crate) async fn execute(
    config: &GuardConfig,
    metrics: &GuardMetrics,
    owned: Owned,
    mut req: Request<Bytes>,
    upstream: Upstream,
) -> (GuardOutcome, Response<Bytes>) {
    let lease = match owned {
        Owned::Fresh(lease) => lease,
        Owned::AfterCommitting { lease, tokens } => match &config.reconcile_path {
            Some(path) => {
                // The upstream looks the request up by key and tokens and
                // answers what happened (or does it now, fenced by our token).
                if let Err(why) = to_reconcile(&mut req, path, &tokens) {
                    release(lease).await;
                    return (
                        GuardOutcome::Unknown,
                        GuardProblem::outcome_unknown(why, false, &tokens).into_response(),
                    );
                }
                lease
            }
            None => {
                release(lease).await;
                let detail = format!(
                    "an earlier try of this request was about to run upstream (committing \
                     tokens {tokens:?}) and never finished"
                );
                return (
                    GuardOutcome::Unknown,
                    GuardProblem::outcome_unknown(detail, false, &tokens).into_response(),
                );
            }
        },
    };
    if let Err(e) = lease.commit().await {
        // Not sent: dropping the lease releases the key (it is not marked).
        return (
            GuardOutcome::Unavailable,
            GuardProblem::idem_unavailable(format!(
                "the reservation could not be marked committing: {e}"
            ))
            .into_response(),
        );
    }
    let token = lease.token();
    req.headers_mut()
        .insert(&config.token_header, HeaderValue::from(token.0));
    let started = Instant::now();
    let answer = tokio::time::timeout(config.max_run_time, upstream(req)).await;
    metrics.observe_upstream(started.elapsed());
    let answer = match answer {
        Err(_) => {
            // Still running, perhaps: leave the lease committing.
            let _ = lease.detach().await;
            let detail = format!(
                "the upstream did not answer within the maximum run time ({} ms)",
                config.max_run_time.as_millis()
            );
            return (
                GuardOutcome::Unknown,
                GuardProblem::outcome_unknown(detail, true, &[token.0]).into_response(),
            );
        }
        Ok(Err(UpstreamFailure::NotSent(why))) => {
            if let Err(e) = lease.release_not_committed().await {
                tracing::warn!(error = %e, "releasing a key whose request was never sent");
            }
            return (
                GuardOutcome::Unavailable,
                GuardProblem::upstream_unavailable(why).into_response(),
            );
        }
        Ok(Err(UpstreamFailure::MaybeSent(why))) => {
            let _ = lease.detach().await;
            return (
                GuardOutcome::Unknown,
                GuardProblem::outcome_unknown(why, false, &[token.0]).into_response(),
            );
        }
        Ok(Ok(answer)) => answer,
    };
    if stores(config.store, answer.status) {
        let stored = to_stored(&answer, &config.stored_headers, config.max_stored_bytes);
        if let Err(e) = lease.complete(stored).await {
            // It ran: this caller gets its answer; a retry will be told the
            // outcome is unknown (the reservation stays committing).
            metrics.count_not_stored();
            tracing::error!(error = %e, token = token.0, "an upstream answer could not be stored");
        }
    } else if let Err(e) = lease.release_not_committed().await {
        tracing::warn!(error = %e, token = token.0, "releasing a key whose answer is not stored");
    }
    (GuardOutcome::Executed, pass_on(answer))
}

/// Whether `status` is stored under `policy`.
pub fn stores(policy: StorePolicy, status: StatusCode) -> bool {
    match policy {
        StorePolicy::Everything => true,
        StorePolicy::Default => {
            !status.is_server_error()
                && !status.is_informational()
                && !matches!(status.as_u16(), 408 | 409 | 425 | 429)
        }
    }
}

/// The request, sent to the reconcile path with the earlier tokens.
fn to_reconcile(req: &mut Request<Bytes>, path: &str, tokens: &[u64]) -> Result<(), String> {
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let uri = format!("{path}{query}")
        .parse()
        .map_err(|e| format!("the reconcile path does not make a URI: {e}"))?;
    *req.uri_mut() = uri;
    let list = tokens
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let value = HeaderValue::try_from(list).map_err(|e| e.to_string())?;
    req.headers_mut().insert(PREVIOUS_TOKENS_HEADER, value);
    Ok(())
}

async fn release(lease: Lease) {
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "releasing a key the guard will not run");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_stores_what_a_retry_should_not_change() {
        let s = |code: u16| stores(StorePolicy::Default, StatusCode::from_u16(code).unwrap());
        for code in [200, 201, 204, 303, 400, 402, 404, 422] {
            assert!(s(code), "{code} is stored");
        }
        for code in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert!(!s(code), "{code} is not stored");
        }
        assert!(stores(
            StorePolicy::Everything,
            StatusCode::INTERNAL_SERVER_ERROR
        ));
    }

    #[test]
    fn a_reconciled_request_goes_to_the_reconcile_path_with_the_tokens() {
        let mut req = Request::builder()
            .uri("/charges?x=1")
            .body(Bytes::new())
            .unwrap();
        to_reconcile(&mut req, "/reconcile", &[7, 12]).unwrap();
        assert_eq!(req.uri(), "/reconcile?x=1");
        assert_eq!(req.headers()[PREVIOUS_TOKENS_HEADER], "7,12");
    }
}
