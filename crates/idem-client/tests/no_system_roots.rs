//! A machine without CA certificates (a slim container): a client of
//! plain http:// nodes still works, and one of https:// nodes says at once
//! that it has nothing to trust unless it is given the nodes' CA. (Its own
//! test binary: it points the system's certificate paths at nothing for
//! the whole process.)

use idem_client::{Client, ClientConfig, ClientTls};

#[test]
fn without_system_roots_plain_http_works_and_https_asks_for_a_ca() {
    let empty = tempfile::tempdir().expect("dir");
    std::env::set_var("SSL_CERT_FILE", empty.path().join("none.pem"));
    std::env::set_var("SSL_CERT_DIR", empty.path());
    assert!(Client::new(["http://127.0.0.1:8101"]).is_ok());
    let error = Client::new(["https://127.0.0.1:8101"])
        .err()
        .expect("no roots to trust");
    assert!(error.to_string().contains("CA"), "{error}");
    // Given the nodes' CA, https works without the system's roots.
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let tls = ClientTls::default()
        .with_ca_pem(ca.cert.pem().as_bytes())
        .expect("ca");
    let config = ClientConfig::default().with_tls(tls);
    assert!(Client::with_config(["https://127.0.0.1:8101"], config).is_ok());
}
