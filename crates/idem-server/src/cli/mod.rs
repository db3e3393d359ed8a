//! The command line: `idem start`, `idem dev`, `idem status`, `idem key`,
//! `idem cluster`, `idem proxy`, `idem bench`.

pub mod client;
pub mod dev;
pub mod key;
pub mod peers;
pub mod proxy;
pub mod start;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "idem",
    version,
    about = "A Raft-replicated idempotency key store"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run one node of a cluster.
    Start(start::StartArgs),
    /// Run a local three-node cluster (data under ./data) until Ctrl-C.
    Dev(dev::DevArgs),
    /// Show where a node stands in its cluster.
    Status(client::StatusArgs),
    /// Reserve, heartbeat, complete, release or read a key.
    Key(key::KeyArgs),
    /// List, add or remove cluster members.
    Cluster(client::ClusterArgs),
    /// Idempotency-Key reverse proxy in front of any HTTP service.
    Proxy(Box<idem_proxy::ProxyArgs>),
    /// Load-test idem, etcd or Redis with the same client.
    Bench(idem_bench::BenchArgs),
}

/// Which node to talk to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of any node's HTTP API (`idem key` takes several,
    /// comma-separated, and fails over between them).
    #[arg(
        long,
        env = "IDEM_URL",
        default_value = "http://127.0.0.1:8101",
        global = true
    )]
    pub url: String,
}
