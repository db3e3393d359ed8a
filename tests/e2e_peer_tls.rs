//! End-to-end: nodes trust only nodes, and clients speak TLS. A cluster
//! whose Raft port speaks mutual TLS and whose API is HTTPS asking for
//! client certificates (all from `idem certs`) does what a cluster does:
//! replay across nodes, a leader killed with -9, restarts, through the
//! test's own HTTPS client, the Rust client and the CLI. A client without
//! a certificate of the CA, with another CA's, not trusting the nodes' CA,
//! or speaking plain HTTP gets no answer and changes nothing. Something
//! that reaches a node's Raft port without a certificate of the cluster's
//! CA, or presenting another cluster's id, is refused before any frame is
//! read and changes nothing, while a caller with the right id on a plain
//! cluster shows that the same frame would have been acted on.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use idem_client::{ApiKey, Client, ClientConfig, ClientTls, Reservation, ReserveOptions};
use idem_cluster::{encode_message, ClusterId, NodeAddr, Request};
use idem_core::{IdemKey, KeyId, Namespace, Reserve};
use serde_json::json;
use support::{Cluster, Options};

fn certs(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_idem"))
        .arg("certs")
        .args(args)
        .output()
        .expect("idem certs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA in `dir/ca`, a certificate for each of four nodes (on
/// 127.0.0.1) and a client certificate (`client`), in `dir`.
fn make_certs(dir: &Path) {
    let ca = dir.join("ca");
    certs(&["ca", "--out", ca.to_str().expect("path")]);
    certs(&[
        "client",
        "--ca",
        ca.to_str().expect("path"),
        "--name",
        "client",
        "--out",
        dir.to_str().expect("path"),
    ]);
    for n in 1..=4 {
        certs(&[
            "node",
            "--ca",
            ca.to_str().expect("path"),
            "--name",
            &format!("node{n}"),
            "--host",
            "127.0.0.1",
            "--out",
            dir.to_str().expect("path"),
        ]);
    }
}

fn tls_options(dir: &Path) -> Options {
    let p = |f: String| dir.join(f).to_string_lossy().into_owned();
    Options {
        node_args: (1..=4)
            .map(|n| {
                vec![
                    "--peer-ca".into(),
                    p("ca/ca.pem".into()),
                    "--peer-cert".into(),
                    p(format!("node{n}.pem")),
                    "--peer-key".into(),
                    p(format!("node{n}.key")),
                ]
            })
            .collect(),
        ..Options::default()
    }
}

/// A client of the CA in `dir` presenting `dir`'s client certificate.
fn client_tls(dir: &Path) -> ClientTls {
    ClientTls::default()
        .with_ca_file(dir.join("ca/ca.pem"))
        .and_then(|t| t.with_identity_files(dir.join("client.pem"), dir.join("client.key")))
        .expect("client TLS")
}

/// [`tls_options`], and HTTPS on the API asking for a client certificate
/// of the same CA.
fn https_options(dir: &Path) -> Options {
    let mut options = tls_options(dir);
    let p = |f: String| dir.join(f).to_string_lossy().into_owned();
    for (n, args) in (1..=4).zip(options.node_args.iter_mut()) {
        args.extend([
            "--tls-cert".into(),
            p(format!("node{n}.pem")),
            "--tls-key".into(),
            p(format!("node{n}.key")),
            "--tls-client-ca".into(),
            p("ca/ca.pem".into()),
        ]);
    }
    let config = client_tls(dir).rustls_config().expect("rustls config");
    options.https = Some(Arc::new(config));
    options
}

/// A reserve of `key` on node `i` with `tls` (`None`: plain HTTP to the
/// HTTPS port): the status, or the transport's error.
fn reserve_with(
    c: &Cluster,
    i: usize,
    tls: Option<rustls::ClientConfig>,
    key: &str,
) -> Result<u16, String> {
    let url = c.key_url(i, "tls", key, "reserve");
    let (agent, url) = match tls {
        Some(config) => (
            ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .tls_config(Arc::new(config))
                .build(),
            url,
        ),
        None => (
            ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .build(),
            url.replacen("https://", "http://", 1),
        ),
    };
    let result = agent
        .post(&url)
        .set("authorization", &format!("Bearer {}", c.admin_key))
        .set("content-type", "application/json")
        .send_string("{}");
    match result {
        Ok(r) => Ok(r.status()),
        Err(ureq::Error::Status(status, _)) => Ok(status),
        Err(e) => Err(e.to_string()),
    }
}

/// Opens a raw connection to node `i`'s Raft port, sends a hello with
/// `id` and then `request` as a frame; whether an answer came back.
fn inject(c: &Cluster, i: usize, id: [u8; 16], request: &Request) -> bool {
    let mut s = TcpStream::connect(&c.nodes[i].raft).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut bytes = b"idemhi\x01".to_vec();
    bytes.extend_from_slice(&id);
    let frame = encode_message(request).expect("encode");
    bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&frame);
    if s.write_all(&bytes).is_err() {
        return false;
    }
    // The hello's answer (17 bytes), then a frame: more than 17 bytes back
    // means the frame was read and answered.
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > 17 {
            break;
        }
    }
    got.len() > 17 && got[0] == 0
}

