//! The `[proxy]` table of a TOML configuration file. The file may hold
//! other tables (`idem start` reads its own); unknown keys in `[proxy]` are
//! refused, so a typo is not silently ignored.

use std::path::Path;

use serde::Deserialize;

use crate::args::ProxyArgs;
use crate::error::ProxyError;

#[derive(Debug, Clone, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    proxy: ProxyArgs,
}

/// The `[proxy]` table of the file at `path` (none: every option unset).
pub fn read_file(path: &Path) -> Result<ProxyArgs, ProxyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProxyError::Config(format!("{}: {e}", path.display())))?;
    parse_file(&text).map_err(|e| ProxyError::Config(format!("{}: {e}", path.display())))
}

/// The `[proxy]` table of a file's text.
pub fn parse_file(text: &str) -> Result<ProxyArgs, String> {
    toml::from_str::<ConfigFile>(text)
        .map(|f| f.proxy)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_table_is_read_and_other_tables_left_alone() {
        let f = parse_file(
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
        assert!(parse_file("").expect("empty is fine").namespace.is_none());
    }

    #[test]
    fn a_misspelt_option_is_refused() {
        let e = parse_file("[proxy]\nupstrem = \"x\"\n").unwrap_err();
        assert!(e.contains("upstrem"), "{e}");
        // --config names the file; the file cannot name another.
        assert!(parse_file("[proxy]\nconfig = \"other.toml\"\n").is_err());
    }
}
