//! `idem proxy`'s options, one list for both places they are set: flags
//! (each also an environment variable) and the `[proxy]` table of
//! `--config` (TOML, the flags' names with underscores). Any left unset on
//! the command line falls back to the file, then to the defaults
//! (precedence: flag, environment, file, default).

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyArgs {
    /// A TOML file whose [proxy] table sets any option below (other tables
    /// are left to the commands they belong to).
    #[arg(long, env = "IDEM_PROXY_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to serve on [default: 127.0.0.1:8080].
    #[arg(long, env = "IDEM_PROXY_LISTEN")]
    pub listen: Option<String>,
    /// The service behind the proxy, e.g. http://127.0.0.1:9000 (required).
    #[arg(long, env = "IDEM_PROXY_UPSTREAM")]
    pub upstream: Option<String>,
    /// idem nodes, comma-separated [default: http://127.0.0.1:8101,...8103].
    #[arg(long, env = "IDEM_PROXY_NODES", value_delimiter = ',')]
    pub nodes: Option<Vec<String>>,
    /// idem API key (a client key of --namespace); better given by
    /// --api-key-file or the environment than on the command line.
    #[arg(long, env = "IDEM_PROXY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A file holding the idem API key.
    #[arg(long, env = "IDEM_PROXY_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// For https:// idem nodes: the CA certificate (PEM) to trust instead
    /// of the system's roots.
    #[arg(long, env = "IDEM_PROXY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for idem nodes that ask for one, with
    /// --client-key.
    #[arg(long, env = "IDEM_PROXY_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, env = "IDEM_PROXY_CLIENT_KEY")]
    pub client_key: Option<PathBuf>,
    /// idem namespace the keys live in (required).
    #[arg(long, env = "IDEM_PROXY_NAMESPACE")]
    pub namespace: Option<String>,
    /// Guarded methods, comma-separated [default: POST,PATCH].
    #[arg(long, env = "IDEM_PROXY_METHODS", value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// The header carrying the key [default: Idempotency-Key].
    #[arg(long, env = "IDEM_PROXY_KEY_HEADER")]
    pub key_header: Option<String>,
    /// Pass guarded requests without a key through instead of answering 400.
    #[arg(long, env = "IDEM_PROXY_KEY_OPTIONAL", num_args = 0..=1, default_missing_value = "true")]
    pub key_optional: Option<bool>,
    /// A request header naming the caller, made part of the key.
    #[arg(long, env = "IDEM_PROXY_IDENTITY_HEADER")]
    pub identity_header: Option<String>,
    /// Request headers in the fingerprint, comma-separated [default: none].
    #[arg(long, env = "IDEM_PROXY_FINGERPRINT_HEADERS", value_delimiter = ',')]
    pub fingerprint_headers: Option<Vec<String>>,
    /// Response headers stored and replayed, comma-separated
    /// [default: content-type,content-location,location].
    #[arg(long, env = "IDEM_PROXY_STORED_HEADERS", value_delimiter = ',')]
    pub stored_headers: Option<Vec<String>>,
    /// What is stored: default (not 5xx, 408, 409, 425, 429) or everything.
    #[arg(long, env = "IDEM_PROXY_STORE")]
    pub store: Option<String>,
    /// How long a duplicate waits for the first answer [default: 5000].
    #[arg(long, env = "IDEM_PROXY_WAIT_MS")]
    pub wait_ms: Option<u64>,
    /// The lease, kept by heartbeats while the upstream works [default: 10000].
    #[arg(long, env = "IDEM_PROXY_LEASE_MS")]
    pub lease_ms: Option<u64>,
    /// How long answers are kept [default: the namespace's].
    #[arg(long, env = "IDEM_PROXY_RETAIN_MS")]
    pub retain_ms: Option<u64>,
    /// The longest the upstream may take [default: 60000].
    #[arg(long, env = "IDEM_PROXY_MAX_RUN_MS")]
    pub max_run_ms: Option<u64>,
    /// Largest guarded request body [default: 1048576].
    #[arg(long, env = "IDEM_PROXY_MAX_REQUEST_BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Largest answer body stored [default: 262144].
    #[arg(long, env = "IDEM_PROXY_MAX_STORED_BYTES")]
    pub max_stored_bytes: Option<usize>,
    /// When idem is unreachable: closed (503) or open (send unprotected).
    #[arg(long, env = "IDEM_PROXY_FAIL")]
    pub fail: Option<String>,
    /// The header carrying the fencing token upstream [default: idem-fencing-token].
    #[arg(long, env = "IDEM_PROXY_TOKEN_HEADER")]
    pub token_header: Option<String>,
    /// Send requests of unknown outcome to this upstream path instead of
    /// refusing them.
    #[arg(long, env = "IDEM_PROXY_RECONCILE_PATH")]
    pub reconcile_path: Option<String>,
    /// Serve /metrics and /health here (off unless set).
    #[arg(long, env = "IDEM_PROXY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
}
