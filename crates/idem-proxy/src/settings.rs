//! The proxy's settings: flags over the file over the defaults, checked
//! once at start-up so that a proxy that runs is one that can work.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, Method};
use idem_client::{ApiKey, ClientTls};
use idem_tower::{FailMode, GuardConfig, StorePolicy};

use crate::args::ProxyArgs;
use crate::error::ProxyError;
use crate::file::read_file;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_NODES: [&str; 3] = [
    "http://127.0.0.1:8101",
    "http://127.0.0.1:8102",
    "http://127.0.0.1:8103",
];

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub listen: SocketAddr,
    /// Base URL of the upstream, without a trailing slash.
    pub upstream: String,
    pub nodes: Vec<String>,
    /// The key sent to idem (`None`: idem runs with `--no-auth`).
    pub api_key: Option<ApiKey>,
    /// How the proxy trusts https:// nodes and what it presents to them.
    pub tls: ClientTls,
    pub metrics_listen: Option<SocketAddr>,
    pub guard: GuardConfig,
}

impl ProxySettings {
    /// Flags (and their environment variables) over `--config`'s file.
    pub fn from_args(args: &ProxyArgs) -> Result<ProxySettings, ProxyError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => ProxyArgs::default(),
        };
        ProxySettings::merge(args, &file)
    }

    /// The options of `a` (the command line), each falling back to `f`'s
    /// (the file), then to the default.
    pub fn merge(a: &ProxyArgs, f: &ProxyArgs) -> Result<ProxySettings, ProxyError> {
        fn pick<T: Clone>(flag: &Option<T>, file: &Option<T>) -> Option<T> {
            flag.clone().or_else(|| file.clone())
        }
        let bad = |what: String| ProxyError::Config(what);
        let listen = addr(&pick(&a.listen, &f.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()))?;
        let upstream = pick(&a.upstream, &f.upstream)
            .ok_or_else(|| bad("--upstream is required (the service behind the proxy)".into()))?;
        if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
            return Err(bad(format!(
                "--upstream {upstream:?} is not an http:// URL"
            )));
        }
        let upstream = upstream.trim_end_matches('/').to_owned();
        let nodes = pick(&a.nodes, &f.nodes)
            .unwrap_or_else(|| DEFAULT_NODES.iter().map(|s| s.to_string()).collect());
        let api_key = match (
            pick(&a.api_key, &f.api_key),
            pick(&a.api_key_file, &f.api_key_file),
        ) {
            (Some(_), Some(_)) => {
                return Err(bad("give --api-key or --api-key-file, not both".into()))
            }
            (Some(key), None) => Some(ApiKey::new(key)),
            (None, Some(path)) => Some(ApiKey::from_file(&path).map_err(|e| {
                bad(format!(
                    "cannot read the API key in {}: {e}",
                    path.display()
                ))
            })?),
            (None, None) => None,
        };
        let ca = pick(&a.ca_cert, &f.ca_cert);
        let identity = match (
            pick(&a.client_cert, &f.client_cert),
            pick(&a.client_key, &f.client_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(bad("give --client-cert and --client-key together".into())),
        };
        let identity = identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
        let tls = ClientTls::from_files(ca.as_deref(), identity).map_err(|e| bad(e.to_string()))?;
        let namespace = pick(&a.namespace, &f.namespace)
            .ok_or_else(|| bad("--namespace is required (where the keys live in idem)".into()))?;
        let metrics_listen = pick(&a.metrics_listen, &f.metrics_listen)
            .map(|s| addr(&s))
            .transpose()?;

        let mut g = GuardConfig::new(namespace);
        if let Some(methods) = pick(&a.methods, &f.methods) {
            g.methods = methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                        .map_err(|_| bad(format!("{m:?} is not an HTTP method")))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(h) = pick(&a.key_header, &f.key_header) {
            g.key_header = header(&h)?;
        }
        if let Some(optional) = pick(&a.key_optional, &f.key_optional) {
            g.key_required = !optional;
        }
        if let Some(h) = pick(&a.identity_header, &f.identity_header) {
            g.identity_header = Some(header(&h)?);
        }
        if let Some(hs) = pick(&a.fingerprint_headers, &f.fingerprint_headers) {
            g.fingerprint_headers = hs.iter().map(|h| header(h)).collect::<Result<_, _>>()?;
        }
        if let Some(hs) = pick(&a.stored_headers, &f.stored_headers) {
            g.stored_headers = hs.iter().map(|h| header(h)).collect::<Result<_, _>>()?;
        }
        if let Some(s) = pick(&a.store, &f.store) {
            g.store = match s.as_str() {
                "default" => StorePolicy::Default,
                "everything" => StorePolicy::Everything,
                other => return Err(bad(format!("--store {other:?}: default or everything"))),
            };
        }
        let ms = Duration::from_millis;
        if let Some(v) = pick(&a.wait_ms, &f.wait_ms) {
            g.wait = ms(v);
        }
        if let Some(v) = pick(&a.lease_ms, &f.lease_ms) {
            g.lease = ms(v);
        }
        if let Some(v) = pick(&a.retain_ms, &f.retain_ms) {
            g.retain = Some(ms(v));
        }
        if let Some(v) = pick(&a.max_run_ms, &f.max_run_ms) {
            g.max_run_time = ms(v);
        }
        if let Some(v) = pick(&a.max_request_bytes, &f.max_request_bytes) {
            g.max_request_bytes = v;
        }
        if let Some(v) = pick(&a.max_stored_bytes, &f.max_stored_bytes) {
            g.max_stored_bytes = v;
        }
        if let Some(s) = pick(&a.fail, &f.fail) {
            g.fail = match s.as_str() {
                "closed" => FailMode::Closed,
                "open" => FailMode::Open,
                other => return Err(bad(format!("--fail {other:?}: closed or open"))),
            };
        }
        if let Some(h) = pick(&a.token_header, &f.token_header) {
            g.token_header = header(&h)?;
        }
        g.reconcile_path = pick(&a.reconcile_path, &f.reconcile_path);
        g.validate().map_err(|e| bad(e.to_string()))?;
        Ok(ProxySettings {
            listen,
            upstream,
            nodes,
            api_key,
            tls,
            metrics_listen,
            guard: g,
        })
    }
}

