//! The payments workload: workers charge orders through a ledger, using
//! idem the way `docs/CLIENTS.md` says (the Rust client's `run_once`: mark
//! committing before the charge, pass the fencing token to the ledger,
//! reconcile a committing takeover), while the nemeses partition, kill,
//! pause and skew the nodes. It counts what matters to a shop: orders
//! charged twice. A run is valid only with none.
//!
//! The ledger is the downstream the issue describes: it charges whatever it
//! is asked to (it does not deduplicate orders itself), but it can look a
//! charge up and fence by token atomically: it remembers, per order, the
//! highest token it has seen, and refuses a charge with a smaller one; a
//! reconciliation raises that fence to the new owner's token in the same
//! step as it looks the charge up.
//!
//! Each worker is a thread with its own runtime and its own client, so that
//! a worker that stalls (as a process paused for a GC or by the operating
//! system would) stops its heartbeats too. A worker stalls now and then
//! between marking committing and charging, longer than its lease.
//! `--careless` workers skip the committing mark (they reserve, charge and
//! complete): the workload must then find double charges, which shows it
//! can.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use idem_client::{
    ApiKey, Client, ClientConfig, FencingToken, Reservation, ReserveOptions, RunError,
    RunOnceError, StoredResponse,
};

use crate::rng::Rng;

/// A charge the ledger refused: a newer owner had been seen for the order.
#[derive(Debug)]
pub struct Fenced;

#[derive(Default)]
struct Account {
    /// The highest token seen for this order.
    fence: u64,
    /// Every charge made, by token.
    charges: Vec<u64>,
}

/// The downstream: charges, lookups and fences, atomically per order.
#[derive(Default)]
pub struct Ledger {
    accounts: Mutex<HashMap<String, Account>>,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Charges `order` under `token`, unless a newer token was seen.
    pub fn charge(&self, order: &str, token: FencingToken) -> Result<StoredResponse, Fenced> {
        let mut accounts = self.lock();
        let a = accounts.entry(order.to_string()).or_default();
        if token.0 < a.fence {
            return Err(Fenced);
        }
        a.fence = token.0;
        a.charges.push(token.0);
        Ok(receipt(order, token.0))
    }

    /// The charge of `order`, if any, and from now on refuse tokens below
    /// `token` (one step).
    pub fn reconcile(&self, order: &str, token: FencingToken) -> Option<StoredResponse> {
        let mut accounts = self.lock();
        let a = accounts.entry(order.to_string()).or_default();
        a.fence = a.fence.max(token.0);
        a.charges.last().map(|t| receipt(order, *t))
    }

    /// (orders, charges, orders charged more than once).
    pub fn totals(&self) -> (usize, usize, Vec<(String, Vec<u64>)>) {
        let accounts = self.lock();
        let charged = accounts.values().filter(|a| !a.charges.is_empty()).count();
        let charges = accounts.values().map(|a| a.charges.len()).sum();
        let mut twice: Vec<(String, Vec<u64>)> = accounts
            .iter()
            .filter(|(_, a)| a.charges.len() > 1)
            .map(|(o, a)| (o.clone(), a.charges.clone()))
            .collect();
        twice.sort();
        (charged, charges, twice)
    }
}

fn receipt(order: &str, token: u64) -> StoredResponse {
    StoredResponse::new(
        201,
        Default::default(),
        format!("{{\"order\":\"{order}\",\"charged_under\":{token}}}"),
    )
    .unwrap_or_else(|_| unreachable!("a 201 with a JSON body is a valid response"))
}

/// What the workers saw, counted.
#[derive(Default)]
pub struct PaymentTally {
    pub requests: AtomicU64,
    pub answered: AtomicU64,
    pub reconciliations: AtomicU64,
    pub reconciled_found: AtomicU64,
    pub fenced: AtomicU64,
    pub stalls: AtomicU64,
    pub not_run: AtomicU64,
    pub unknown: AtomicU64,
    pub still_in_progress: AtomicU64,
    pub client_errors: AtomicU64,
}

pub struct PaymentOptions {
    pub workers: u32,
    pub node_urls: Vec<String>,
    pub lease: Duration,
    pub careless: bool,
}

/// Starts the workers; they run until `stop`. Join the handles.
pub fn start_workers(
    options: &PaymentOptions,
    rng: &mut Rng,
    ledger: Arc<Ledger>,
    tally: Arc<PaymentTally>,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let recent: Arc<Mutex<Vec<String>>> = Arc::default();
    let next_order = Arc::new(AtomicU64::new(0));
    (0..options.workers)
        .map(|w| {
            let mut rng = rng.fork(10_000 + u64::from(w));
            let (ledger, tally, stop) = (ledger.clone(), tally.clone(), stop.clone());
            let (recent, next_order) = (recent.clone(), next_order.clone());
            let urls = options.node_urls.clone();
            let (lease, careless) = (options.lease, options.careless);
            std::thread::spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("payments worker {w}: {e}");
                        return;
                    }
                };
                let config = ClientConfig {
                    request_timeout: Duration::from_secs(3),
                    retry_for: Duration::from_secs(5),
                    api_key: crate::client_keys::keys().map(|k| ApiKey::new(&k.client)),
                    tls: crate::client_tls::tls()
                        .map(|t| t.client.clone())
                        .unwrap_or_default(),
                    ..ClientConfig::default()
                };
                let client = match Client::with_config(urls, config) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("payments worker {w}: {e}");
                        return;
                    }
                };
                let worker = Worker {
                    client: &client,
                    ledger: &ledger,
                    tally: &tally,
                    lease,
                    careless,
                };
                runtime.block_on(async {
                    while !stop.load(Ordering::SeqCst) {
                        let order = pick_order(&mut rng, &recent, &next_order);
                        worker.pay(&order, &mut rng).await;
                        tokio::time::sleep(Duration::from_millis(rng.between(5, 40))).await;
                    }
                    client.close().await;
                });
            })
        })
        .collect()
}

