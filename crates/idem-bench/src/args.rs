//! The command line of the generator (`idem bench ...` or `idem-bench ...`).
//! Flags are kept as typed as clap allows; what clap cannot check is checked
//! by [`crate::plan::Plan::from_args`].

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

/// `idem bench`: measure idem, etcd or Redis with the same client.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// System under test.
    #[arg(long, value_enum, default_value_t = TargetKind::Idem)]
    pub target: TargetKind,

    /// Endpoints, comma-separated; connections are spread over them in turn.
    /// Default: http://127.0.0.1:8101 (idem), http://127.0.0.1:2379 (etcd),
    /// 127.0.0.1:6379 (redis).
    #[arg(long, value_delimiter = ',')]
    pub url: Vec<String>,

    /// What each operation does.
    #[arg(long, value_enum, default_value_t = WorkloadKind::Reserve)]
    pub workload: WorkloadKind,

    /// Connections, each with one request in flight (HTTP/1.1 keep-alive).
    #[arg(long, short = 'c', default_value_t = 16)]
    pub connections: usize,

    /// How long to measure, after the warm-up (`10`, `10s`, `500ms`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// How long to run before measuring; those operations are not counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Open loop: send this many requests per second in total, on a fixed
    /// schedule; latency is measured from each request's intended send time
    /// (no coordinated omission). Default: closed loop, each connection sends
    /// its next request as soon as the previous one is answered.
    #[arg(long)]
    pub rate: Option<f64>,

    /// Key space. reserve and reserve-complete: pick keys at random among N
    /// (contended keys; default: every operation uses a fresh key). replay:
    /// how many completed keys to pre-populate and read back (default 1000).
    #[arg(long)]
    pub keys: Option<u64>,

    /// idem namespace the keys live in.
    #[arg(long, default_value = "bench")]
    pub namespace: String,

    /// idem API key (a client key of --namespace).
    #[arg(long, env = "IDEM_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A file holding the idem API key.
    #[arg(long, env = "IDEM_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// For https:// URLs: the CA certificate (PEM) to trust instead of the
    /// system's roots.
    #[arg(long, env = "IDEM_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for nodes that ask for one, with
    /// --client-key.
    #[arg(long, env = "IDEM_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, env = "IDEM_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Lease of a reservation, in milliseconds (idem `lease_ms`, Redis `PX`).
    #[arg(long, default_value_t = 30_000)]
    pub lease_ms: u64,
    /// How long idem keeps a completed key (`retain_ms`); default: the
    /// namespace's (24 h).
    #[arg(long)]
    pub retain_ms: Option<u64>,

    /// idem only: every reserve carries a fresh attempt id (as the Rust
    /// client's reserves do), to measure what resumable reserves cost.
    #[arg(long)]
    pub attempts: bool,

    /// Size in bytes of the value stored by complete (the stored response body).
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,

    /// Give up on one request after this long (counted as an error).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Runtime worker threads. Default: the number of CPUs.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Prefix of every key, so that runs against the same cluster do not
    /// collide. Default: derived from the current time.
    #[arg(long)]
    pub run_id: Option<String>,

    /// Before the load, measure the hardware's floor for a replicated write
    /// in these directories (one per node's data directory, on the disk
    /// the nodes use): concurrent append + fdatasync in each, plus a
    /// loopback round trip. The report gives it and p50 as a ratio to it.
    #[arg(long = "floor-dir")]
    pub floor_dirs: Vec<PathBuf>,
    /// Rounds of the floor measurement.
    #[arg(long, default_value_t = 1000)]
    pub floor_rounds: usize,

    /// Server processes (comma-separated pids) whose CPU time over the
    /// measured window is reported, per operation.
    #[arg(long = "node-pid", value_delimiter = ',')]
    pub node_pids: Vec<u32>,

    /// Also write the result as one JSON object to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// idem's HTTP API.
    Idem,
    /// etcd's v3 JSON gateway (put-if-absent transactions).
    Etcd,
    /// Redis (`SET NX PX`), one node.
    Redis,
    /// Any HTTP service: `POST /charges` with an `Idempotency-Key` header
    /// (a fresh key per reserve; replay repeats a populated one), to
    /// measure `idem proxy` against calling the service directly.
    Http,
}

/// What one operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Reserve a key (put-if-absent).
    Reserve,
    /// Reserve a key, then complete it with the returned token (two requests
    /// per operation; latency is that of the pair).
    ReserveComplete,
    /// Reserve a key that is already completed: the replay (read) path.
    Replay,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Idem => "idem",
            TargetKind::Etcd => "etcd",
            TargetKind::Redis => "redis",
            TargetKind::Http => "http",
        }
    }

    pub(crate) fn default_url(self) -> &'static str {
        match self {
            TargetKind::Idem => "http://127.0.0.1:8101",
            TargetKind::Etcd => "http://127.0.0.1:2379",
            TargetKind::Redis => "127.0.0.1:6379",
            TargetKind::Http => "http://127.0.0.1:8080",
        }
    }
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Reserve => "reserve",
            WorkloadKind::ReserveComplete => "reserve-complete",
            WorkloadKind::Replay => "replay",
        }
    }
}

/// `10` (seconds), `2.5s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_seconds) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 10s, 500ms, 2m)"))?;
    let seconds = value * unit_seconds;
    if !seconds.is_finite() || !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("{text:?} must be between 0 and 24 h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("idem-bench").chain(args.iter().copied()))
            .map(|c| c.bench)
    }

    #[test]
    fn defaults_are_a_closed_loop_reserve_against_local_idem() {
        let args = parse(&[]).expect("no flags parse");
        assert_eq!(args.target, TargetKind::Idem);
        assert_eq!(args.workload, WorkloadKind::Reserve);
        assert_eq!(args.connections, 16);
        assert_eq!(args.duration, Duration::from_secs(10));
        assert_eq!(args.warmup, Duration::from_secs(1));
        assert!(args.url.is_empty());
        assert_eq!(args.rate, None);
        assert_eq!(args.keys, None);
    }

    #[test]
    fn every_flag_parses() {
        let args = parse(&[
            "--target",
            "etcd",
            "--url",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "--workload",
            "reserve-complete",
            "-c",
            "64",
            "--duration",
            "500ms",
            "--warmup",
            "0",
            "--rate",
            "2000",
            "--keys",
            "10",
            "--namespace",
            "n1",
            "--lease-ms",
            "1000",
            "--value-size",
            "8",
            "--timeout",
            "2s",
            "--threads",
            "1",
            "--run-id",
            "r",
            "--json",
            "out.json",
            "--quiet",
        ])
        .expect("flags parse");
        assert_eq!(args.target, TargetKind::Etcd);
        assert_eq!(args.url, vec!["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(args.workload, WorkloadKind::ReserveComplete);
        assert_eq!(args.connections, 64);
        assert_eq!(args.duration, Duration::from_millis(500));
        assert_eq!(args.warmup, Duration::ZERO);
        assert_eq!(args.rate, Some(2000.0));
        assert_eq!(args.keys, Some(10));
        assert_eq!(args.json.as_deref(), Some(std::path::Path::new("out.json")));
        assert!(args.quiet);
    }

    #[test]
    fn unknown_target_and_workload_are_refused() {
        assert!(parse(&["--target", "mysql"]).is_err());
        assert!(parse(&["--workload", "delete"]).is_err());
        assert!(parse(&["--duration", "soon"]).is_err());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("1e9").is_err());
    }
}