fn addr(s: &str) -> Result<SocketAddr, ProxyError> {
    s.parse()
        .map_err(|_| ProxyError::Config(format!("{s:?} is not an address such as 127.0.0.1:8080")))
}

fn header(s: &str) -> Result<HeaderName, ProxyError> {
    HeaderName::try_from(s.trim().to_ascii_lowercase())
        .map_err(|_| ProxyError::Config(format!("{s:?} is not a header name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::parse_file;

    fn args() -> ProxyArgs {
        ProxyArgs {
            upstream: Some("http://127.0.0.1:9000/".into()),
            namespace: Some("payments".into()),
            ..ProxyArgs::default()
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_the_defaults() {
        let file = parse_file(
            "[proxy]\nwait_ms = 100\nlease_ms = 4000\nmethods = [\"post\"]\nstore = \"everything\"\n",
        )
        .unwrap();
        let mut a = args();
        a.wait_ms = Some(250);
        let s = ProxySettings::merge(&a, &file).unwrap();
        assert_eq!(s.guard.wait, Duration::from_millis(250), "the flag wins");
        assert_eq!(
            s.guard.lease,
            Duration::from_millis(4000),
            "the file fills in"
        );
        assert_eq!(s.guard.methods, vec![Method::POST]);
        assert_eq!(s.guard.store, StorePolicy::Everything);
        assert_eq!(s.upstream, "http://127.0.0.1:9000");
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.nodes.len(), 3);
    }

    #[test]
    fn flags_parse_as_typed() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            proxy: ProxyArgs,
        }
        let cli = Cli::try_parse_from([
            "idem-proxy",
            "--upstream",
            "http://127.0.0.1:9000",
            "--namespace",
            "p",
            "--key-optional",
            "--nodes",
            "http://a:1,http://b:2",
            "--fingerprint-headers",
            "X-Currency,x-tenant",
        ])
        .expect("parses");
        let s = ProxySettings::merge(&cli.proxy, &ProxyArgs::default()).unwrap();
        assert!(!s.guard.key_required);
        assert_eq!(s.nodes, vec!["http://a:1", "http://b:2"]);
        assert_eq!(s.guard.fingerprint_headers.len(), 2);
        assert_eq!(s.guard.fingerprint_headers[0], "x-currency");
    }

    #[test]
    fn what_cannot_work_is_refused_at_start() {
        let none = ProxyArgs::default();
        let mut a = args();
        a.upstream = None;
        assert!(ProxySettings::merge(&a, &none).is_err());
        let mut a = args();
        a.upstream = Some("127.0.0.1:9000".into());
        assert!(ProxySettings::merge(&a, &none).is_err());
        let mut a = args();
        a.store = Some("sometimes".into());
        assert!(ProxySettings::merge(&a, &none).is_err());
        let mut a = args();
        a.key_header = Some("bad header".into());
        assert!(ProxySettings::merge(&a, &none).is_err());
        let mut a = args();
        a.lease_ms = Some(10);
        assert!(ProxySettings::merge(&a, &none).is_err());
    }
}
