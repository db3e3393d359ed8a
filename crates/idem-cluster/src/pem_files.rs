//! Reading certificates, keys and CA roots from PEM files, with messages
//! that name the file: for the Raft port's mutual TLS here and the HTTP
//! port's TLS in the server.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate in `path` (a chain: the leaf first); at least one.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let what = |e: rustls_pki_types::pem::Error| format!("{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(what)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(what)?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

/// The private key in `path`.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The CA certificates in `path`, as trust roots.
pub fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for ca in read_certs(path)? {
        roots
            .add(ca)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(roots)
}