fn forged_reserve(name: &str) -> Request {
    Request::Forward(vec![idem_core::Command::Reserve(Reserve {
        id: KeyId::new(
            Namespace::new("tls").expect("ns"),
            IdemKey::new(name).expect("key"),
        ),
        fingerprint: None,
        lease: None,
        retain: None,
        attempt: None,
    })])
}

/// The id the three members derive (the default cluster name).
fn derived_id(c: &Cluster) -> [u8; 16] {
    let members = c.nodes[..3]
        .iter()
        .map(|n| {
            (
                n.id,
                NodeAddr {
                    raft: n.raft.clone(),
                    http: n.http.clone(),
                },
            )
        })
        .collect();
    ClusterId::derive("idem", &members).0
}

fn absent_everywhere(c: &Cluster, name: &str) {
    for i in 0..3 {
        let r = support::get(&c.key_url(i, "tls", name, "")).expect("get");
        assert_eq!(r.status, 404, "node {}: {r:?}", i + 1);
    }
}

#[test]
fn a_cluster_with_mutual_tls_replays_fails_over_and_restarts() {
    let dir = tempfile::tempdir().expect("dir");
    make_certs(dir.path());
    let c = Arc::new(Cluster::start_with(https_options(dir.path())));
    assert!(c.url(0).starts_with("https://"));
    let leader = c.leader();
    let (f1, f2) = ((leader + 1) % 3, (leader + 2) % 3);
    let r = c.reserve(f1, "tls", "order-1", json!({"fingerprint": "fp"}));
    assert_eq!(r.status, 201, "{r:?}");
    let token = r.body["token"].as_u64().expect("token");
    let r = c.complete(
        f2,
        "tls",
        "order-1",
        token,
        json!({"status": 201, "body": "ok"}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let replay = c.reserve(leader, "tls", "order-1", json!({"fingerprint": "fp"}));
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.body["response"]["body"], "ok");

    // kill -9 of the leader: the others elect a new one and keep writing.
    c.kill(leader);
    let r = c.reserve(f1, "tls", "order-2", json!({"fingerprint": "fp"}));
    assert_eq!(r.status, 201, "{r:?}");
    c.restart(leader);
    c.restart_all();
    let r = c.reserve(leader, "tls", "order-1", json!({"fingerprint": "fp"}));
    assert_eq!(r.status, 200, "{r:?}");

    // The Rust client over HTTPS: the replay, and a fresh key.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let nodes: Vec<String> = (0..3).map(|i| c.url(i)).collect();
        let config = ClientConfig::default()
            .with_api_key(ApiKey::new(&c.admin_key))
            .with_tls(client_tls(dir.path()));
        let client = Client::with_config(nodes, config).expect("client");
        let opts = ReserveOptions::new().fingerprint("fp");
        match client
            .reserve("tls", "order-1", &opts)
            .await
            .expect("reserve")
        {
            Reservation::Completed { response, .. } => assert_eq!(response.body(), "ok"),
            other => panic!("order-1 replays, got {other:?}"),
        }
        match client
            .reserve("tls", "order-3", &opts)
            .await
            .expect("reserve")
        {
            Reservation::Owned(lease) => drop(lease),
            other => panic!("order-3 is fresh, got {other:?}"),
        }
    });
    // The CLI over HTTPS.
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_idem"))
        .args(["key", "get", "tls", "order-1", "--url", &c.url(1)])
        .args([
            "--ca-cert",
            &p("ca/ca.pem"),
            "--client-cert",
            &p("client.pem"),
        ])
        .args(["--client-key", &p("client.key")])
        .env("IDEM_API_KEY", &c.admin_key)
        .output()
        .expect("idem key get");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"completed\""), "{stdout}");

    // Without a certificate of the cluster's CA nothing is read: not even
    // with the right cluster id.
    for i in 0..3 {
        assert!(!inject(&c, i, derived_id(&c), &forged_reserve("injected")));
    }
    absent_everywhere(&c, "injected");
}

