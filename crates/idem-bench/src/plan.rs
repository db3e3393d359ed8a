//! A run's plan: the flags checked and turned into the types the runner uses.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::args::{BenchArgs, TargetKind, WorkloadKind};
use crate::error::BenchError;
use crate::https::HttpsConnector;

/// Replay keys pre-populated when `--keys` is not given.
pub const DEFAULT_REPLAY_KEYS: u64 = 1000;

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: TargetKind,
    pub endpoints: Vec<Endpoint>,
    pub workload: WorkloadKind,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub load: LoadMode,
    pub keys: KeyMode,
    pub namespace: String,
    /// idem only: sent as `Authorization: Bearer`.
    pub api_key: Option<String>,
    /// For https:// endpoints.
    pub tls: Option<HttpsConnector>,
    pub lease_ms: u64,
    pub retain_ms: Option<u64>,
    /// idem reserves carry a fresh attempt id each.
    pub attempts: bool,
    /// What complete stores (and pre-population stores for replay).
    pub value: String,
    pub timeout: Duration,
    pub threads: usize,
    pub run_id: String,
    pub json: Option<PathBuf>,
    pub quiet: bool,
    /// Measure the floor in these directories before the load.
    pub floor_dirs: Vec<PathBuf>,
    pub floor_rounds: usize,
    /// Report these processes' CPU per operation.
    pub node_pids: Vec<u32>,
}

/// One server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`, for the TCP connect and the HTTP `Host` header.
    pub authority: String,
    /// As given, for reports.
    pub url: String,
    /// `https://`: TLS over the connection.
    pub https: bool,
}

/// Closed loop, or open loop at a fixed total rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadMode {
    Closed,
    Open { requests_per_second: f64 },
}

/// Which key each operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// A fresh key every operation.
    Unique,
    /// A key drawn at random among this many (contention).
    Contended(u64),
    /// This many keys are completed before the run; operations read them.
    Populated(u64),
}

