//! Starts real `idem` processes as a local three-node cluster for end-to-end
//! tests, and talks to them over HTTP.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// An HTTP answer: status, the headers tests look at, and the JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub replayed: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
    pub raw: String,
}

fn reply(r: ureq::Response) -> Reply {
    let status = r.status();
    let content_type = r.header("content-type").unwrap_or("").to_string();
    let replayed = r.header("idempotent-replayed").map(str::to_string);
    let retry_after = r.header("retry-after").map(str::to_string);
    let raw = r.into_string().unwrap_or_default();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        replayed,
        retry_after,
        body,
        raw,
    }
}

/// The API key each node (by `host:port`) is asked with unless a request
/// says otherwise: its cluster's admin key, registered when it starts.
static KEYS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// The key registered for the node `url` points at.
pub fn key_for(url: &str) -> Option<String> {
    KEYS.lock().expect("keys").get(authority(url)).cloned()
}

/// Sends `key` to the node at `http` (`host:port`) unless a request says
/// otherwise.
pub fn register_key(http: &str, key: &str) {
    KEYS.lock()
        .expect("keys")
        .insert(http.to_string(), key.to_string());
}

/// The admin key in `data` (the bootstrapping node's data directory), once
/// the node at `url` accepts it (the bootstrap is applied); `None` after
/// 30 s.
pub fn wait_for_admin_key(url: &str, data: &std::path::Path) -> Option<String> {
    let file = data.join("admin.key");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let key = text.trim().to_string();
            let keys = format!("{url}/v1/auth/keys");
            if send_as("GET", &keys, Some(&key), None, None).is_ok_and(|r| r.status == 200) {
                return Some(key);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// How to speak TLS to each HTTPS node (by `host:port`), registered when
/// a cluster with `Options::https` starts.
static TLS: Mutex<BTreeMap<String, Arc<rustls::ClientConfig>>> = Mutex::new(BTreeMap::new());

/// Speaks TLS to the node at `http` (`host:port`) with `config`.
pub fn register_tls(http: &str, config: Arc<rustls::ClientConfig>) {
    TLS.lock().expect("tls").insert(http.to_string(), config);
}

/// An agent for `url`: with the TLS registered for its node, if any.
fn agent(url: &str) -> ureq::Agent {
    let builder = ureq::AgentBuilder::new().timeout(Duration::from_secs(15));
    match TLS.lock().expect("tls").get(authority(url)) {
        Some(config) => builder.tls_config(config.clone()).build(),
        None => builder.build(),
    }
}

/// Sends a request; `Err` only when no HTTP answer came back at all.
pub fn send(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Result<Reply, String> {
    send_as(method, url, key_for(url).as_deref(), content_type, body)
}

/// Sends a request with API key `key` (`None`: no `Authorization` at all).
pub fn send_as(
    method: &str,
    url: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Result<Reply, String> {
    let mut req = agent(url).request(method, url);
    if let Some(key) = key {
        req = req.set("authorization", &format!("Bearer {key}"));
    }
    if let Some(ct) = content_type {
        req = req.set("content-type", ct);
    }
    let result = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    match result {
        Ok(r) => Ok(reply(r)),
        Err(ureq::Error::Status(_, r)) => Ok(reply(r)),
        Err(e) => Err(e.to_string()),
    }
}

pub fn post(url: &str, body: Value) -> Result<Reply, String> {
    send(
        "POST",
        url,
        Some("application/json"),
        Some(&body.to_string()),
    )
}

/// POSTs JSON with extra headers; panics only when no HTTP answer came.
pub fn post_with_headers(url: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut req = agent(url).post(url).set("content-type", "application/json");
    if let Some(key) = key_for(url) {
        req = req.set("authorization", &format!("Bearer {key}"));
    }
    for (name, value) in headers {
        req = req.set(name, value);
    }
    match req.send_string(&body.to_string()) {
        Ok(r) => reply(r),
        Err(ureq::Error::Status(_, r)) => reply(r),
        Err(e) => panic!("{url}: {e}"),
    }
}

pub fn get(url: &str) -> Result<Reply, String> {
    send("GET", url, None, None)
}

/// A record as `GET` shows it, without what is judged at the read's time
/// (`lease_expired` and the `*_remaining_ms`): the facts two reads of an
/// unchanged record agree on.
pub fn record_facts(mut record: Value) -> Value {
    if let Some(fields) = record.as_object_mut() {
        fields.retain(|name, _| name != "lease_expired" && !name.ends_with("_remaining_ms"));
    }
    record
}

/// A port that is free now, taken below the kernel's ephemeral range
/// (32768-60999 by default). A port from `bind(0)` comes from that range, and
/// the outgoing connections of the other clusters running in parallel draw
/// their source ports from it too, so a node could find "its" port taken
/// before it listens.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let first = 20_000 + (std::process::id() % 400) as u16 * 30;
    let _ = NEXT.compare_exchange(0, first, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Node {
    pub id: u64,
    pub http: String,
    pub raft: String,
    pub data: PathBuf,
    /// libfaketime's offset file, when the node runs under libfaketime.
    pub clock_file: Option<PathBuf>,
    child: Mutex<Option<Child>>,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The admin key node 1 drew when it bootstrapped the cluster.
    pub admin_key: String,
    peers: String,
    args: Vec<String>,
    node_args: Vec<Vec<String>>,
    https: bool,
    _dir: tempfile::TempDir,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run every node under libfaketime, with an offset file per node.
    pub faketime: bool,
    /// Extra `idem start` arguments for every node.
    pub args: Vec<String>,
    /// Extra `idem start` arguments for node `i` (index 0-3), after `args`.
    pub node_args: Vec<Vec<String>>,
    /// The nodes serve HTTPS (their `node_args` say how): requests go to
    /// https:// URLs with this TLS.
    pub https: Option<Arc<rustls::ClientConfig>>,
}

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        // Three members and one spare (not started) for membership tests.
        let nodes: Vec<Node> = (1..=4u64)
            .map(|id| Node {
                id,
                http: format!("127.0.0.1:{}", free_port()),
                raft: format!("127.0.0.1:{}", free_port()),
                data: dir.path().join(format!("node{id}")),
                clock_file: options
                    .faketime
                    .then(|| dir.path().join(format!("clock{id}"))),
                child: Mutex::new(None),
            })
            .collect();
        let peers = nodes[..3]
            .iter()
            .map(|n| format!("{}={}/{}", n.id, n.raft, n.http))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            nodes,
            admin_key: String::new(),
            peers,
            args: options.args.clone(),
            node_args: options.node_args.clone(),
            https: options.https.is_some(),
            _dir: dir,
        };
        if let Some(tls) = &options.https {
            for n in &cluster.nodes {
                register_tls(&n.http, tls.clone());
            }
        }
        for i in 0..3 {
            if let Some(f) = &cluster.nodes[i].clock_file {
                std::fs::write(f, "+0\n").expect("clock file");
            }
            cluster.spawn(i);
        }
        for i in 0..3 {
            cluster.wait_ready(i);
        }
        cluster.admin_key = cluster.wait_for_admin_key();
        let mut keys = KEYS.lock().expect("keys");
        for n in &cluster.nodes {
            keys.insert(n.http.clone(), cluster.admin_key.clone());
        }
        drop(keys);
        cluster
    }

    fn wait_for_admin_key(&self) -> String {
        wait_for_admin_key(&self.url(0), &self.nodes[0].data)
            .unwrap_or_else(|| panic!("the admin key never worked:\n{}", self.log(0)))
    }

    /// A new key made with the admin key: `role`, in `namespaces` (for a
    /// client), expiring after `expires_in_s` if given.
    pub fn create_key(&self, role: &str, namespaces: &[&str], expires_in_s: Option<u64>) -> String {
        let mut body = json!({"name": format!("test {role}"), "role": role});
        if !namespaces.is_empty() {
            body["namespaces"] = json!(namespaces);
        }
        if let Some(s) = expires_in_s {
            body["expires_in_s"] = json!(s);
        }
        let r = post(&format!("{}/v1/auth/keys", self.url(0)), body).expect("create key");
        assert_eq!(r.status, 201, "{r:?}");
        r.body["key"].as_str().expect("key").to_string()
    }

    fn spawn(&self, i: usize) {
        self.spawn_with(i, &self.peers, &[]);
    }

    /// Starts the spare node (index 3) empty, waiting to be added with
    /// `POST /v1/cluster/members`.
    pub fn start_joining(&self, i: usize) {
        let n = &self.nodes[i];
        let me = format!("{}={}/{}", n.id, n.raft, n.http);
        self.spawn_with(i, &me, &["--join"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !get(&format!("{}/health", self.url(i))).is_ok_and(|r| r.status == 200) {
            assert!(
                Instant::now() < deadline,
                "joining node did not start:\n{}",
                self.log(i)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn_with(&self, i: usize, peers: &str, extra: &[&str]) {
        let node = &self.nodes[i];
        std::fs::create_dir_all(&node.data).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.data.join("idem.log"))
            .expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idem"));
        cmd.args([
            "start",
            "--id",
            &node.id.to_string(),
            "--http",
            &node.http,
            "--raft",
            &node.raft,
            "--peers",
            peers,
        ])
        .arg("--data")
        .arg(&node.data)
        .args(&self.args)
        .args(self.node_args.get(i).into_iter().flatten())
        .args(extra)
        .env("RUST_LOG", "info,openraft=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
        if let Some(f) = &node.clock_file {
            cmd.env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME_TIMESTAMP_FILE", f)
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        *self.nodes[i].child.lock().expect("lock") = Some(cmd.spawn().expect("start idem"));
    }

    pub fn url(&self, i: usize) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.nodes[i].http)
    }

    pub fn key_url(&self, i: usize, ns: &str, key: &str, action: &str) -> String {
        if action.is_empty() {
            format!("{}/v1/ns/{ns}/keys/{key}", self.url(i))
        } else {
            format!("{}/v1/ns/{ns}/keys/{key}/{action}", self.url(i))
        }
    }

    pub fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(&format!("{}/ready", self.url(i))).is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {} did not become ready:\n{}", i + 1, self.log(i));
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].data.join("idem.log")).unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill(&self, i: usize) {
        let child = self.nodes[i].child.lock().expect("lock").take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready(i);
    }

    /// Stops every member at once (kill -9) and starts them all again; a
    /// single node cannot become ready without a majority, so all three are
    /// started before waiting.
    pub fn restart_all(&self) {
        for i in 0..3 {
            self.kill(i);
        }
        for i in 0..3 {
            self.spawn(i);
        }
        for i in 0..3 {
            self.wait_ready(i);
        }
    }

    /// How node `i`'s process ended, if it has (without waiting).
    pub fn exit_status(&self, i: usize) -> Option<std::process::ExitStatus> {
        let mut child = self.nodes[i].child.lock().expect("lock");
        child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.lock().expect("lock").is_some()
    }

    pub fn status(&self, i: usize) -> Option<Value> {
        get(&format!("{}/v1/cluster", self.url(i)))
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
    }

    /// Index (0-based) of the leader, as the running nodes agree on it.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            for i in 0..self.nodes.len() {
                if !self.is_running(i) {
                    continue;
                }
                if let Some(s) = self.status(i) {
                    if let Some(id) = s["leader"].as_u64() {
                        if let Some(j) = self.nodes.iter().position(|n| n.id == id) {
                            if self.is_running(j)
                                && self.status(j).is_some_and(|s| s["state"] == "Leader")
                            {
                                return j;
                            }
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no leader");
    }

    /// Moves node `i`'s wall clock to `offset_secs` from true time.
    pub fn set_clock_offset(&self, i: usize, offset_secs: i64) {
        let f = self.nodes[i]
            .clock_file
            .as_ref()
            .expect("node runs under libfaketime");
        std::fs::write(f, format!("{offset_secs:+}\n")).expect("clock file");
    }

    pub fn reserve(&self, i: usize, ns: &str, key: &str, body: Value) -> Reply {
        post(&self.key_url(i, ns, key, "reserve"), body).expect("reserve answered")
    }

    /// Reserves `threads` x `each` fresh keys named `{prefix}-{thread}-{n}`
    /// on node `i`, from that many threads at once; every one must be
    /// granted.
    pub fn reserve_fresh_keys(
        self: &Arc<Self>,
        i: usize,
        prefix: &str,
        threads: usize,
        each: usize,
    ) {
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let (c, prefix) = (self.clone(), prefix.to_string());
                std::thread::spawn(move || {
                    for n in 0..each {
                        let key = format!("{prefix}-{t}-{n}");
                        let r = c.reserve(i, "bulk", &key, json!({"fingerprint": "fp"}));
                        assert_eq!(r.status, 201, "{r:?}");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
    }

    pub fn complete(&self, i: usize, ns: &str, key: &str, token: u64, response: Value) -> Reply {
        post(
            &self.key_url(i, ns, key, "complete"),
            json!({"token": token, "response": response}),
        )
        .expect("complete answered")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let mut keys = KEYS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for n in &self.nodes {
            keys.remove(&n.http);
        }
    }
}
