//! HTTPS to the nodes: whom to trust and what to present.
//!
//! By default a client trusts the system's roots (the platform verifier);
//! a cluster with its own CA (`idem certs ca`) is trusted with
//! [`ClientTls::with_ca_pem`]. A node started with `--tls-client-ca` also
//! asks for a client certificate: [`ClientTls::with_identity_pem`].
//! Always rustls with the ring provider.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ClientError;

/// How the client speaks TLS to `https://` nodes.
#[derive(Default)]
pub struct ClientTls {
    /// Trusted CAs instead of the system's roots (`None`: the system's).
    roots: Option<RootCertStore>,
    /// The certificate chain and key presented to a node that asks.
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Clone for ClientTls {
    fn clone(&self) -> Self {
        ClientTls {
            roots: self.roots.clone(),
            identity: self
                .identity
                .as_ref()
                .map(|(chain, key)| (chain.clone(), key.clone_key())),
        }
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

fn certs_in(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Config(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!("{what}: no certificate in it")));
    }
    Ok(certs)
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Config(format!("{}: {e}", path.display())))
}

impl ClientTls {
    /// Trusts the CA certificates in `pem` (and no others).
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<Self, ClientError> {
        let mut roots = self.roots.take().unwrap_or_else(RootCertStore::empty);
        for ca in certs_in(pem, "CA certificate")? {
            roots
                .add(ca)
                .map_err(|e| ClientError::Config(format!("CA certificate: {e}")))?;
        }
        self.roots = Some(roots);
        Ok(self)
    }

    /// [`ClientTls::with_ca_pem`] of a file.
    pub fn with_ca_file(self, path: impl AsRef<Path>) -> Result<Self, ClientError> {
        self.with_ca_pem(&read(path.as_ref())?)
    }

    /// Presents this certificate (chain, PEM) and key (PEM) to nodes that
    /// ask for one.
    pub fn with_identity_pem(mut self, cert: &[u8], key: &[u8]) -> Result<Self, ClientError> {
        let chain = certs_in(cert, "client certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| ClientError::Config(format!("client key: {e}")))?;
        self.identity = Some((chain, key));
        Ok(self)
    }

    /// [`ClientTls::with_identity_pem`] of two files.
    pub fn with_identity_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, ClientError> {
        let cert = read(cert.as_ref())?;
        let key = read(key.as_ref())?;
        self.with_identity_pem(&cert, &key)
    }

    /// The nodes' CA (`None`: the system's roots) and a client certificate
    /// and key, from PEM files: what a command line's `--ca-cert`,
    /// `--client-cert` and `--client-key` give.
    pub fn from_files(
        ca: Option<&Path>,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Self, ClientError> {
        let mut tls = ClientTls::default();
        if let Some(ca) = ca {
            tls = tls.with_ca_file(ca)?;
        }
        if let Some((cert, key)) = identity {
            tls = tls.with_identity_files(cert, key)?;
        }
        Ok(tls)
    }

    /// The configuration for talking to `url`s of this scheme: this one for
    /// `https`, [`ClientTls::plain_http_config`] otherwise, so the system's
    /// roots are read only when they may be used.
    pub fn config_for(&self, https: bool) -> Result<rustls::ClientConfig, ClientError> {
        if https {
            self.rustls_config()
        } else {
            Self::plain_http_config()
        }
    }

    /// A configuration for a client that speaks only plain `http://`:
    /// reqwest, built here without a default crypto provider, needs one
    /// all the same. It trusts no root and never reads the system's, so it
    /// works on a machine without CA certificates.
    pub fn plain_http_config() -> Result<rustls::ClientConfig, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Config(format!("TLS: {e}")))?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth())
    }

    /// The rustls configuration, for a tool that makes its own connections
    /// (HTTP/1.1 only, as the nodes speak). Without a CA given it reads the
    /// system's roots, and fails if the system has none.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls_error = |e: rustls::Error| ClientError::Config(format!("TLS: {e}"));
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let builder = match &self.roots {
            Some(roots) => builder.with_root_certificates(roots.clone()),
            None => {
                use rustls_platform_verifier::BuilderVerifierExt;
                builder.with_platform_verifier().map_err(tls_error)?
            }
        };
        let mut config = match &self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(tls_error)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}