/// A new order, or (two times in five) one recently paid or being paid:
/// a customer's retry, possibly while the first attempt is still running.
fn pick_order(rng: &mut Rng, recent: &Mutex<Vec<String>>, next: &AtomicU64) -> String {
    let mut recent = recent.lock().unwrap_or_else(PoisonError::into_inner);
    if !recent.is_empty() && rng.chance(0.4) {
        return rng.pick(&recent).clone();
    }
    let order = format!("order-{}", next.fetch_add(1, Ordering::SeqCst));
    recent.push(order.clone());
    if recent.len() > 40 {
        recent.remove(0);
    }
    order
}

struct Worker<'a> {
    client: &'a Client,
    ledger: &'a Ledger,
    tally: &'a PaymentTally,
    lease: Duration,
    careless: bool,
}

impl Worker<'_> {
    async fn pay(&self, order: &str, rng: &mut Rng) {
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let options = ReserveOptions::new()
            .fingerprint(format!("sha256:{order}"))
            .lease(self.lease)
            .wait(Duration::from_secs(2));
        // Decided up front: the closures cannot borrow the generator.
        let stall = rng.chance(0.03).then(|| {
            Duration::from_millis(rng.between(
                self.lease.as_millis() as u64 + 200,
                self.lease.as_millis() as u64 * 2,
            ))
        });
        let latency = Duration::from_millis(rng.between(1, 30));
        if self.careless {
            return self.pay_carelessly(order, options, stall, latency).await;
        }
        let result = self
            .client
            .run_once(
                "payments",
                order,
                options,
                |token| async move {
                    self.slow_downstream(stall, latency).await;
                    self.ledger.charge(order, token).map_err(|f| {
                        self.tally.fenced.fetch_add(1, Ordering::Relaxed);
                        RunError::NotRun(f)
                    })
                },
                |token, _previous| async move {
                    self.tally.reconciliations.fetch_add(1, Ordering::Relaxed);
                    let found = self.ledger.reconcile(order, token);
                    if found.is_some() {
                        self.tally.reconciled_found.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, Fenced>(found)
                },
            )
            .await;
        let counter = match result {
            Ok(_) => &self.tally.answered,
            Err(RunOnceError::NotRun(_)) => &self.tally.not_run,
            Err(RunOnceError::Unknown(_)) => &self.tally.unknown,
            Err(RunOnceError::StillInProgress) => &self.tally.still_in_progress,
            Err(RunOnceError::Reconcile(_) | RunOnceError::Client(_)) => &self.tally.client_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A charge through a slow downstream; a stalled worker blocks its
    /// whole thread, heartbeats included.
    async fn slow_downstream(&self, stall: Option<Duration>, latency: Duration) {
        if let Some(stall) = stall {
            self.tally.stalls.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(stall);
        }
        tokio::time::sleep(latency).await;
    }

    /// Without the committing mark: reserve, charge, complete.
    async fn pay_carelessly(
        &self,
        order: &str,
        options: ReserveOptions,
        stall: Option<Duration>,
        latency: Duration,
    ) {
        let lease = match self.client.reserve("payments", order, &options).await {
            Ok(Reservation::Owned(lease) | Reservation::TakenOver { lease, .. }) => lease,
            Ok(Reservation::Completed { .. }) => {
                self.tally.answered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Reservation::InProgress { .. }) => {
                self.tally.still_in_progress.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(_) => {
                self.tally.client_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.slow_downstream(stall, latency).await;
        match self.ledger.charge(order, lease.token()) {
            Ok(receipt) => {
                let done = lease.complete(receipt).await;
                let counter = if done.is_ok() {
                    &self.tally.answered
                } else {
                    &self.tally.client_errors
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(Fenced) => {
                self.tally.fenced.fetch_add(1, Ordering::Relaxed);
                let _ = lease.release().await;
            }
        }
    }
}

/// The report of a payments run.
pub fn summary(ledger: &Ledger, tally: &PaymentTally, careless: bool) -> (String, bool) {
    let (orders, charges, twice) = ledger.totals();
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut s = format!(
        "payments: {} workers' requests {}, answered (charged or replayed) {}\n\
         orders charged {orders}, charges {charges}, orders charged twice or more {}{}\n\
         committing takeovers reconciled {} (charge found downstream {}, not found {}), \
         late charges fenced {}, workers stalled past their lease {}\n\
         gave up: not run {}, maybe run (left committing) {}, still in progress {}, \
         client errors {}\n",
        if careless { "careless" } else { "disciplined" },
        n(&tally.requests),
        n(&tally.answered),
        twice.len(),
        if careless {
            " (careless workers: double charges are expected)"
        } else {
            ""
        },
        n(&tally.reconciliations),
        n(&tally.reconciled_found),
        n(&tally.reconciliations) - n(&tally.reconciled_found),
        n(&tally.fenced),
        n(&tally.stalls),
        n(&tally.not_run),
        n(&tally.unknown),
        n(&tally.still_in_progress),
        n(&tally.client_errors),
    );
    for (order, tokens) in twice.iter().take(20) {
        s.push_str(&format!(
            "  charged twice: {order} under tokens {tokens:?}\n"
        ));
    }
    let valid = twice.is_empty();
    s.push_str(if valid {
        "\nNO DOUBLE CHARGES\n"
    } else {
        "\nDOUBLE CHARGES\n"
    });
    (s, valid)
}
