//! End-to-end: the Rust client (`idem-client`) against real `idem`
//! processes: failover when its node is killed, a lease that reports
//! itself lost (its holder paused past the lease and taken over) before the
//! holder could commit, a dropped lease that releases its key, `run_once`
//! replaying instead of running twice, and a reserve whose reply was lost
//! (swallowed on the way, or its node killed after the write) resumed by
//! the retry with the same token.

mod support;

use std::time::Duration;

use idem_client::{
    ApiKey, Client, ClientConfig, ClientError, KeyRecord, LeaseLost, Reservation, ReserveOptions,
    RunError, StoredResponse,
};
use support::Cluster;

/// A client of every node, with a client key of every namespace.
fn client(c: &Cluster) -> Client {
    let nodes: Vec<String> = (0..3).map(|i| c.url(i)).collect();
    Client::with_config(nodes, config(c)).expect("client")
}

fn config(c: &Cluster) -> ClientConfig {
    ClientConfig {
        retry_for: Duration::from_secs(20),
        api_key: Some(ApiKey::new(c.create_key("client", &["*"], None))),
        ..ClientConfig::default()
    }
}

fn response(body: &str) -> StoredResponse {
    StoredResponse::new(201, Default::default(), body).expect("response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_fails_over_when_its_node_is_killed() {
    let c = Cluster::start();
    let client = client(&c);
    // The first node answers first; kill it (and then whichever leads).
    let Reservation::Owned(lease) = client
        .reserve("shop", "order-1", &ReserveOptions::new().fingerprint("fp"))
        .await
        .expect("reserve")
    else {
        panic!("a fresh key is owned")
    };
    c.kill(0);
    lease.commit().await.expect("commit through another node");
    let done = lease
        .complete(response("{\"charge\":1}"))
        .await
        .expect("complete through another node");
    assert!(!done.replayed);
    let leader = c.leader();
    if leader != 0 {
        c.kill(leader);
        c.restart(0);
    }
    // Whatever is left answers: a retry replays the stored response.
    let again = client
        .reserve("shop", "order-1", &ReserveOptions::new().fingerprint("fp"))
        .await
        .expect("reserve after failover");
    match again {
        Reservation::Completed { response, token } => {
            assert_eq!(response.body(), "{\"charge\":1}");
            assert_eq!(token, done.token);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_learns_its_lease_is_lost_before_it_can_commit() {
    let c = Cluster::start();
    let holder = client(&c);
    let (tx, rx) = std::sync::mpsc::channel();
    // The holder runs on its own runtime, so that pausing its thread pauses
    // its heartbeats too, as a stopped process would.
    let paused = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let options = ReserveOptions::new().lease(Duration::from_millis(1_000));
            let Reservation::Owned(lease) = holder
                .reserve("shop", "order-2", &options)
                .await
                .expect("reserve")
            else {
                panic!("owned")
            };
            tx.send(lease.token()).expect("send");
            std::thread::sleep(Duration::from_millis(3_000)); // paused
            let confirmed = lease.is_confirmed();
            let commit = lease.commit().await;
            (confirmed, commit.map_err(|e| e.to_string()), lease.token())
        })
    });
    let first = rx.recv().expect("the holder reserved");
    let other = client(&c);
    let taken = other
        .reserve(
            "shop",
            "order-2",
            &ReserveOptions::new().wait(Duration::from_secs(10)),
        )
        .await
        .expect("reserve");
    let Reservation::TakenOver {
        lease,
        previous_committing,
    } = taken
    else {
        panic!("{taken:?}")
    };
    assert!(lease.token() > first);
    assert!(previous_committing.is_empty(), "the holder never committed");
    let (confirmed, commit, token) = paused.join().expect("holder");
    assert_eq!(token, first);
    assert!(!confirmed, "a paused holder's lease is not confirmed");
    let why = commit.expect_err("the paused holder must not commit");
    assert!(why.contains("lost"), "{why}");
    lease
        .complete(response("{}"))
        .await
        .expect("the new owner completes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_lease_releases_its_key_unless_committing() {
    let c = Cluster::start();
    let client = client(&c);
    let Reservation::Owned(lease) = client
        .reserve("shop", "order-3", &ReserveOptions::new())
        .await
        .expect("reserve")
    else {
        panic!("owned")
    };
    drop(lease);
    client.close().await;
    assert_eq!(client.get("shop", "order-3").await.expect("get"), None);
    // A committing lease, dropped, stays: the next owner hears of it.
    let options = ReserveOptions::new().lease(Duration::from_millis(500));
    let Reservation::Owned(lease) = client
        .reserve("shop", "order-3", &options)
        .await
        .expect("reserve")
    else {
        panic!("a released key is owned afresh")
    };
    lease.commit().await.expect("commit");
    let token = lease.token();
    drop(lease);
    client.close().await;
    match client.get("shop", "order-3").await.expect("get") {
        Some(KeyRecord::InProgress {
            committing_tokens, ..
        }) => assert_eq!(committing_tokens, vec![token]),
        other => panic!("{other:?}"),
    }
    let next = client
        .reserve("shop", "order-3", &options.wait(Duration::from_secs(10)))
        .await
        .expect("reserve");
    match next {
        Reservation::TakenOver {
            lease,
            previous_committing,
        } => {
            assert_eq!(previous_committing, vec![token]);
            let refused = lease.release().await;
            assert!(
                matches!(refused, Ok(())),
                "not committing itself: {refused:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_runs_once_and_replays_after() {
    let c = Cluster::start();
    let client = client(&c);
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    for _ in 0..3 {
        let runs = runs.clone();
        let got = client
            .run_once(
                "shop",
                "order-4",
                ReserveOptions::new().fingerprint("fp-4"),
                |token| async move {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, RunError<String>>(response(&format!("{{\"charged_by\":{token}}}")))
                },
                |_, _| async { Ok::<_, String>(None) },
            )
            .await
            .expect("run_once");
        assert!(got.body().starts_with("{\"charged_by\":"), "{got:?}");
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A different request under the same key is refused, typed.
    let err = client
        .reserve(
            "shop",
            "order-4",
            &ReserveOptions::new().fingerprint("other"),
        )
        .await
        .expect_err("fingerprint mismatch");
    match err {
        ClientError::Problem(p) => {
            assert_eq!(p.kind, idem_client::ProblemType::FingerprintMismatch)
        }
        other => panic!("{other:?}"),
    }
    let _ = LeaseLost::Absent;
}

/// `idem key ...` with the list of nodes: whether it succeeded, and its
/// stderr.
fn cli_raw(c: &Cluster, args: &[&str]) -> std::process::Output {
    let urls: Vec<String> = (0..3).map(|i| c.url(i)).collect();
    std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
        .arg("key")
        .args(args)
        .arg("--url")
        .arg(urls.join(","))
        .arg("--api-key")
        .arg(&c.admin_key)
        .output()
        .expect("run idem key")
}

/// `idem key ...`: whether it succeeded, and the JSON it printed.
fn cli(c: &Cluster, args: &[&str]) -> (bool, serde_json::Value) {
    let out = cli_raw(c, args);
    let text = String::from_utf8_lossy(&out.stdout);
    let json_start = text.find('{').unwrap_or(0);
    let value = serde_json::from_str(&text[json_start..])
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_holds_marks_and_completes_a_key() {
    let c = Cluster::start();
    c.kill(0); // the first URL is down: the command line fails over
    let (ok, reserved) = cli(
        &c,
        &[
            "reserve",
            "shop",
            "cli-1",
            "--fingerprint",
            "f",
            "--lease-ms",
            "30000",
        ],
    );
    assert!(ok, "{reserved}");
    let token = reserved["token"].as_u64().expect("token").to_string();
    let (ok, marked) = cli(
        &c,
        &[
            "heartbeat",
            "shop",
            "cli-1",
            "--token",
            &token,
            "--committing",
        ],
    );
    assert!(ok && marked["committing"] == true, "{marked}");
    let refused = cli_raw(&c, &["release", "shop", "cli-1", "--token", &token]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("committing"), "{why}");
    let (ok, done) = cli(
        &c,
        &[
            "complete",
            "shop",
            "cli-1",
            "--token",
            &token,
            "--status",
            "201",
            "--body",
            "{\"id\":1}",
        ],
    );
    assert!(ok, "{done}");
    let (ok, record) = cli(&c, &["get", "shop", "cli-1"]);
    assert!(ok && record["state"] == "completed", "{record}");
    assert_eq!(record["response"]["body"], "{\"id\":1}");
}

/// A TCP proxy in front of `upstream` that swallows the reply to the first
/// request it carries: it forwards the request, reads the answer (so the
/// write went through), keeps it, and closes the caller's connection
/// without a byte. Later connections pass through untouched.
struct ReplyEater {
    addr: std::net::SocketAddr,
    eaten: std::sync::mpsc::Receiver<String>,
}

impl ReplyEater {
    fn start(upstream: &str) -> ReplyEater {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, eaten) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (n, caller) in listener.incoming().enumerate() {
                let Ok(mut caller) = caller else { return };
                let Ok(mut server) = TcpStream::connect(&upstream) else {
                    return;
                };
                let (mut c2, mut s2) = match (caller.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => return,
                };
                // Caller to node, always.
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                    let _ = s2.shutdown(Shutdown::Write);
                });
                if n > 0 {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut server, &mut caller);
                        let _ = caller.shutdown(Shutdown::Write);
                    });
                    continue;
                }
                // The first connection: read the node's answer whole (it
                // is small and arrives at once), then hang up on the caller.
                let mut answer = Vec::new();
                let mut buf = [0u8; 4096];
                let _ = server.set_read_timeout(Some(Duration::from_millis(200)));
                loop {
                    match server.read(&mut buf) {
                        Ok(0) => break,
                        Ok(k) => answer.extend_from_slice(&buf[..k]),
                        Err(e)
                            if answer.is_empty()
                                && matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) =>
                        {
                            continue
                        }
                        Err(_) => break,
                    }
                }
                let _ = caller.flush();
                let _ = caller.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                let _ = tx.send(String::from_utf8_lossy(&answer).into_owned());
            }
        });
        ReplyEater { addr, eaten }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JSON body of the answer it swallowed.
    fn eaten_body(&self) -> serde_json::Value {
        let raw = self
            .eaten
            .recv_timeout(Duration::from_secs(10))
            .expect("the proxy swallowed an answer");
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserve_whose_reply_is_lost_is_resumed_by_the_clients_retry() {
    let c = Cluster::start();
    let eater = ReplyEater::start(&c.url(1));
    // The swallowing proxy is the only way to node 1 and comes first, so
    // the client's first try goes through it.
    let client =
        Client::with_config(vec![eater.url(), c.url(2), c.url(0)], config(&c)).expect("client");
    let reservation = client
        .reserve(
            "shop",
            "lost-reply",
            &ReserveOptions::new().fingerprint("fp"),
        )
        .await
        .expect("the retry answers");
    let eaten = eater.eaten_body();
    assert_eq!(
        eaten["outcome"], "reserved",
        "the first try was granted: {eaten}"
    );
    let Reservation::Owned(lease) = reservation else {
        panic!("the retry resumes the grant: {reservation:?}")
    };
    assert!(lease.resumed(), "the retry is a resume");
    assert_eq!(lease.token().to_string(), eaten["token"].to_string());
    // And it holds the key: another caller is told in progress.
    let other = client
        .reserve(
            "shop",
            "lost-reply",
            &ReserveOptions::new().fingerprint("fp"),
        )
        .await
        .expect("reserve");
    assert!(matches!(other, Reservation::InProgress { .. }), "{other:?}");
    let done = lease.complete(response("ok")).await.expect("complete");
    assert_eq!(done.token.to_string(), eaten["token"].to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserve_whose_node_is_killed_after_the_write_is_resumed_elsewhere() {
    let c = Cluster::start();
    let attempt = idem_client::new_attempt_id();
    let key = c.create_key("client", &["shop"], None);
    // The write is acknowledged by node 2; its answer counts as lost once
    // node 2 is killed (the caller never used it).
    let body = serde_json::json!({"fingerprint": "fp", "attempt": attempt, "lease_ms": 30_000});
    let first = support::send_as(
        "POST",
        &c.key_url(2, "shop", "killed-after", "reserve"),
        Some(&key),
        Some("application/json"),
        Some(&body.to_string()),
    )
    .expect("reserve answered");
    assert_eq!(first.status, 201, "{}", first.raw);
    c.kill(2);
    let nodes: Vec<String> = (0..2).map(|i| c.url(i)).collect();
    // The attempt is bound to the key that made the grant: the same attempt
    // id under another key is another caller, told the key is in progress.
    let retry = ReserveOptions::new()
        .fingerprint("fp")
        .attempt(attempt.clone());
    let stranger = client(&c)
        .reserve("shop", "killed-after", &retry)
        .await
        .expect("the stranger is answered");
    assert!(
        matches!(stranger, Reservation::InProgress { .. }),
        "{stranger:?}"
    );
    let config = ClientConfig {
        api_key: Some(ApiKey::new(&key)),
        ..config(&c)
    };
    let client = Client::with_config(nodes, config).expect("client");
    let again = client
        .reserve("shop", "killed-after", &retry)
        .await
        .expect("the retry answers");
    let Reservation::Owned(lease) = again else {
        panic!("the retry resumes the grant: {again:?}")
    };
    assert!(lease.resumed());
    assert_eq!(lease.token().to_string(), first.body["token"].to_string());
    lease.release().await.expect("release");
}
