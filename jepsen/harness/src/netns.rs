//! The test network: one network namespace per node and a hub namespace with
//! a bridge that links them. The harness itself (its clients and its probes)
//! runs inside the hub, so nothing outside these namespaces is touched.
//!
//! ```text
//!   idemj-n1 (10.77.0.1) ─┐
//!   idemj-n2 (10.77.0.2) ─┼─ br0 in idemj-hub (10.77.0.254: the clients)
//!   idemj-n3 (10.77.0.3) ─┘
//! ```
//!
//! Faults are iptables rules inside a node's own namespace, on packets from
//! other nodes only: clients always reach every node, as in Jepsen, and the
//! faults are between the replicas.

use std::process::Command;

use crate::error::HarnessError;

pub const HUB_IP: &str = "10.77.0.254";

/// The namespaces of one run.
#[derive(Debug, Clone)]
pub struct TestNet {
    prefix: String,
    nodes: u32,
}

impl TestNet {
    pub fn new(prefix: &str, nodes: u32) -> Self {
        TestNet {
            prefix: prefix.to_string(),
            nodes,
        }
    }

    pub fn node_ids(&self) -> impl Iterator<Item = u32> + Clone {
        1..=self.nodes
    }

    pub fn node_ns(&self, node: u32) -> String {
        format!("{}-n{node}", self.prefix)
    }

    pub fn hub_ns(&self) -> String {
        format!("{}-hub", self.prefix)
    }

    pub fn node_ip(node: u32) -> String {
        format!("10.77.0.{node}")
    }

    /// Creates the namespaces and links (after removing any left over from
    /// an earlier run that crashed).
    pub fn create(&self) -> Result<(), HarnessError> {
        self.destroy();
        let hub = self.hub_ns();
        run("ip", &["netns", "add", &hub])?;
        run("ip", &["-n", &hub, "link", "set", "lo", "up"])?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run(
            "ip",
            &[
                "-n",
                &hub,
                "addr",
                "add",
                &format!("{HUB_IP}/24"),
                "dev",
                "br0",
            ],
        )?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        for node in self.node_ids() {
            let ns = self.node_ns(node);
            let port = format!("v{node}");
            run("ip", &["netns", "add", &ns])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            run(
                "ip",
                &[
                    "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                    "netns", &hub,
                ],
            )?;
            let cidr = format!("{}/24", Self::node_ip(node));
            run("ip", &["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &hub, "link", "set", &port, "master", "br0"])?;
            run("ip", &["-n", &hub, "link", "set", &port, "up"])?;
        }
        Ok(())
    }

    /// Removes every namespace of the run (their links and rules go with
    /// them). Quiet: some may not exist.
    pub fn destroy(&self) {
        for node in self.node_ids() {
            let _ = quiet("ip", &["netns", "del", &self.node_ns(node)]);
        }
        let _ = quiet("ip", &["netns", "del", &self.hub_ns()]);
    }

    /// Moves the calling thread (and every thread it starts afterwards) into
    /// the hub namespace. Call before starting the async runtime.
    pub fn enter_hub(&self) -> Result<(), HarnessError> {
        let path = format!("/run/netns/{}", self.hub_ns());
        let file = std::fs::File::open(&path).map_err(|e| HarnessError::io(&path, e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace file descriptor that lives for
        // the duration of the call; it changes only this thread's namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(HarnessError::Command {
                command: format!("setns {path}"),
                detail: std::io::Error::last_os_error().to_string(),
            });
        }
        Ok(())
    }

    /// Drops every packet `node` receives from `from` (a one-way cut; cut
    /// both ways for a partition).
    pub fn drop_from(&self, node: u32, from: u32) -> Result<(), HarnessError> {
        self.iptables(
            node,
            &["-A", "INPUT", "-s", &Self::node_ip(from), "-j", "DROP"],
        )
    }

    /// Cuts the link between `a` and `b` both ways.
    pub fn cut(&self, a: u32, b: u32) -> Result<(), HarnessError> {
        self.drop_from(a, b)?;
        self.drop_from(b, a)
    }

    /// Drops each packet between nodes with probability `p`.
    pub fn lose(&self, p: f64) -> Result<(), HarnessError> {
        let p = format!("{p:.3}");
        for node in self.node_ids() {
            for from in self.node_ids().filter(|&f| f != node) {
                let ip = Self::node_ip(from);
                self.iptables(
                    node,
                    &[
                        "-A",
                        "INPUT",
                        "-s",
                        &ip,
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        &p,
                        "-j",
                        "DROP",
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Removes every fault rule.
    pub fn heal(&self) -> Result<(), HarnessError> {
        for node in self.node_ids() {
            self.iptables(node, &["-F", "INPUT"])?;
        }
        Ok(())
    }

    fn iptables(&self, node: u32, args: &[&str]) -> Result<(), HarnessError> {
        let ns = self.node_ns(node);
        let mut full = vec!["netns", "exec", &ns, "iptables", "-w"];
        full.extend_from_slice(args);
        run("ip", &full)
    }
}

/// Runs a command; its failure (with stderr) is an error.
pub fn run(program: &str, args: &[&str]) -> Result<(), HarnessError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| HarnessError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(HarnessError::Command {
        command: format!("{program} {}", args.join(" ")),
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

fn quiet(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
