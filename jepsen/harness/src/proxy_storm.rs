//! The proxy workload: a storm of retried requests through three `idem
//! proxy` processes in front of one upstream, while the nemeses partition,
//! kill, pause and skew the idem nodes. It asks what a team that put the
//! proxy in front of its payments API would: was any request carried out
//! twice, and did every caller that got an answer get the same one?
//!
//! The upstream is an HTTP server in this process (the clients' namespace):
//! a ledger that charges whatever it is sent (it does not deduplicate), one
//! charge per call, and fences by the proxy's token (a charge under a token
//! below one it has seen for the order is refused, 409). Its callers can ask
//! it to fail before charging (500, so the proxy stores nothing) or to stall
//! after charging past the proxy's maximum run time (so the outcome is
//! unknown to the proxy). Workers send a new order or retry a recent one
//! (a customer's retry, perhaps while the first is still running), each
//! through a random proxy, and retry it as a client would until it gets an
//! answer: on 409, on 500, on 502 upstream-unavailable, on 503 and on a
//! lost connection; an unknown outcome ends the order's tries.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::error::HarnessError;
use crate::rng::Rng;

/// The proxies' settings: leases and runs short enough that stalls and
/// takeovers happen many times a minute.
const LEASE_MS: u64 = 2_000;
const MAX_RUN_MS: u64 = 2_000;
const WAIT_MS: u64 = 2_000;

#[derive(Default)]
struct Order {
    fence: u64,
    charges: u64,
}

/// The upstream's books, per order.
#[derive(Default)]
pub struct Upstream {
    orders: Mutex<HashMap<String, Order>>,
    calls: AtomicU64,
    fenced: AtomicU64,
}

impl Upstream {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Order>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One call: fail before charging, refuse a stale token, or charge.
    fn call(&self, order: &str, token: Option<u64>, fail: bool) -> (u16, String) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if fail {
            return (500, "{\"error\":\"failed before charging\"}".into());
        }
        let mut orders = self.lock();
        let o = orders.entry(order.to_owned()).or_default();
        let token = token.unwrap_or(0);
        if token < o.fence {
            self.fenced.fetch_add(1, Ordering::Relaxed);
            return (409, format!("{{\"error\":\"stale token {token}\"}}"));
        }
        o.fence = token;
        o.charges += 1;
        (
            201,
            format!(
                "{{\"order\":\"{order}\",\"charge\":{},\"token\":{token}}}",
                o.charges
            ),
        )
    }

    /// (orders charged, charges, orders charged more than once).
    fn totals(&self) -> (usize, u64, Vec<(String, u64)>) {
        let orders = self.lock();
        let charged = orders.values().filter(|o| o.charges > 0).count();
        let charges = orders.values().map(|o| o.charges).sum();
        let mut twice: Vec<(String, u64)> = orders
            .iter()
            .filter(|(_, o)| o.charges > 1)
            .map(|(k, o)| (k.clone(), o.charges))
            .collect();
        twice.sort();
        (charged, charges, twice)
    }
}

