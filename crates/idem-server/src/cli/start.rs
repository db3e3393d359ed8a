//! `idem start`: one node.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use idem_cluster::{ClusterConfig, ClusterNode, NodeAddr, NodeId, PeerTlsFiles};

use crate::auth_bootstrap::{BootstrapTask, DEFAULT_ADMIN_KEY_FILE};
use crate::cluster_backend::ClusterBackend;
use crate::http::{api_tls_acceptor, router, ApiLimits, ApiTlsFiles, AuthMode, ServeLimits};

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// This node's id (a positive number, unique in the cluster).
    #[arg(long)]
    pub id: NodeId,
    /// Data directory (created on first start).
    #[arg(long)]
    pub data: PathBuf,
    /// HTTP API listen address.
    #[arg(long, default_value = "127.0.0.1:8101")]
    pub http: String,
    /// Inter-node (Raft) listen address.
    #[arg(long, default_value = "127.0.0.1:7101")]
    pub raft: String,
    /// All members, this node included: `1=RAFT/HTTP,2=RAFT/HTTP,...`.
    /// Left out: a single-node cluster.
    #[arg(long, default_value = "")]
    pub peers: String,
    /// Tolerance of the clocks, in ms: followers refuse entries stamped this
    /// much further ahead than any node following the cluster-time rules
    /// could stamp; cluster time catches up to a majority's wall time only
    /// when it stays this much ahead (for 30 s); a member's wall clock this
    /// far from cluster time is logged as a warning.
    #[arg(long, default_value_t = 500)]
    pub max_clock_offset_ms: u64,
    /// Log entries between snapshots, at least (the log is purged behind a
    /// snapshot). A large state also waits until a quarter as many commands
    /// as it has records were applied.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// How often the leader purges records whose retention has ended.
    #[arg(long, default_value_t = 1_000)]
    pub purge_every_ms: u64,
    /// Start empty and wait to be added to an existing cluster
    /// (`idem cluster add`) instead of bootstrapping a new one.
    #[arg(long)]
    pub join: bool,
    /// Largest stored response body accepted by `complete`, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_response_bytes: usize,
    /// HTTP connections open at once; more wait to be accepted.
    #[arg(long, env = "IDEM_HTTP_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub http_max_connections: u64,
    /// How long a client may take to send a request's headers, in ms (also
    /// how long a kept-alive connection may sit idle).
    #[arg(long, env = "IDEM_HTTP_HEADER_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_ms: u64,
    /// How long a client may take to send a request's body, in ms (408
    /// after that).
    #[arg(long, env = "IDEM_HTTP_BODY_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub http_body_timeout_ms: u64,
    /// Raft heartbeat interval, in ms. Also the timeout of a replication
    /// call and of a linearizable read's quorum round.
    #[arg(long, env = "IDEM_HEARTBEAT_MS", default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in
    /// [min, max) ms starts an election; min must exceed the heartbeat.
    /// Every member must run with the same values: the leader serves reads
    /// without a quorum round for 0.9 x min after a quorum acknowledged it,
    /// counting on followers to refuse other candidates for max.
    #[arg(long, env = "IDEM_ELECTION_TIMEOUT_MIN_MS", default_value_t = 300)]
    pub election_timeout_min_ms: u64,
    #[arg(long, env = "IDEM_ELECTION_TIMEOUT_MAX_MS", default_value_t = 400)]
    pub election_timeout_max_ms: u64,
    /// Log entries the leader may have in flight at once. Commands proposed
    /// meanwhile share the next entry (up to 256 per entry), so they share
    /// one log write.
    #[arg(long, env = "IDEM_BATCHES_IN_FLIGHT", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub batches_in_flight: u64,
    /// Threads that run the node's async tasks (HTTP, Raft, forwarding).
    /// Default: one per CPU. Nodes that share a machine do better with a
    /// share each (`scripts/cluster.sh` gives each of its three a third):
    /// idle workers of several processes on the same cores cost wake-ups.
    #[arg(long, env = "IDEM_WORKER_THREADS",
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub worker_threads: Option<u64>,
    /// The cluster CA's certificate (PEM): with --peer-cert and --peer-key,
    /// the Raft port speaks mutual TLS and admits only nodes with a
    /// certificate this CA signed (see `idem certs`).
    #[arg(long, env = "IDEM_PEER_CA", requires_all = ["peer_cert", "peer_key"])]
    pub peer_ca: Option<PathBuf>,
    /// This node's certificate (PEM), signed by --peer-ca, naming the host
    /// of its --raft address.
    #[arg(long, env = "IDEM_PEER_CERT", requires = "peer_ca")]
    pub peer_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, env = "IDEM_PEER_KEY", requires = "peer_ca")]
    pub peer_key: Option<PathBuf>,
    /// The API's certificate (PEM) and, with --tls-key, HTTPS on --http.
    /// It must name the host clients call the node by.
    #[arg(long, env = "IDEM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "IDEM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// With HTTPS: a client must also present a certificate this CA signed
    /// (API keys are still asked for).
    #[arg(long, env = "IDEM_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Allow plain TCP between nodes on a non-loopback --raft address
    /// (anyone who reaches the port could then speak as a node).
    #[arg(long, env = "IDEM_INSECURE_TRANSPORT")]
    pub insecure_transport: bool,
    /// The cluster's name, part of the id a new cluster derives from its
    /// members (nodes of two clusters never talk to each other).
    #[arg(long, env = "IDEM_CLUSTER_NAME", default_value = "idem")]
    pub cluster_name: String,
    /// Serve the API without API keys. Only for a development cluster on
    /// this machine: refused unless the HTTP and Raft addresses are
    /// loopback addresses.
    #[arg(long, env = "IDEM_NO_AUTH")]
    pub no_auth: bool,
    /// The admin key of a new cluster: read from this file if it exists,
    /// otherwise drawn and written to it (only by the node that bootstraps
    /// the cluster: the lowest id of --peers, without --join). Default:
    /// admin.key in the data directory.
    #[arg(long, env = "IDEM_ADMIN_KEY_FILE")]
    pub admin_key_file: Option<PathBuf>,
}

