//! idem-proxy: `idem proxy`, a reverse proxy that gives any HTTP service
//! `Idempotency-Key` semantics on idem, with no change to the service.
//!
//! It owns the proxy's settings (flags, environment, the `[proxy]` table of
//! a TOML file), the forwarder to the upstream, and its HTTP servers. The
//! idempotency behaviour is all `idem-tower`'s [`idem_tower::Guard`], the
//! same engine as the tower layer; this crate must not grow a second one.
//! Like idem-tower it reaches idem only through `idem-client` (no RocksDB).

mod args;
mod error;
mod file;
mod forward;
mod server;
mod settings;

pub use args::ProxyArgs;
pub use error::ProxyError;
pub use file::{parse_file, read_file};
pub use server::{serve, MAX_UNGUARDED_BYTES};
pub use settings::{ProxySettings, DEFAULT_LISTEN, DEFAULT_NODES};

/// Reads the settings and serves until Ctrl-C or SIGTERM.
pub async fn run(args: &ProxyArgs) -> Result<(), ProxyError> {
    let settings = ProxySettings::from_args(args)?;
    serve(settings, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
