//! Tiny in-process stand-ins for the servers, so the generator can be run
//! end to end without any external service: an HTTP server that answers
//! idem's reserve/complete and etcd's txn/put/range from one in-memory map
//! (and `POST /charges` as a plain service would),
//! and a RESP server that answers SET (NX) and GET.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Store {
    /// key → completed?
    keys: Mutex<HashMap<String, bool>>,
    counter: AtomicU64,
    /// Requests served, by path kind.
    requests: Mutex<HashMap<&'static str, u64>>,
}

/// A running fake server; it stops when the test process exits.
pub struct FakeServer {
    pub addr: SocketAddr,
    store: Arc<Store>,
}

impl FakeServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self, kind: &str) -> u64 {
        self.store
            .requests
            .lock()
            .unwrap()
            .get(kind)
            .copied()
            .unwrap_or(0)
    }
}

/// Starts the fake HTTP server (idem and etcd routes) on a thread of its own.
pub fn start_http() -> FakeServer {
    start(|listener, store| async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer_http(store.clone(), request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Starts the fake Redis server on a thread of its own.
pub fn start_redis() -> FakeServer {
    start(|listener, store| async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve_redis(stream, store.clone()));
        }
    })
}

fn start<F, Fut>(serve: F) -> FakeServer
where
    F: FnOnce(TcpListener, Arc<Store>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let store = Arc::new(Store::default());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread_store = store.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener, thread_store).await;
        });
    });
    FakeServer {
        addr: addr_rx.recv().unwrap(),
        store,
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn answer_http(
    store: Arc<Store>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let body: Value = match request.into_body().collect().await {
        Ok(collected) => serde_json::from_slice(&collected.to_bytes()).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let kind = match segments.as_slice() {
        ["v1", "ns", _, "keys", _, action] => match *action {
            "reserve" => "reserve",
            "complete" => "complete",
            _ => "other",
        },
        ["v3", "kv", "txn"] => "txn",
        ["v3", "kv", "put"] => "put",
        ["v3", "kv", "range"] => "range",
        ["charges"] => "charges",
        _ => "other",
    };
    *store.requests.lock().unwrap().entry(kind).or_insert(0) += 1;
    let token = store.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let mut keys = store.keys.lock().unwrap();
    let response = match kind {
        "reserve" => {
            let key = segments[4].to_string();
            match keys.get(&key) {
                None => {
                    keys.insert(key, false);
                    reply(
                        201,
                        json!({"outcome": "reserved", "token": token, "lease_expires_at_ms": 1, "takeover": false}),
                    )
                }
                Some(false) => reply(
                    409,
                    json!({"outcome": "in_progress", "retry_after_ms": 1000}),
                ),
                Some(true) => reply(
                    200,
                    json!({"outcome": "completed", "response": {"status": 200}, "token": 1}),
                ),
            }
        }
        "complete" => {
            keys.insert(segments[4].to_string(), true);
            reply(
                200,
                json!({"outcome": "completed", "token": body["token"], "retain_until_ms": 1, "replayed": false}),
            )
        }
        "txn" => {
            let key = body["compare"][0]["key"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match keys.entry(key) {
                Entry::Occupied(_) => {
                    reply(200, json!({"header": {"revision": token.to_string()}}))
                }
                Entry::Vacant(vacant) => {
                    vacant.insert(false);
                    reply(
                        200,
                        json!({"header": {"revision": token.to_string()}, "succeeded": true, "responses": [{}]}),
                    )
                }
            }
        }
        "charges" => reply(201, json!({"charge": token})),
        "put" => {
            keys.insert(body["key"].as_str().unwrap_or_default().to_string(), true);
            reply(200, json!({"header": {"revision": token.to_string()}}))
        }
        "range" => {
            let key = body["key"].as_str().unwrap_or_default();
            if keys.contains_key(key) {
                reply(
                    200,
                    json!({"header": {}, "kvs": [{"key": key, "value": "dg=="}], "count": "1"}),
                )
            } else {
                reply(200, json!({"header": {}}))
            }
        }
        _ => reply(404, json!({"type": "urn:idem:problem:route-not-found"})),
    };
    Ok(response)
}

async fn serve_redis(stream: TcpStream, store: Arc<Store>) {
    let mut stream = BufReader::new(stream);
    while let Some(args) = read_command(&mut stream).await {
        let name = String::from_utf8_lossy(&args[0]).to_uppercase();
        *store
            .requests
            .lock()
            .unwrap()
            .entry(if name == "GET" { "get" } else { "set" })
            .or_insert(0) += 1;
        let key =
            String::from_utf8_lossy(args.get(1).map(Vec::as_slice).unwrap_or_default()).to_string();
        let answer: Vec<u8> = {
            let mut keys = store.keys.lock().unwrap();
            match name.as_str() {
                "SET"
                    if args.iter().any(|a| a.eq_ignore_ascii_case(b"NX"))
                        && keys.contains_key(&key) =>
                {
                    b"$-1\r\n".to_vec()
                }
                "SET" => {
                    keys.insert(key, true);
                    b"+OK\r\n".to_vec()
                }
                "GET" if keys.contains_key(&key) => b"$1\r\nv\r\n".to_vec(),
                "GET" => b"$-1\r\n".to_vec(),
                _ => b"-ERR unknown command\r\n".to_vec(),
            }
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}

async fn read_command(stream: &mut BufReader<TcpStream>) -> Option<Vec<Vec<u8>>> {
    let count: usize = read_line(stream).await?.strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let length: usize = read_line(stream).await?.strip_prefix('$')?.parse().ok()?;
        let mut data = vec![0; length + 2];
        stream.read_exact(&mut data).await.ok()?;
        data.truncate(length);
        args.push(data);
    }
    (count > 0).then_some(args)
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    let read = stream.read_line(&mut line).await.ok()?;
    (read > 0).then(|| line.trim_end().to_string())
}
