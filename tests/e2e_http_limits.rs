//! End-to-end: what a client cannot do to a node's HTTP port. A body over
//! the limit gets its 413 even when the client writes all of it before
//! reading; a client that stalls in its headers is cut off, one that
//! stalls in its body gets 408; connections beyond the bound wait to be
//! accepted. Raw TCP, so that nothing in between is polite for it.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Cluster, Options};

fn cluster() -> Cluster {
    Cluster::start_with(Options {
        args: [
            "--http-header-timeout-ms",
            "700",
            "--http-body-timeout-ms",
            "700",
            "--http-max-connections",
            "4",
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    })
}

fn connect(c: &Cluster) -> TcpStream {
    let s = TcpStream::connect(&c.nodes[0].http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Everything the server sends until it closes the connection (or 20 s).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn head(c: &Cluster, length: usize) -> String {
    format!(
        "POST /v1/ns/lim/keys/k/reserve HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n",
        c.admin_key
    )
}

#[test]
fn a_client_that_writes_a_whole_oversized_body_before_reading_gets_its_413() {
    let c = cluster();
    let mut s = connect(&c);
    // Twice the 1.25 MiB request limit, written in full before reading.
    let body = vec![b' '; 2_600_000];
    s.write_all(head(&c, body.len()).as_bytes()).expect("head");
    s.write_all(&body)
        .expect("the whole body is read, not cut off by a reset");
    let reply = read_all(&mut s);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("urn:idem:problem:body-too-large"), "{reply}");
}

#[test]
fn stalled_headers_are_cut_off_and_a_stalled_body_gets_408() {
    let c = cluster();
    let mut stalled = connect(&c);
    stalled
        .write_all(b"POST /v1/ns/lim/keys/k/reserve HTTP/1.1\r\nhost:")
        .expect("write");
    // The server gives up on the headers and closes (no reply is owed).
    let reply = read_all(&mut stalled);
    assert!(!reply.contains("201"), "{reply}");

    let mut slow = connect(&c);
    slow.write_all(head(&c, 100).as_bytes()).expect("head");
    slow.write_all(b"{\"fingerprint\":")
        .expect("part of the body");
    let reply = read_all(&mut slow);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("urn:idem:problem:body-timeout"), "{reply}");
    // Nothing was reserved.
    let r = support::get(&c.key_url(0, "lim", "k", "")).expect("get");
    assert_eq!(r.status, 404, "{r:?}");
}

#[test]
fn connections_beyond_the_bound_wait_until_one_closes() {
    let c = cluster();
    // Four connections hold every slot, each stalled in its headers.
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(&c);
            s.write_all(b"GET /health HTTP/1.1\r\n").expect("write");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fifth = connect(&c);
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .expect("write");
    let reply = read_all(&mut fifth);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // It was answered only once the held ones had been cut off.
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_millis(10)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("a held connection was still open: {other:?}"),
        }
    }
}
