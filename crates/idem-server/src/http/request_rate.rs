//! The request rate of a namespace's quota (`max_requests_per_s`), which
//! each node enforces on the key requests it serves: a token bucket per
//! namespace holding up to one second's worth. Over it, the request is
//! answered 429 `rate-limited` with the `Retry-After` a bucket refills in,
//! before anything is read or proposed (and after a pause: see
//! `http::auth`), so a tenant flooding one namespace costs the others
//! little. The quota is read from this node's applied
//! state at most once a second per namespace.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use idem_core::Namespace;

use crate::backend::Backend;
use crate::http::error::ApiError;

/// How long a namespace's rate is used before it is read again.
const REFRESH: Duration = Duration::from_secs(1);

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    per_s: Option<u32>,
    read_at: Instant,
    tokens: f64,
    filled_at: Instant,
}

#[derive(Default)]
pub struct RequestRates {
    buckets: Mutex<HashMap<Namespace, Bucket>>,
}

impl std::fmt::Debug for RequestRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestRates(..)")
    }
}

impl RequestRates {
    /// Takes one request of `ns`'s rate, or says when to come back.
    pub fn admit<B: Backend>(&self, backend: &B, ns: &Namespace) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let stale = buckets
            .get(ns)
            .is_none_or(|b| now.duration_since(b.read_at) >= REFRESH);
        if stale {
            // A node that cannot read its own state serves the request
            // (the quota's other limits are judged at apply anyway).
            let per_s = backend
                .local_quota(ns)
                .ok()
                .and_then(|q| q.max_requests_per_s);
            if buckets.len() >= MAX_BUCKETS {
                buckets.retain(|_, b| now.duration_since(b.filled_at) < REFRESH * 10);
            }
            let bucket = buckets.entry(ns.clone()).or_insert(Bucket {
                per_s,
                read_at: now,
                tokens: f64::from(per_s.unwrap_or(0)),
                filled_at: now,
            });
            bucket.per_s = per_s;
            bucket.read_at = now;
        }
        let Some(bucket) = buckets.get_mut(ns) else {
            return Ok(());
        };
        let Some(per_s) = bucket.per_s else {
            return Ok(());
        };
        let rate = f64::from(per_s);
        let elapsed = now.duration_since(bucket.filled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.filled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_s = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
        Err(ApiError::RateLimited {
            namespace: ns.clone(),
            per_s,
            retry_after_secs: wait_s as u64,
        })
    }
}
