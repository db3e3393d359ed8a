//! HTTPS on the API port: the node's certificate and key, and, if asked
//! for, the CA whose certificates clients must present (client-certificate
//! authentication, in addition to API keys). HTTP/1.1 only, as the server
//! speaks; the ring provider, as on the Raft port.

use std::path::PathBuf;
use std::sync::Arc;

use idem_cluster::pem_files::{read_certs, read_key, read_roots};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Where the API's TLS material is, as PEM files.
#[derive(Debug, Clone)]
pub struct ApiTlsFiles {
    /// The node's certificate (chain), naming the host clients call it by.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// If given, a client must present a certificate this CA signed.
    pub client_ca: Option<PathBuf>,
}

/// The TLS configuration of the API's connections.
pub fn api_tls_acceptor(files: &ApiTlsFiles) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(&files.cert)?;
    let key = read_key(&files.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let roots = Arc::new(read_roots(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("client CA {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