/// Serves the upstream on a free loopback port until the runtime ends.
pub async fn start_upstream(upstream: Arc<Upstream>) -> Result<SocketAddr, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| HarnessError::io("upstream listener", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HarnessError::io("upstream listener", e))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(upstream.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn answer(
    upstream: Arc<Upstream>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let order = header("idempotency-key")
        .unwrap_or("")
        .trim_matches('"')
        .to_owned();
    let token = header("idem-fencing-token").and_then(|t| t.parse().ok());
    let fail = header("x-fail") == Some("500");
    let latency: u64 = header("x-latency-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stall: u64 = header("x-stall-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (status, body) = upstream.call(&order, token, fail);
    tokio::time::sleep(Duration::from_millis(
        latency + if status == 201 { stall } else { 0 },
    ))
    .await;
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Starts three `idem proxy` processes, each trying the nodes from a
/// different one first; their logs go to `out/proxyN.log`.
pub fn start_proxies(
    binary: &Path,
    node_urls: &[String],
    api_key: Option<&str>,
    upstream: SocketAddr,
    out: &Path,
) -> Result<Vec<(SocketAddr, Child)>, HarnessError> {
    let mut proxies = Vec::new();
    for i in 0..3 {
        let listen = free_loopback_addr()?;
        let nodes: Vec<String> = (0..node_urls.len())
            .map(|j| node_urls[(i + j) % node_urls.len()].clone())
            .collect();
        let log_path = out.join(format!("proxy{}.log", i + 1));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| HarnessError::io(log_path.display(), e))?;
        let err = log
            .try_clone()
            .map_err(|e| HarnessError::io(log_path.display(), e))?;
        let mut command = Command::new(binary);
        if let Some(key) = api_key {
            command.env("IDEM_PROXY_API_KEY", key);
        }
        if let Some(tls) = crate::client_tls::tls() {
            command
                .env("IDEM_PROXY_CA_CERT", &tls.ca)
                .env("IDEM_PROXY_CLIENT_CERT", &tls.cert)
                .env("IDEM_PROXY_CLIENT_KEY", &tls.key);
        }
        let child = command
            .arg("proxy")
            .args(["--listen", &listen.to_string()])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--nodes", &nodes.join(",")])
            .args(["--namespace", "storm"])
            .args(["--lease-ms", &LEASE_MS.to_string()])
            .args(["--max-run-ms", &MAX_RUN_MS.to_string()])
            .args(["--wait-ms", &WAIT_MS.to_string()])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| HarnessError::io("idem proxy", e))?;
        proxies.push((listen, child));
    }
    Ok(proxies)
}

fn free_loopback_addr() -> Result<SocketAddr, HarnessError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| HarnessError::io("port", e))?;
    l.local_addr().map_err(|e| HarnessError::io("port", e))
}

/// What the workers saw, counted.
#[derive(Default)]
pub struct StormTally {
    pub orders: AtomicU64,
    pub requests: AtomicU64,
    pub executed: AtomicU64,
    pub replayed: AtomicU64,
    pub unknown: AtomicU64,
    pub in_progress: AtomicU64,
    pub upstream_500: AtomicU64,
    pub unavailable: AtomicU64,
    pub transport_errors: AtomicU64,
    pub gave_up: AtomicU64,
    pub other: AtomicU64,
    /// Orders whose 201 answers differed between callers.
    pub different_answers: Mutex<Vec<String>>,
    /// Answers that are none of the above (status and body).
    pub unexpected: Mutex<Vec<String>>,
}

/// Starts `workers` threads sending orders through `proxies` until `stop`.
pub fn start_workers(
    workers: u32,
    proxies: Vec<SocketAddr>,
    rng: &mut Rng,
    tally: Arc<StormTally>,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let recent: Arc<Mutex<Vec<String>>> = Arc::default();
    let next_order = Arc::new(AtomicU64::new(0));
    let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    (0..workers)
        .map(|w| {
            let mut rng = rng.fork(20_000 + u64::from(w));
            let (tally, stop, proxies) = (tally.clone(), stop.clone(), proxies.clone());
            let (recent, next_order, answers) =
                (recent.clone(), next_order.clone(), answers.clone());
            std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let Ok(tls) = idem_client::ClientTls::plain_http_config() else {
                    return;
                };
                let Ok(http) = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .tls_backend_preconfigured(tls)
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    while !stop.load(Ordering::SeqCst) {
                        let order = pick_order(&mut rng, &recent, &next_order, &tally);
                        send_order(&http, &proxies, &order, &mut rng, &tally, &answers, &stop)
                            .await;
                        tokio::time::sleep(Duration::from_millis(rng.between(5, 40))).await;
                    }
                });
            })
        })
        .collect()
}

/// A new order, or (two times in five) one recently sent.
fn pick_order(
    rng: &mut Rng,
    recent: &Mutex<Vec<String>>,
    next: &AtomicU64,
    tally: &StormTally,
) -> String {
    let mut recent = recent.lock().unwrap_or_else(PoisonError::into_inner);
    if !recent.is_empty() && rng.chance(0.4) {
        return rng.pick(&recent).clone();
    }
    tally.orders.fetch_add(1, Ordering::Relaxed);
    let order = format!("storm-{}", next.fetch_add(1, Ordering::SeqCst));
    recent.push(order.clone());
    if recent.len() > 40 {
        recent.remove(0);
    }
    order
}