/// Whether `addr` (`host:port`) is on the loopback interface.
fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Mutual TLS on the Raft port, if asked for; plain TCP only on a loopback
/// address or with `--insecure-transport`.
fn peer_tls(args: &StartArgs) -> Result<Option<PeerTlsFiles>, String> {
    match (&args.peer_ca, &args.peer_cert, &args.peer_key) {
        (Some(ca), Some(cert), Some(key)) => Ok(Some(PeerTlsFiles {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        })),
        _ if is_loopback(&args.raft) || args.insecure_transport => Ok(None),
        _ => Err(format!(
            "--raft {} is not a loopback address: give the node a certificate \
             (--peer-ca, --peer-cert, --peer-key; see `idem certs`) or, on a network you \
             trust, --insecure-transport",
            args.raft
        )),
    }
}

/// HTTPS on the API port, if asked for (the files are read now, so a bad
/// one stops the node before it joins anything).
fn api_tls(args: &StartArgs) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let files = ApiTlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: args.tls_client_ca.clone(),
    };
    api_tls_acceptor(&files).map(Some)
}

/// How the API asks for keys: `--no-auth` only on loopback addresses.
fn auth_mode(args: &StartArgs) -> Result<AuthMode, String> {
    if !args.no_auth {
        return Ok(AuthMode::Keys);
    }
    for (flag, addr) in [("--http", &args.http), ("--raft", &args.raft)] {
        if !is_loopback(addr) {
            return Err(format!(
                "--no-auth serves the API to anyone who can reach it, so it is only for a \
                 cluster on this machine; {flag} {addr} is not a loopback address"
            ));
        }
    }
    Ok(AuthMode::Off)
}

pub fn run(args: StartArgs) -> ExitCode {
    limit_malloc_arenas();
    init_logging();
    if let Err(e) = plant_bug_if_asked() {
        eprintln!("idem: {e}");
        return ExitCode::from(2);
    }
    // Storage calls run on the blocking pool; a bounded pool keeps the number
    // of threads (and their allocator arenas) small.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().max_blocking_threads(16);
    if let Some(workers) = args.worker_threads {
        builder.worker_threads(workers as usize);
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("idem: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idem: {e}");
            ExitCode::from(2)
        }
    }
}

/// The environment variable that plants a bug in a `planted-bugs` build.
const PLANTED_BUG_VAR: &str = "IDEM_PLANTED_BUG";

/// In a `planted-bugs` build, plants the bug `IDEM_PLANTED_BUG` names.
#[cfg(feature = "planted-bugs")]
fn plant_bug_if_asked() -> Result<(), String> {
    let Ok(name) = std::env::var(PLANTED_BUG_VAR) else {
        return Ok(());
    };
    let bug: idem_core::PlantedBug = name.parse()?;
    idem_core::plant_bug_in_process(bug);
    tracing::warn!("PLANTED BUG {bug:?}: this node is deliberately broken");
    Ok(())
}

/// A normal build refuses to start when asked for a planted bug, so that a
/// test expecting a broken node never silently runs a correct one.
#[cfg(not(feature = "planted-bugs"))]
fn plant_bug_if_asked() -> Result<(), String> {
    match std::env::var_os(PLANTED_BUG_VAR) {
        Some(_) => Err(format!(
            "{PLANTED_BUG_VAR} is set, but this build has no planted bugs \
             (build with --features planted-bugs)"
        )),
        None => Ok(()),
    }
}

