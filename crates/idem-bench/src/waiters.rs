//! How soon a retry learns the result of a request in flight: a waiter
//! (`reserve` with `wait_ms`) against a poller that follows `Retry-After`,
//! side by side on the same keys.
//!
//! Each round: an owner reserves a fresh key; a waiter and a poller ask
//! for it (on other nodes, as retries arriving elsewhere would); after a
//! random delay the owner completes. The latency of each is from the moment
//! the owner's `complete` was acknowledged to the moment it got the replay.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::error::OpError;
use crate::http_conn::HttpConnection;
use crate::plan::Endpoint;

/// What one run measured.
pub struct WaiterReport {
    pub rounds: u64,
    pub waiter: Histogram<u64>,
    pub poller: Histogram<u64>,
}

fn endpoint(url: &str) -> Endpoint {
    Endpoint {
        authority: url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        url: url.to_string(),
        https: false,
    }
}

async fn post(conn: &mut HttpConnection, path: &str, body: Value) -> Result<(u16, Value), OpError> {
    let reply = conn.post_json(path, body.to_string().into_bytes()).await?;
    let value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    Ok((reply.status, value))
}

/// Runs `rounds` rounds against three nodes (`urls`: owner, waiter,
/// poller, in turn). The owner reserves with `lease_ms` (what `Retry-After`
/// tells the poller to wait) and completes 0.1-1 s later. Every request
/// carries `api_key`, if given.
pub async fn measure(
    urls: &[String],
    api_key: Option<&str>,
    rounds: u64,
    namespace: &str,
    lease_ms: u64,
) -> Result<WaiterReport, OpError> {
    let at = |i: usize| endpoint(&urls[i % urls.len()]);
    let timeout = Duration::from_secs(30);
    let mut owner = HttpConnection::new(at(0), timeout).with_api_key(api_key);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut waiter_h = Histogram::new(3).map_err(OpError::protocol)?;
    let mut poller_h = Histogram::new(3).map_err(OpError::protocol)?;
    for round in 0..rounds {
        let path = format!("/v1/ns/{namespace}/keys/w{run_id}-{round}");
        let (status, granted) = post(
            &mut owner,
            &format!("{path}/reserve"),
            json!({"lease_ms": lease_ms}),
        )
        .await?;
        if status != 201 {
            return Err(OpError::protocol(format!(
                "owner reserve answered {status}"
            )));
        }
        let token = granted["token"].as_u64().unwrap_or(0);
        let waiter_path = format!("{path}/reserve");
        let (w_end, p_end) = (at(1), at(2));
        let key = api_key.map(str::to_owned);
        let waiter_key = key.clone();
        let waiter = tokio::spawn(async move {
            let mut c = HttpConnection::new(w_end, Duration::from_secs(30))
                .with_api_key(waiter_key.as_deref());
            let (status, _) = post(&mut c, &waiter_path, json!({"wait_ms": 20_000})).await?;
            Ok::<_, OpError>((status, Instant::now()))
        });
        let poll_path = format!("{path}/reserve");
        let poller = tokio::spawn(async move {
            let mut c =
                HttpConnection::new(p_end, Duration::from_secs(30)).with_api_key(key.as_deref());
            loop {
                let (status, body) = post(&mut c, &poll_path, json!({})).await?;
                if status != 409 {
                    return Ok::<_, OpError>((status, Instant::now()));
                }
                // Retry-After is whole seconds, rounded up: what a client
                // that follows the header waits.
                let ms = body["retry_after_ms"].as_u64().unwrap_or(1_000);
                tokio::time::sleep(Duration::from_secs(ms.div_ceil(1_000).max(1))).await;
            }
        });
        // Let both ask, then complete at a random point of a second.
        let delay = (100 + (round * 7919) % 900).min(lease_ms / 2);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let (status, _) = post(
            &mut owner,
            &format!("{path}/complete"),
            json!({"token": token, "response": {"status": 200, "body": "done"}}),
        )
        .await?;
        let completed = Instant::now();
        if status != 200 {
            return Err(OpError::protocol(format!("complete answered {status}")));
        }
        for (task, hist) in [(waiter, &mut waiter_h), (poller, &mut poller_h)] {
            let (status, at) = task.await.map_err(OpError::protocol)??;
            if status != 200 {
                return Err(OpError::protocol(format!(
                    "a retry answered {status}, not the replay"
                )));
            }
            let us = at.saturating_duration_since(completed).as_micros() as u64;
            hist.record(us.max(1)).map_err(OpError::protocol)?;
        }
    }
    Ok(WaiterReport {
        rounds,
        waiter: waiter_h,
        poller: poller_h,
    })
}

impl WaiterReport {
    pub fn text(&self) -> String {
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let mut s = format!(
            "{} rounds; latency from the owner's acknowledged complete to the retry's replay:\n",
            self.rounds
        );
        for (name, h) in [
            ("wait_ms waiter", &self.waiter),
            ("Retry-After poller", &self.poller),
        ] {
            s.push_str(&format!(
                "  {name:<20} p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms\n",
                ms(h, 0.5),
                ms(h, 0.99),
                h.max() as f64 / 1000.0
            ));
        }
        s.push_str(&format!(
            "  waiter is {:.0}x sooner at p50, {:.0}x at p99\n",
            ms(&self.poller, 0.5) / ms(&self.waiter, 0.5).max(0.001),
            ms(&self.poller, 0.99) / ms(&self.waiter, 0.99).max(0.001),
        ));
        s
    }
}
