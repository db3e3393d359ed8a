//! The TLS every harness client speaks to the nodes' API ports: the run's
//! CA as the only root and the run's client certificate (the nodes ask for
//! one, `--tls-client-ca`). Set once, when the certificates are made, and
//! read by every connection, payments worker and proxy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use idem_client::ClientTls;
use tokio_rustls::TlsConnector;

use crate::error::HarnessError;

pub struct HarnessTls {
    /// For the client library (payments workers).
    pub client: ClientTls,
    /// For the harness's own HTTP connections.
    pub connector: TlsConnector,
    /// For `idem proxy` processes.
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

static TLS: OnceLock<HarnessTls> = OnceLock::new();

/// The run's TLS, once [`load`] read it.
pub fn tls() -> Option<&'static HarnessTls> {
    TLS.get()
}

/// Reads the CA and the client certificate from `dir` (as
/// `Nodes::make_certificates` writes them).
pub fn load(dir: &Path) -> Result<(), HarnessError> {
    let (ca, cert, key) = (
        dir.join("ca").join("ca.pem"),
        dir.join("client.pem"),
        dir.join("client.key"),
    );
    let bad = |e: idem_client::ClientError| HarnessError::NotReady(format!("client TLS: {e}"));
    let client = ClientTls::default()
        .with_ca_file(&ca)
        .and_then(|t| t.with_identity_files(&cert, &key))
        .map_err(bad)?;
    let connector = TlsConnector::from(Arc::new(client.rustls_config().map_err(bad)?));
    let _ = TLS.set(HarnessTls {
        client,
        connector,
        ca,
        cert,
        key,
    });
    Ok(())
}

/// The API's URL scheme: https once TLS is loaded.
pub fn scheme() -> &'static str {
    if tls().is_some() {
        "https"
    } else {
        "http"
    }
}
