//! The `[proxy]` table of a TOML configuration file. The file may hold
//! other tables (`idem start` reads its own); unknown keys in `[proxy]` are
//! refused, so a typo is not silently ignored.

use std::path::Path;

use serde::Deserialize;

use crate::error::ProxyError;

#[derive(Debug, Clone, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    proxy: ProxyFile,
}

/// Every option of `idem proxy`, as the file spells it (the flags' names
/// with underscores).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub nodes: Option<Vec<String>>,
    pub namespace: Option<String>,
    pub methods: Option<Vec<String>>,
    pub key_header: Option<String>,
    pub key_optional: Option<bool>,
    pub identity_header: Option<String>,
    pub fingerprint_headers: Option<Vec<String>>,
    pub stored_headers: Option<Vec<String>>,
    pub store: Option<String>,
    pub wait_ms: Option<u64>,
    pub lease_ms: Option<u64>,
    pub retain_ms: Option<u64>,
    pub max_run_ms: Option<u64>,
    pub max_request_bytes: Option<usize>,
    pub max_stored_bytes: Option<usize>,
    pub fail: Option<String>,
    pub token_header: Option<String>,
    pub reconcile_path: Option<String>,
    pub metrics_listen: Option<String>,
}

impl ProxyFile {
    pub fn read(path: &Path) -> Result<ProxyFile, ProxyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProxyError::Config(format!("{}: {e}", path.display())))?;
        ProxyFile::parse(&text).map_err(|e| ProxyError::Config(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<ProxyFile, String> {
        toml::from_str::<ConfigFile>(text)
            .map(|f| f.proxy)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_table_is_read_and_other_tables_left_alone() {
        let f = ProxyFile::parse(
            r#"
            [node]
            id = 1

            [proxy]
            upstream = "http://127.0.0.1:9000"
            namespace = "payments"
            nodes = ["http://127.0.0.1:8101", "http://127.0.0.1:8102"]
            wait_ms = 2000
            "#,
        )
        .expect("parses");
        assert_eq!(f.upstream.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(f.nodes.map(|n| n.len()), Some(2));
        assert_eq!(f.wait_ms, Some(2000));
        assert!(ProxyFile::parse("")
            .expect("empty is fine")
            .namespace
            .is_none());
    }

    #[test]
    fn a_misspelt_option_is_refused() {
        let e = ProxyFile::parse("[proxy]\nupstrem = \"x\"\n").unwrap_err();
        assert!(e.contains("upstrem"), "{e}");
    }
}