impl Plan {
    pub fn from_args(args: &BenchArgs) -> Result<Plan, BenchError> {
        let urls: Vec<String> = if args.url.is_empty() {
            vec![args.target.default_url().to_string()]
        } else {
            args.url
                .iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        };
        if urls.is_empty() {
            return Err(BenchError::invalid("--url", "no endpoint given"));
        }
        let endpoints = urls
            .iter()
            .map(|url| parse_endpoint(args.target, url))
            .collect::<Result<Vec<_>, _>>()?;

        if args.connections == 0 || args.connections > 10_000 {
            return Err(BenchError::invalid(
                "--connections",
                format!("must be 1 to 10000, got {}", args.connections),
            ));
        }
        if args.duration.is_zero() {
            return Err(BenchError::invalid("--duration", "must be more than 0"));
        }
        if args.timeout.is_zero() {
            return Err(BenchError::invalid("--timeout", "must be more than 0"));
        }
        let load = match args.rate {
            None => LoadMode::Closed,
            Some(rate) if rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0 => {
                LoadMode::Open {
                    requests_per_second: rate,
                }
            }
            Some(rate) => {
                return Err(BenchError::invalid(
                    "--rate",
                    format!("must be a number of requests per second above 0, got {rate}"),
                ))
            }
        };
        if args.keys == Some(0) {
            return Err(BenchError::invalid("--keys", "must be at least 1"));
        }
        let keys = match (args.workload, args.keys) {
            (WorkloadKind::Replay, keys) => KeyMode::Populated(keys.unwrap_or(DEFAULT_REPLAY_KEYS)),
            (_, None) => KeyMode::Unique,
            (_, Some(n)) => KeyMode::Contended(n),
        };
        if args.target == TargetKind::Http && args.workload == WorkloadKind::ReserveComplete {
            return Err(BenchError::invalid(
                "--workload",
                "reserve-complete is not a workload of --target http (use reserve or replay)",
            ));
        }
        if !is_namespace(&args.namespace) {
            return Err(BenchError::invalid(
                "--namespace",
                format!(
                    "{:?} is not a namespace (1 to 64 of a-z 0-9 - _ . starting with a letter or digit)",
                    args.namespace
                ),
            ));
        }
        if !(100..=3_600_000).contains(&args.lease_ms) {
            return Err(BenchError::invalid(
                "--lease-ms",
                format!("must be 100 to 3600000, got {}", args.lease_ms),
            ));
        }
        if let Some(r) = args.retain_ms {
            if !(1_000..=2_592_000_000).contains(&r) {
                return Err(BenchError::invalid(
                    "--retain-ms",
                    format!("must be 1000 to 2592000000, got {r}"),
                ));
            }
        }
        if args.value_size > 1_000_000 {
            return Err(BenchError::invalid(
                "--value-size",
                format!("must be at most 1000000, got {}", args.value_size),
            ));
        }
        let threads = match args.threads {
            Some(0) => return Err(BenchError::invalid("--threads", "must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        };
        let run_id = match &args.run_id {
            Some(id) if is_key_safe(id) => id.clone(),
            Some(id) => {
                return Err(BenchError::invalid(
                    "--run-id",
                    format!("{id:?}: use 1 to 64 of A-Z a-z 0-9 - _"),
                ))
            }
            None => default_run_id(),
        };
        let api_key = match (&args.api_key, &args.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(BenchError::invalid(
                    "--api-key",
                    "give --api-key or --api-key-file, not both",
                ))
            }
            (Some(key), None) => Some(key.trim().to_owned()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| BenchError::invalid("--api-key-file", e.to_string()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let tls = if endpoints.iter().any(|e| e.https) {
            let identity = args.client_cert.as_deref().zip(args.client_key.as_deref());
            let config = idem_client::ClientTls::from_files(args.ca_cert.as_deref(), identity)
                .and_then(|tls| tls.rustls_config())
                .map_err(|e| BenchError::invalid("--ca-cert", e.to_string()))?;
            Some(HttpsConnector::new(config))
        } else {
            None
        };
        Ok(Plan {
            target: args.target,
            endpoints,
            workload: args.workload,
            connections: args.connections,
            duration: args.duration,
            warmup: args.warmup,
            load,
            keys,
            namespace: args.namespace.clone(),
            api_key,
            tls,
            lease_ms: args.lease_ms,
            retain_ms: args.retain_ms,
            attempts: args.attempts,
            value: "v".repeat(args.value_size),
            timeout: args.timeout,
            threads,
            run_id,
            json: args.json.clone(),
            quiet: args.quiet,
            floor_dirs: args.floor_dirs.clone(),
            floor_rounds: args.floor_rounds,
            node_pids: args.node_pids.clone(),
        })
    }

    /// The endpoint connection number `connection` talks to.
    pub fn endpoint_for(&self, connection: usize) -> &Endpoint {
        &self.endpoints[connection % self.endpoints.len()]
    }
}

/// `http://host:port` or `https://host:port` for idem and etcd (no path);
/// `host:port` or `redis://host:port` for Redis.
pub fn parse_endpoint(target: TargetKind, url: &str) -> Result<Endpoint, BenchError> {
    let (rest, https) = match target {
        TargetKind::Idem | TargetKind::Etcd | TargetKind::Http => {
            match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
                (Some(rest), _) => (rest, false),
                (None, Some(rest)) => (rest, true),
                (None, None) => {
                    return Err(BenchError::invalid(
                        "--url",
                        format!("{url:?}: expected http://host:port or https://host:port"),
                    ))
                }
            }
        }
        TargetKind::Redis => (url.strip_prefix("redis://").unwrap_or(url), false),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let port_ok = authority
        .rsplit_once(':')
        .map(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
        .unwrap_or(false);
    if authority.contains('/') || !port_ok {
        return Err(BenchError::invalid(
            "--url",
            format!("{url:?}: expected host:port with no path"),
        ));
    }
    Ok(Endpoint {
        authority: authority.to_string(),
        url: url.to_string(),
        https,
    })
}

fn is_namespace(ns: &str) -> bool {
    let first_ok = ns
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && ns.len() <= 64
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn is_key_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

fn default_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("r{:x}{:x}", nanos as u64, std::process::id())
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

    fn plan(args: &[&str]) -> Result<Plan, BenchError> {
        let cli = Cli::try_parse_from(std::iter::once("idem-bench").chain(args.iter().copied()))
            .expect("parses");
        Plan::from_args(&cli.bench)
    }

    #[test]
    fn default_url_depends_on_the_target() {
        assert_eq!(
            plan(&[]).expect("ok").endpoints[0].authority,
            "127.0.0.1:8101"
        );
        assert_eq!(
            plan(&["--target", "etcd"]).expect("ok").endpoints[0].authority,
            "127.0.0.1:2379"
        );
        assert_eq!(
            plan(&["--target", "redis"]).expect("ok").endpoints[0].authority,
            "127.0.0.1:6379"
        );
    }

    #[test]
    fn connections_are_spread_over_the_urls() {
        let p = plan(&[
            "--url",
            "http://127.0.0.1:1,http://127.0.0.1:2/,http://127.0.0.1:3",
        ])
        .expect("ok");
        let used: Vec<&str> = (0..5)
            .map(|c| p.endpoint_for(c).authority.as_str())
            .collect();
        assert_eq!(
            used,
            [
                "127.0.0.1:1",
                "127.0.0.1:2",
                "127.0.0.1:3",
                "127.0.0.1:1",
                "127.0.0.1:2"
            ]
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (target, url) in [
            ("idem", "ftp://127.0.0.1:8101"),
            ("idem", "127.0.0.1:8101"),
            ("idem", "https://127.0.0.1"),
            ("etcd", "http://127.0.0.1"),
            ("etcd", "http://127.0.0.1:2379/v3"),
            ("redis", "127.0.0.1:0"),
        ] {
            let error = plan(&["--target", target, "--url", url])
                .expect_err(url)
                .to_string();
            assert!(error.contains("--url"), "{error}");
        }
        let https = plan(&["--target", "idem", "--url", "https://127.0.0.1:8101"]).expect("ok");
        assert!(https.endpoints[0].https && https.tls.is_some());
        assert_eq!(https.endpoints[0].authority, "127.0.0.1:8101");
        assert_eq!(
            plan(&["--target", "redis", "--url", "redis://127.0.0.1:6390"])
                .expect("ok")
                .endpoints[0]
                .authority,
            "127.0.0.1:6390"
        );
    }

    #[test]
    fn key_mode_follows_workload_and_keys() {
        assert_eq!(plan(&[]).expect("ok").keys, KeyMode::Unique);
        assert_eq!(
            plan(&["--keys", "5"]).expect("ok").keys,
            KeyMode::Contended(5)
        );
        assert_eq!(
            plan(&["--workload", "replay"]).expect("ok").keys,
            KeyMode::Populated(DEFAULT_REPLAY_KEYS)
        );
        assert_eq!(
            plan(&["--workload", "replay", "--keys", "7"])
                .expect("ok")
                .keys,
            KeyMode::Populated(7)
        );
        assert!(plan(&["--keys", "0"]).is_err());
    }

    #[test]
    fn rate_selects_the_open_loop() {
        assert_eq!(plan(&[]).expect("ok").load, LoadMode::Closed);
        assert_eq!(
            plan(&["--rate", "500"]).expect("ok").load,
            LoadMode::Open {
                requests_per_second: 500.0
            }
        );
        assert!(plan(&["--rate", "0"]).is_err());
        assert!(plan(&["--rate=-3"]).is_err());
        assert!(plan(&["--rate", "inf"]).is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(plan(&["-c", "0"]).is_err());
        assert!(plan(&["--duration", "0"]).is_err());
        assert!(plan(&["--namespace", "Bad"]).is_err());
        assert!(plan(&["--lease-ms", "5"]).is_err());
        assert!(plan(&["--run-id", "a/b"]).is_err());
        assert!(plan(&["--threads", "0"]).is_err());
    }
}
