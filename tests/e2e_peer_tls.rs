//! End-to-end: nodes trust only nodes. A cluster whose Raft port speaks
//! mutual TLS (certificates from `idem certs`) does what a cluster does:
//! replay across nodes, a leader killed with -9, restarts. Something that
//! reaches a node's Raft port without a certificate of the cluster's CA,
//! or presenting another cluster's id, is refused before any frame is read
//! and changes nothing, while a caller with the right id on a plain
//! cluster shows that the same frame would have been acted on.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

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

/// A CA in `dir/ca` and a certificate for each of four nodes (on
/// 127.0.0.1), in `dir`.
fn make_certs(dir: &Path) {
    let ca = dir.join("ca");
    certs(&["ca", "--out", ca.to_str().expect("path")]);
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
    let c = Arc::new(Cluster::start_with(tls_options(dir.path())));
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