#[test]
fn a_node_with_a_certificate_of_another_ca_cannot_join() {
    let dir = tempfile::tempdir().expect("dir");
    make_certs(dir.path());
    let rogue = tempfile::tempdir().expect("dir");
    make_certs(rogue.path());
    let mut options = tls_options(dir.path());
    // Node 4 (the spare) gets the other CA's material.
    options.node_args[3] = tls_options(rogue.path()).node_args[3].clone();
    let c = Cluster::start_with(options);
    c.start_joining(3);
    let add = support::post(
        &format!("{}/v1/cluster/members", c.url(0)),
        json!({"id": 4, "raft_addr": c.nodes[3].raft, "http_addr": c.nodes[3].http}),
    );
    // The leader cannot reach it over TLS, so it never catches up as a
    // learner; whatever the add answers, the rogue never votes.
    let _ = add;
    let members = support::get(&format!("{}/v1/cluster/members", c.url(0)))
        .expect("members")
        .body;
    let rogue_voter = members
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["id"] == 4 && m["voter"] == true);
    assert!(!rogue_voter, "{members}");
    let log = c.log(3);
    assert!(
        !log.contains("joined cluster"),
        "the rogue was never admitted:\n{log}"
    );
    // Each side refused the other's certificate at the TLS handshake.
    assert!(log.contains("refused a connection"), "{log}");
}

#[test]
fn a_plain_cluster_admits_only_callers_with_its_id() {
    let c = Cluster::start();
    let other = [7u8; 16];
    for i in 0..3 {
        assert!(!inject(&c, i, other, &forged_reserve("other-cluster")));
    }
    absent_everywhere(&c, "other-cluster");
    // Not a peer at all (an HTTP request on the Raft port): refused too.
    let mut s = TcpStream::connect(&c.nodes[0].raft).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 64];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    // The positive control: the same frame with the cluster's id is acted
    // on. This is why a non-loopback Raft port needs TLS.
    assert!(inject(
        &c,
        c.leader(),
        derived_id(&c),
        &forged_reserve("same-cluster")
    ));
    let r = support::get(&c.key_url(1, "tls", "same-cluster", "")).expect("get");
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn an_https_api_answers_only_clients_that_speak_its_tls() {
    let dir = tempfile::tempdir().expect("dir");
    make_certs(dir.path());
    let other = tempfile::tempdir().expect("dir");
    make_certs(other.path());
    let c = Cluster::start_with(https_options(dir.path()));
    let good = || client_tls(dir.path()).rustls_config().expect("config");
    // The control: the right CA and a client certificate of it.
    assert_eq!(reserve_with(&c, 0, Some(good()), "control"), Ok(201));
    let no_cert = ClientTls::default()
        .with_ca_file(dir.path().join("ca/ca.pem"))
        .and_then(|t| t.rustls_config())
        .expect("config");
    let other_ca_cert = ClientTls::default()
        .with_ca_file(dir.path().join("ca/ca.pem"))
        .and_then(|t| {
            t.with_identity_files(
                other.path().join("client.pem"),
                other.path().join("client.key"),
            )
        })
        .and_then(|t| t.rustls_config())
        .expect("config");
    let not_trusting = client_tls(other.path()).rustls_config().expect("config");
    for i in 0..3 {
        for (what, tls) in [
            ("no client certificate", Some(no_cert.clone())),
            (
                "another CA's client certificate",
                Some(other_ca_cert.clone()),
            ),
            ("not trusting the nodes' CA", Some(not_trusting.clone())),
            ("plain HTTP", None),
        ] {
            let answer = reserve_with(&c, i, tls, "refused");
            assert!(answer.is_err(), "node {}, {what}: {answer:?}", i + 1);
        }
    }
    for i in 0..3 {
        let r = support::get(&c.key_url(i, "tls", "refused", "")).expect("get");
        assert_eq!(r.status, 404, "node {}: {r:?}", i + 1);
        let r = support::get(&c.key_url(i, "tls", "control", "")).expect("get");
        assert_eq!(r.status, 200, "node {}: {r:?}", i + 1);
    }
}