/// Sends one order until it is answered, its outcome is unknown, or six
/// tries have failed.
async fn send_order(
    http: &reqwest::Client,
    proxies: &[SocketAddr],
    order: &str,
    rng: &mut Rng,
    tally: &StormTally,
    answers: &Mutex<HashMap<String, String>>,
    stop: &AtomicBool,
) {
    // The request itself (what the fingerprint covers) is fixed per order.
    let amount = order.bytes().map(u64::from).sum::<u64>() % 900 + 100;
    let body = format!("{{\"order\":\"{order}\",\"amount\":{amount}}}");
    for _ in 0..6 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        tally.requests.fetch_add(1, Ordering::Relaxed);
        let proxy = rng.pick(proxies);
        let mut req = http
            .post(format!("http://{proxy}/charges"))
            .header("idempotency-key", format!("\"{order}\""))
            .header("content-type", "application/json")
            .header("x-latency-ms", rng.between(1, 20).to_string())
            .body(body.clone());
        if rng.chance(0.05) {
            req = req.header("x-fail", "500");
        }
        if rng.chance(0.03) {
            req = req.header(
                "x-stall-ms",
                rng.between(MAX_RUN_MS + 200, MAX_RUN_MS * 2).to_string(),
            );
        }
        let reply = match req.send().await {
            Ok(r) => r,
            Err(_) => {
                tally.transport_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(rng.between(50, 500))).await;
                continue;
            }
        };
        let status = reply.status().as_u16();
        let replayed = reply.headers().get("idempotent-replayed").is_some();
        let text = reply.text().await.unwrap_or_default();
        let kind = problem_kind(&text);
        match (status, kind.as_str()) {
            (201, _) => {
                let counter = if replayed {
                    &tally.replayed
                } else {
                    &tally.executed
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let mut seen = answers.lock().unwrap_or_else(PoisonError::into_inner);
                match seen.get(order) {
                    Some(first) if *first != text => tally
                        .different_answers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!("{order}: {first} then {text}")),
                    Some(_) => {}
                    None => {
                        seen.insert(order.to_owned(), text);
                    }
                }
                return;
            }
            (502 | 504, "upstream-outcome-unknown") => {
                tally.unknown.fetch_add(1, Ordering::Relaxed);
                return;
            }
            (409, "request-in-progress") => {
                tally.in_progress.fetch_add(1, Ordering::Relaxed);
            }
            (500, _) => {
                tally.upstream_500.fetch_add(1, Ordering::Relaxed);
            }
            (503, "idem-unavailable") | (502, "upstream-unavailable") => {
                tally.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            // The upstream fenced a stale owner: not stored, try again.
            (409, "") => {
                tally.other.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                tally
                    .unexpected
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(format!("{order}: {status} {text}"));
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.between(50, 500))).await;
    }
    tally.gave_up.fetch_add(1, Ordering::Relaxed);
}

/// The problem kind of a problem document (`""` for anything else).
fn problem_kind(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .and_then(|t| t.strip_prefix("urn:idem:problem:").map(str::to_owned))
        .unwrap_or_default()
}

/// The report of a proxy run, and whether no order ran twice and every
/// caller of an order got the same answer.
pub fn summary(upstream: &Upstream, tally: &StormTally) -> (String, bool) {
    let (charged, charges, twice) = upstream.totals();
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let different = tally
        .different_answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let unexpected = tally
        .unexpected
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut s = format!(
        "proxy storm: 3 proxies, {} orders, {} requests, upstream calls {}, fenced {}\n\
         orders charged {charged}, charges {charges}, orders charged twice or more {}\n\
         answers: executed {}, replayed {}, outcome unknown {}, in progress (409) {}, \
         upstream 500 {}, unavailable (502/503) {}, stale-token 409 {}, lost connections {}, \
         orders given up after 6 tries {}\n\
         orders whose callers got different answers {}, unexpected answers {}\n",
        n(&tally.orders),
        n(&tally.requests),
        n(&upstream.calls),
        n(&upstream.fenced),
        twice.len(),
        n(&tally.executed),
        n(&tally.replayed),
        n(&tally.unknown),
        n(&tally.in_progress),
        n(&tally.upstream_500),
        n(&tally.unavailable),
        n(&tally.other),
        n(&tally.transport_errors),
        n(&tally.gave_up),
        different.len(),
        unexpected.len(),
    );
    for (order, c) in twice.iter().take(10) {
        s.push_str(&format!("  charged {c} times: {order}\n"));
    }
    for d in different.iter().chain(&unexpected).take(10) {
        s.push_str(&format!("  {d}\n"));
    }
    let valid = twice.is_empty() && different.is_empty() && unexpected.is_empty();
    (s, valid)
}
