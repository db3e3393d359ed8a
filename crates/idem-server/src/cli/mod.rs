//! The command line: `idem start`, `idem dev`, `idem status`, `idem key`,
//! `idem cluster`, `idem auth`, `idem certs`, `idem proxy`, `idem bench`.

pub mod auth;
pub mod certs;
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
    /// Create, list, rotate or revoke API keys (with an admin key).
    Auth(auth::AuthArgs),
    /// Create a cluster CA and node certificates for mutual TLS.
    Certs(certs::CertsArgs),
    /// Idempotency-Key reverse proxy in front of any HTTP service.
    Proxy(Box<idem_proxy::ProxyArgs>),
    /// Load-test idem, etcd or Redis with the same client.
    Bench(idem_bench::BenchArgs),
}

/// Which node to talk to, and with which API key.
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
    /// The API key to send (better: --api-key-file or the environment).
    #[arg(long, env = "IDEM_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// A file holding the API key to send (such as a data directory's
    /// admin.key).
    #[arg(long, env = "IDEM_API_KEY_FILE", global = true)]
    pub api_key_file: Option<std::path::PathBuf>,
    /// For https:// nodes: the CA certificate (PEM) to trust instead of
    /// the system's roots.
    #[arg(long, env = "IDEM_CA_CERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// A client certificate (PEM) for nodes that ask for one
    /// (`--tls-client-ca`), with --client-key.
    #[arg(long, env = "IDEM_CLIENT_CERT", global = true, requires = "client_key")]
    pub client_cert: Option<std::path::PathBuf>,
    #[arg(long, env = "IDEM_CLIENT_KEY", global = true, requires = "client_cert")]
    pub client_key: Option<std::path::PathBuf>,
}

impl Target {
    /// The API key given, if any.
    pub fn api_key(&self) -> Result<Option<idem_client::ApiKey>, String> {
        match (&self.api_key, &self.api_key_file) {
            (Some(_), Some(_)) => Err("give --api-key or --api-key-file, not both".into()),
            (Some(key), None) => Ok(Some(idem_client::ApiKey::new(key))),
            (None, Some(path)) => idem_client::ApiKey::from_file(path)
                .map(Some)
                .map_err(|e| format!("cannot read the API key in {}: {e}", path.display())),
            (None, None) => Ok(None),
        }
    }

    /// The `Authorization` header value for the key given, if any.
    pub fn authorization(&self) -> Result<Option<String>, String> {
        Ok(self.api_key()?.map(|k| format!("Bearer {}", k.expose())))
    }

    /// How to speak TLS to https:// nodes.
    pub fn tls(&self) -> Result<idem_client::ClientTls, String> {
        let identity = self.client_cert.as_deref().zip(self.client_key.as_deref());
        idem_client::ClientTls::from_files(self.ca_cert.as_deref(), identity)
            .map_err(|e| e.to_string())
    }

    /// `method url`, ready to send with the target's TLS and API key (the
    /// system's roots are read only for an https:// URL).
    pub fn request(&self, method: &str, url: &str) -> Result<ureq::Request, String> {
        let tls = self
            .tls()?
            .config_for(url.starts_with("https://"))
            .map_err(|e| e.to_string())?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(std::sync::Arc::new(tls))
            .build();
        let request = agent.request(method, url);
        Ok(match self.authorization()? {
            Some(value) => request.set("authorization", &value),
            None => request,
        })
    }
}
