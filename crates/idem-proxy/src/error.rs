//! The proxy's errors: a configuration that cannot work, and a server that
//! could not start or stopped.

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}
