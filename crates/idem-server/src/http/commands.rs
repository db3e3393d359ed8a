//! Request bodies to `idem_core` commands, checking every rule on the way.
//! A request that breaks one is refused here, before anything is proposed.

use std::time::Duration;

use idem_core::{
    ApiKeyId, AttemptId, CanonicalPayload, Complete, FencingToken, Fingerprint, Heartbeat, KeyId,
    LeaseDuration, NamespaceQuota, PolicyChange, Release, Reserve, RetainDuration, StoredResponse,
};

use crate::http::bodies::{
    CompleteRequest, DeriveRequest, HeartbeatRequest, JsonNumber, PolicyRequest, QuotaRequest,
    ReleaseRequest, ReserveRequest, ResponseToStore,
};
use crate::http::error::{ApiError, NumberField};
use crate::http::limits::ApiLimits;
use idem_cluster::MAX_WAIT_MS;

/// The reserve of `body`; its attempt is bound to API key `by` (only the
/// key that made a grant resumes it).
pub fn reserve(
    id: KeyId,
    body: ReserveRequest,
    by: Option<&ApiKeyId>,
) -> Result<Reserve, ApiError> {
    Ok(Reserve {
        id,
        fingerprint: body.fingerprint.map(Fingerprint::new).transpose()?,
        lease: body
            .lease_ms
            .as_ref()
            .map(|ms| lease(NumberField::LeaseMs, ms))
            .transpose()?,
        retain: body
            .retain_ms
            .as_ref()
            .map(|ms| retain(NumberField::RetainMs, ms))
            .transpose()?,
        attempt: body
            .attempt
            .map(|a| AttemptId::new(a).map(|a| a.digest_for(by)))
            .transpose()?,
    })
}

/// How long a reserve may wait for an in-flight result; `None`: not at all.
pub fn reserve_wait(body: &ReserveRequest) -> Result<Option<Duration>, ApiError> {
    let Some(ms) = &body.wait_ms else {
        return Ok(None);
    };
    match ms.as_u64() {
        Some(0) => Ok(None),
        Some(ms) if ms <= MAX_WAIT_MS => Ok(Some(Duration::from_millis(ms))),
        _ => Err(duration_error(NumberField::WaitMs, ms, 0, MAX_WAIT_MS)),
    }
}

pub fn heartbeat(id: KeyId, body: HeartbeatRequest) -> Result<Heartbeat, ApiError> {
    Ok(Heartbeat {
        id,
        token: token(&body.token)?,
        lease: body
            .lease_ms
            .as_ref()
            .map(|ms| lease(NumberField::LeaseMs, ms))
            .transpose()?,
        committing: body.committing,
    })
}

pub fn complete(
    id: KeyId,
    body: CompleteRequest,
    limits: &ApiLimits,
) -> Result<Complete, ApiError> {
    Ok(Complete {
        id,
        token: token(&body.token)?,
        response: stored_response(body.response, limits)?,
    })
}

pub fn release(id: KeyId, body: ReleaseRequest) -> Result<Release, ApiError> {
    Ok(Release {
        id,
        token: token(&body.token)?,
        not_committed: body.not_committed,
    })
}

pub fn policy_change(body: PolicyRequest) -> Result<PolicyChange, ApiError> {
    Ok(PolicyChange {
        default_lease: body
            .default_lease_ms
            .as_ref()
            .map(|ms| lease(NumberField::DefaultLeaseMs, ms))
            .transpose()?,
        default_retain: body
            .default_retain_ms
            .as_ref()
            .map(|ms| retain(NumberField::DefaultRetainMs, ms))
            .transpose()?,
        require_minted_keys: body.require_minted_keys,
    })
}

/// The quota a `PUT /v1/ns/{ns}/quota` body asks for: each limit a whole
/// number (records and bytes at least 1, a rate 1 to 1,000,000 per second).
pub fn quota(body: QuotaRequest) -> Result<NamespaceQuota, ApiError> {
    let limit = |field: NumberField, number: &Option<JsonNumber>, max: u64| {
        number
            .as_ref()
            .map(|n| match n.as_u64() {
                Some(v) if (1..=max).contains(&v) => Ok(v),
                _ => Err(ApiError::NumberOutOfRange {
                    field,
                    expected: format!("an integer from 1 to {max}, or null for no limit"),
                    got: n.to_string(),
                }),
            })
            .transpose()
    };
    let rate = limit(
        NumberField::MaxRequestsPerS,
        &body.max_requests_per_s,
        1_000_000,
    )?;
    Ok(NamespaceQuota {
        max_records: limit(NumberField::MaxRecords, &body.max_records, u64::MAX >> 1)?,
        max_stored_bytes: limit(
            NumberField::MaxStoredBytes,
            &body.max_stored_bytes,
            u64::MAX >> 1,
        )?,
        max_requests_per_s: rate.map(|r| r as u32),
    })
}

pub fn derive_payload(body: &DeriveRequest) -> Result<CanonicalPayload, ApiError> {
    Ok(CanonicalPayload::from_value(&body.payload)?)
}

/// A fencing token: a positive integer (tokens are derived from the Raft
/// log index of the grant; never 0).
fn token(number: &JsonNumber) -> Result<FencingToken, ApiError> {
    match number.as_u64() {
        Some(token) if token > 0 => Ok(FencingToken(token)),
        _ => Err(ApiError::NumberOutOfRange {
            field: NumberField::Token,
            expected: "a positive integer (the token reserve returned)".to_owned(),
            got: number.to_string(),
        }),
    }
}

fn lease(field: NumberField, ms: &JsonNumber) -> Result<LeaseDuration, ApiError> {
    ms.as_u64()
        .and_then(|ms| LeaseDuration::from_ms(ms).ok())
        .ok_or_else(|| duration_error(field, ms, LeaseDuration::MIN_MS, LeaseDuration::MAX_MS))
}

fn retain(field: NumberField, ms: &JsonNumber) -> Result<RetainDuration, ApiError> {
    ms.as_u64()
        .and_then(|ms| RetainDuration::from_ms(ms).ok())
        .ok_or_else(|| duration_error(field, ms, RetainDuration::MIN_MS, RetainDuration::MAX_MS))
}

fn duration_error(field: NumberField, got: &JsonNumber, min: u64, max: u64) -> ApiError {
    ApiError::NumberOutOfRange {
        field,
        expected: format!("a whole number of milliseconds from {min} to {max}"),
        got: got.to_string(),
    }
}

/// The response to store: the domain's rules, then the size limit.
fn stored_response(wire: ResponseToStore, limits: &ApiLimits) -> Result<StoredResponse, ApiError> {
    let status = wire
        .status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| ApiError::NumberOutOfRange {
            field: NumberField::ResponseStatus,
            expected: "an HTTP status code from 100 to 599".to_owned(),
            got: wire.status.to_string(),
        })?;
    let response = StoredResponse::new(status, wire.headers, wire.body)?;
    let size = response.approximate_size();
    if size > limits.max_stored_response_bytes {
        return Err(ApiError::StoredResponseTooLarge {
            size,
            limit: limits.max_stored_response_bytes,
        });
    }
    Ok(response)
}
