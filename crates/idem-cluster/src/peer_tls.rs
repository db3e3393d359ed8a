//! Mutual TLS between nodes: each node has a certificate signed by the
//! cluster's CA (see `idem certs`) and accepts a connection only from a
//! peer that presents one too; as a caller it checks that the listener's
//! certificate names the address it called. The ring provider keeps the
//! build to one small C library.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::peer_stream::PeerStream;
use crate::pem_files::{read_certs, read_key, read_roots};

/// Where a node's TLS material is, as PEM files.
#[derive(Debug, Clone)]
pub struct PeerTlsFiles {
    /// The cluster CA's certificate: peers must present a certificate it
    /// signed.
    pub ca: std::path::PathBuf,
    /// This node's certificate (chain) and key.
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The TLS configuration of a node's inter-node connections, both ways.
#[derive(Clone)]
pub struct PeerTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerTls(..)")
    }
}

impl PeerTls {
    pub fn load(files: &PeerTlsFiles) -> Result<PeerTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(read_roots(&files.ca)?);
        let chain = read_certs(&files.cert)?;
        let key = read_key(&files.key)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| format!("peer CA {}: {e}", files.ca.display()))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("{}: {e}", files.cert.display()))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("{}: {e}", files.cert.display()))?;
        Ok(PeerTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The listening side of a new connection: the peer must present a
    /// certificate of the cluster's CA.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> std::io::Result<PeerStream> {
        let tls = self.acceptor.accept(tcp).await?;
        Ok(PeerStream::Server(Box::new(tls)))
    }

    /// The calling side: the listener at `addr` (`host:port`) must present
    /// a certificate of the cluster's CA naming `host`.
    pub(crate) async fn connect(&self, addr: &str, tcp: TcpStream) -> std::io::Result<PeerStream> {
        let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host}: {e}"))
        })?;
        let tls = self.connector.connect(name, tcp).await?;
        Ok(PeerStream::Client(Box::new(tls)))
    }
}
