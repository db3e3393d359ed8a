//! The idem processes under test: started inside their namespaces, each
//! under libfaketime with its own offset file (the wall clock can be moved,
//! the monotonic clock is left alone), and killed, paused, resumed and
//! restarted by the nemeses.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::HarnessError;
use crate::netns::TestNet;

pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
pub const HTTP_PORT: u16 = 8080;
pub const RAFT_PORT: u16 = 7070;

/// How a node is started.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub binary: PathBuf,
    /// `IDEM_PLANTED_BUG` for a deliberately broken build.
    pub planted_bug: Option<String>,
}

pub struct Nodes {
    net: TestNet,
    options: NodeOptions,
    dir: PathBuf,
    children: Mutex<Vec<Option<Child>>>,
}

impl Nodes {
    pub fn new(net: TestNet, options: NodeOptions, dir: &Path) -> Self {
        let count = net.node_ids().count();
        Nodes {
            net,
            options,
            dir: dir.to_path_buf(),
            children: Mutex::new((0..count).map(|_| None).collect()),
        }
    }

    /// Where node `node` keeps its data.
    pub fn data_dir(&self, node: u32) -> PathBuf {
        self.dir.join(format!("n{node}.data"))
    }

    pub fn ids(&self) -> Vec<u32> {
        self.net.node_ids().collect()
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// A cluster CA, a certificate per node (naming its IP) and one for the
    /// harness's clients, made with `idem certs`: the nodes speak mutual
    /// TLS on their Raft ports, and HTTPS asking for a client certificate
    /// on their API ports.
    pub fn make_certificates(&self) -> Result<(), HarnessError> {
        let dir = self.tls_dir();
        let ca = dir.join("ca");
        let run = |args: Vec<String>| -> Result<(), HarnessError> {
            let out = Command::new(&self.options.binary)
                .arg("certs")
                .args(&args)
                .output()
                .map_err(|e| HarnessError::io("idem certs", e))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(HarnessError::Command {
                    command: format!("idem certs {}", args.join(" ")),
                    detail: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
        };
        let path = |p: &Path| p.to_string_lossy().into_owned();
        if !ca.join("ca.pem").exists() {
            run(vec!["ca".into(), "--out".into(), path(&ca)])?;
        }
        if !dir.join("client.pem").exists() {
            run(vec![
                "client".into(),
                "--ca".into(),
                path(&ca),
                "--name".into(),
                "client".into(),
                "--out".into(),
                path(&dir),
            ])?;
        }
        for n in self.net.node_ids() {
            if !dir.join(format!("n{n}.pem")).exists() {
                run(vec![
                    "node".into(),
                    "--ca".into(),
                    path(&ca),
                    "--name".into(),
                    format!("n{n}"),
                    "--host".into(),
                    TestNet::node_ip(n),
                    "--out".into(),
                    path(&dir),
                ])?;
            }
        }
        Ok(())
    }

    pub fn http_addr(node: u32) -> String {
        format!("{}:{HTTP_PORT}", TestNet::node_ip(node))
    }

    fn peers(&self) -> String {
        self.net
            .node_ids()
            .map(|n| {
                let ip = TestNet::node_ip(n);
                format!("{n}={ip}:{RAFT_PORT}/{ip}:{HTTP_PORT}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn clock_file(&self, node: u32) -> PathBuf {
        self.dir.join(format!("n{node}.clock"))
    }

    pub fn log_file(&self, node: u32) -> PathBuf {
        self.dir.join(format!("n{node}.log"))
    }

    /// Sets a node's wall-clock offset from true time, in seconds (picked up
    /// by libfaketime within a second).
    pub fn set_clock_offset(&self, node: u32, offset_secs: i64) -> Result<(), HarnessError> {
        let path = self.clock_file(node);
        std::fs::write(&path, format!("{offset_secs:+}\n"))
            .map_err(|e| HarnessError::io(path.display(), e))
    }

    /// Starts (or restarts) a node on its existing data directory.
    pub fn start(&self, node: u32) -> Result<(), HarnessError> {
        let data = self.data_dir(node);
        let log_path = self.log_file(node);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| HarnessError::io(log_path.display(), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| HarnessError::io(log_path.display(), e))?;
        if !self.clock_file(node).exists() {
            self.set_clock_offset(node, 0)?;
        }
        let ip = TestNet::node_ip(node);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.net.node_ns(node)])
            .arg(&self.options.binary)
            .args(["start", "--id", &node.to_string()])
            .args(["--http", &format!("{ip}:{HTTP_PORT}")])
            .args(["--raft", &format!("{ip}:{RAFT_PORT}")])
            .args(["--peers", &self.peers()])
            .arg("--data")
            .arg(&data)
            .arg("--peer-ca")
            .arg(self.tls_dir().join("ca").join("ca.pem"))
            .arg("--peer-cert")
            .arg(self.tls_dir().join(format!("n{node}.pem")))
            .arg("--peer-key")
            .arg(self.tls_dir().join(format!("n{node}.key")))
            .arg("--tls-cert")
            .arg(self.tls_dir().join(format!("n{node}.pem")))
            .arg("--tls-key")
            .arg(self.tls_dir().join(format!("n{node}.key")))
            .arg("--tls-client-ca")
            .arg(self.tls_dir().join("ca").join("ca.pem"))
            .env("RUST_LOG", "info,openraft=warn")
            .env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME_TIMESTAMP_FILE", self.clock_file(node))
            .env("FAKETIME_CACHE_DURATION", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        match &self.options.planted_bug {
            Some(bug) => cmd.env("IDEM_PLANTED_BUG", bug),
            None => cmd.env_remove("IDEM_PLANTED_BUG"),
        };
        let child = cmd.spawn().map_err(|e| HarnessError::Command {
            command: format!("start node {node}"),
            detail: e.to_string(),
        })?;
        self.with_children(|c| c[index(node)] = Some(child));
        Ok(())
    }

    /// kill -9; false if the node was not running.
    pub fn kill(&self, node: u32) -> bool {
        let child = self.with_children(|c| c[index(node)].take());
        match child {
            Some(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
                true
            }
            None => false,
        }
    }

    pub fn is_running(&self, node: u32) -> bool {
        self.with_children(|c| c[index(node)].is_some())
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`).
    pub fn pause(&self, node: u32, stop: bool) {
        let signal = if stop { libc::SIGSTOP } else { libc::SIGCONT };
        self.with_children(|c| {
            if let Some(child) = &c[index(node)] {
                // SAFETY: sends a signal to our own child process.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, signal);
                }
            }
        });
    }

    /// Stops every node (SIGCONT first, so a paused one can die).
    pub fn kill_all(&self) {
        for node in self.ids() {
            self.pause(node, false);
            self.kill(node);
        }
    }

    /// A node that exited on its own (a crash) since the last look.
    pub fn exited(&self) -> Vec<(u32, String)> {
        self.with_children(|c| {
            let mut out = Vec::new();
            for (i, slot) in c.iter_mut().enumerate() {
                if let Some(child) = slot {
                    if let Ok(Some(status)) = child.try_wait() {
                        out.push((i as u32 + 1, status.to_string()));
                        *slot = None;
                    }
                }
            }
            out
        })
    }

    fn with_children<T>(&self, f: impl FnOnce(&mut Vec<Option<Child>>) -> T) -> T {
        let mut guard = match self.children.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

fn index(node: u32) -> usize {
    node as usize - 1
}

/// What a node says of the cluster, from `GET /v1/cluster`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ClusterView {
    pub leader: Option<u32>,
}

/// Asks `node` who leads; `None` if it does not answer or knows no leader.
pub async fn leader_seen_by(node: u32) -> Option<u32> {
    let admin = crate::client_keys::keys().map(|k| k.admin.clone());
    let mut conn = crate::http::Connection::new(Nodes::http_addr(node), Duration::from_millis(500))
        .with_key(admin);
    let reply = conn
        .send(hyper::Method::GET, "/v1/cluster", None)
        .await
        .ok()?;
    if reply.status != 200 {
        return None;
    }
    serde_json::from_slice::<ClusterView>(&reply.body)
        .ok()?
        .leader
}

/// The leader most nodes name, if any.
pub async fn current_leader(nodes: &[u32]) -> Option<u32> {
    let mut votes: Vec<u32> = Vec::new();
    for &n in nodes {
        if let Some(l) = leader_seen_by(n).await {
            votes.push(l);
        }
    }
    votes.sort_unstable();
    let mut best: Option<(u32, usize)> = None;
    for &v in &votes {
        let count = votes.iter().filter(|&&x| x == v).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((v, count));
        }
    }
    best.map(|(v, _)| v)
}

/// Waits until every node answers `/ready`.
pub async fn wait_ready(nodes: &[u32], within: Duration) -> Result<(), HarnessError> {
    let deadline = tokio::time::Instant::now() + within;
    for &n in nodes {
        loop {
            let mut conn =
                crate::http::Connection::new(Nodes::http_addr(n), Duration::from_millis(500));
            if let Ok(r) = conn.send(hyper::Method::GET, "/ready", None).await {
                if r.status == 200 {
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(HarnessError::NotReady(format!(
                    "node {n} not ready after {within:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}
