//! What can stop a chaos run before it has a history to judge.

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("the chaos harness needs root: it creates network namespaces and iptables rules (run it as root or with sudo)")]
    NotRoot,
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{0} is missing: {1}")]
    Missing(String, String),
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the cluster did not become ready: {0}")]
    NotReady(String),
    #[error("{0}")]
    Usage(String),
}

impl HarnessError {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        HarnessError::Io {
            path: path.to_string(),
            source,
        }
    }
}
