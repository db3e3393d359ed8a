//! TLS for `https://` endpoints: one connector shared by every connection.

use tokio_rustls::TlsConnector;

/// How connections to `https://` endpoints speak TLS.
#[derive(Clone)]
pub struct HttpsConnector(pub(crate) TlsConnector);

impl HttpsConnector {
    pub fn new(config: tokio_rustls::rustls::ClientConfig) -> HttpsConnector {
        HttpsConnector(TlsConnector::from(std::sync::Arc::new(config)))
    }
}

impl std::fmt::Debug for HttpsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpsConnector(..)")
    }
}