/// Caps glibc's malloc at two arenas (unless `MALLOC_ARENA_MAX` is set).
///
/// By default glibc gives threads up to eight arenas per core, and an arena
/// hands freed memory back to the system only from its top. RocksDB's
/// memtables and block cache keep allocating and freeing on whichever
/// blocking-pool or RocksDB thread runs, so with ~15 arenas each kept its own
/// free space and RSS crept up by about 0.5-1 MiB/min long after the caches
/// were full (scripts/soak.sh). Two arenas hold far less idle memory, and
/// with two cores there is little lock contention to lose.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator parameters; this runs on
        // the main thread before any other thread is started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

async fn serve(args: StartArgs) -> Result<(), String> {
    let me = NodeAddr {
        raft: args.raft.clone(),
        http: args.http.clone(),
    };
    let mut members = crate::cli::peers::parse_peers(&args.peers)?;
    match members.get(&args.id) {
        None => {
            members.insert(args.id, me.clone());
        }
        Some(listed) if listed.raft != me.raft => {
            return Err(format!(
                "--peers lists node {} at {}, but --raft is {}",
                args.id, listed.raft, me.raft
            ));
        }
        Some(_) => {}
    }
    let auth = auth_mode(&args)?;
    let tls = api_tls(&args)?;
    let bootstraps = !args.join && members.keys().next() == Some(&args.id);
    let admin_key_file = args
        .admin_key_file
        .clone()
        .unwrap_or_else(|| args.data.join(DEFAULT_ADMIN_KEY_FILE));
    let auth_bootstrap = BootstrapTask::prepare(&args.data, bootstraps, &admin_key_file)?;
    let mut config = ClusterConfig::new(args.id, args.data.clone(), me, members);
    config.max_clock_offset_ms = args.max_clock_offset_ms;
    config.snapshot_every = args.snapshot_every;
    config.join = args.join;
    config.peer_tls = peer_tls(&args)?;
    match &config.peer_tls {
        Some(files) => tracing::info!(
            "inter-node connections: mutual TLS (CA {})",
            files.ca.display()
        ),
        None => tracing::warn!(
            "inter-node connections: plain TCP on {} (no --peer-ca)",
            args.raft
        ),
    }
    config.cluster_name = args.cluster_name.clone();
    config.purge_every = std::time::Duration::from_millis(args.purge_every_ms);
    config.heartbeat_ms = args.heartbeat_ms;
    config.election_timeout_ms = (args.election_timeout_min_ms, args.election_timeout_max_ms);
    config.batches_in_flight = args.batches_in_flight as usize;
    #[cfg(feature = "planted-bugs")]
    {
        config.planted_bug = idem_core::planted_bug();
    }
    let node = ClusterNode::start(config).await.map_err(|e| {
        format!(
            "cannot start node {} with data in {}: {e}",
            args.id,
            args.data.display()
        )
    })?;
    let report = node.startup_report();
    tracing::info!(
        "node {} started: log {:?}..{:?} ({} entries), applied {:?}, snapshot {:?}",
        args.id,
        report.first_log_index,
        report.last_log_index,
        report.log_entries,
        report.last_applied_index,
        report.snapshot_index
    );
    let limits = ApiLimits {
        max_stored_response_bytes: args.max_response_bytes,
        body_read_timeout: std::time::Duration::from_millis(args.http_body_timeout_ms),
        ..ApiLimits::default()
    };
    let serve_limits = ServeLimits {
        max_connections: args.http_max_connections as usize,
        header_read_timeout: std::time::Duration::from_millis(args.http_header_timeout_ms),
        ..ServeLimits::default()
    };
    let backend = ClusterBackend::new(node.clone());
    let bootstrap_task = auth_bootstrap.map(|b| tokio::spawn(b.run(backend.clone())));
    if auth == AuthMode::Off {
        tracing::warn!("--no-auth: the API asks for no keys; anyone on this machine can use it");
    }
    let app = router(backend, limits, auth);
    let listener = tokio::net::TcpListener::bind(&args.http)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "node {} serving the API on {scheme}://{}",
        args.id,
        args.http
    );
    if tls.is_none() && !is_loopback(&args.http) {
        tracing::warn!(
            "the API on {} is plain HTTP: API keys cross the network readable \
             (give --tls-cert and --tls-key, or put TLS in front of the node)",
            args.http
        );
    }
    let server = crate::http::serve(listener, app, serve_limits, tls, shutdown_signal());
    tokio::select! {
        () = server => {}
        // Raft stopped on its own (a fatal storage error): the node can do
        // nothing more, so it exits and a supervisor can restart it.
        why = node.raft_stopped() => {
            tracing::error!("node {}: Raft has stopped ({why}); exiting", args.id);
            return Err(format!("node {}: Raft has stopped: {why}", args.id));
        }
    }
    if let Some(task) = bootstrap_task {
        task.abort();
        let _ = task.await;
    }
    node.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
