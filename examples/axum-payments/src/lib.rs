//! An axum payments service that knows nothing of retries: its handler
//! charges and answers. `IdempotencyLayer` (idem-tower) makes a retried
//! `POST /payments` with the same `Idempotency-Key` charge once, and hands
//! the handler the fencing token, which the ledger uses to refuse a charge
//! from an owner that lost its key.
//!
//! The ledger appends each charge to a file (the side effect, synced before
//! the answer) and remembers the highest token per key. Two request headers
//! fake faults: `x-payments-fail: 500` answers 500 before charging, and
//! `x-payments-sleep-ms: N` charges, then waits before answering.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use idem_tower::{Guard, IdempotencyLayer};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct PaymentRequest {
    pub customer: String,
    pub amount: u64,
}

/// The payments ledger: charges in a file, the highest fencing token per key.
pub struct Ledger {
    file: PathBuf,
    state: Mutex<LedgerState>,
}

#[derive(Default)]
struct LedgerState {
    charges: Vec<Value>,
    highest_token: HashMap<String, u64>,
}

impl Ledger {
    pub fn new(file: PathBuf) -> Ledger {
        Ledger {
            file,
            state: Mutex::default(),
        }
    }

    /// Charges, unless `token` is below one this key already charged under.
    fn charge(&self, key: &str, token: Option<u64>, req: &PaymentRequest) -> Result<Value, String> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = token {
            let highest = s.highest_token.entry(key.to_owned()).or_default();
            if t < *highest {
                return Err(format!(
                    "stale fencing token {t} (this key has seen {highest})"
                ));
            }
            *highest = t;
        }
        let charge = json!({
            "payment": format!("pay_{}", s.charges.len() + 1),
            "key": key,
            "token": token,
            "customer": req.customer,
            "amount": req.amount,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .map_err(|e| e.to_string())?;
        writeln!(f, "{charge}").map_err(|e| e.to_string())?;
        f.sync_data().map_err(|e| e.to_string())?;
        s.charges.push(charge.clone());
        Ok(charge)
    }

    /// Every charge so far.
    pub fn all(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .charges
            .clone()
    }
}

#[derive(Clone)]
struct AppState {
    ledger: Arc<Ledger>,
    guard: Guard,
}

/// The service: `POST /payments` behind the guard, `GET /payments` and
/// `GET /metrics` (the guard's counters) beside it.
pub fn app(guard: Guard, ledger: Arc<Ledger>) -> Router {
    let state = AppState {
        ledger,
        guard: guard.clone(),
    };
    Router::new()
        .route("/payments", post(pay).get(list))
        .route("/metrics", get(metrics))
        .layer(IdempotencyLayer::new(guard))
        .with_state(state)
}

async fn pay(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<PaymentRequest>,
) -> impl IntoResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header("idempotency-key").unwrap_or("").to_owned();
    let token = header(s.guard.config().token_header.as_str()).and_then(|t| t.parse().ok());
    if req.amount == 0 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "amount must be positive"})),
        );
    }
    // Fault switches for the walk-through and the tests (headers are not
    // part of the fingerprint, so a retry without them is the same request).
    if header("x-payments-fail") == Some("500") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "failed before charging"})),
        );
    }
    let sleep_ms: u64 = header("x-payments-sleep-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match s.ledger.charge(&key, token, &req) {
        Ok(charge) => {
            tokio::time::sleep(std::time::Duration::from_millis(sleep_ms)).await;
            (StatusCode::CREATED, Json(charge))
        }
        Err(e) if e.starts_with("stale") => (StatusCode::CONFLICT, Json(json!({"error": e}))),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e}))),
    }
}

async fn list(State(s): State<AppState>) -> Json<Value> {
    Json(json!({ "payments": s.ledger.all() }))
}

async fn metrics(State(s): State<AppState>) -> String {
    s.guard.metrics().render()
}
