//! The generator end to end, against in-process fake servers (no external
//! service needed): every workload and both loops produce a sensible report.

mod support;

use clap::Parser;
use idem_bench::{run_to_report, BenchArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// The generator's flags from one line, as typed in a shell.
fn args(line: &str) -> BenchArgs {
    Cli::try_parse_from(std::iter::once("idem-bench").chain(line.split_whitespace()))
        .expect("flags parse")
        .bench
}

#[test]
fn idem_reserve_complete_runs_for_two_seconds_and_writes_json() {
    let server = support::start_http();
    let dir = tempfile::tempdir().expect("tempdir");
    let json_path = dir.path().join("result.json");
    let url = server.url();
    let json = json_path.display();
    let flags = format!(
        "--target idem --url {url} --workload reserve-complete -c 4 \
         --duration 2s --warmup 200ms --quiet --threads 1 --json {json}"
    );
    let report = run_to_report(&args(&flags)).expect("run");

    assert_eq!(
        report.counts.error, 0,
        "first error: {:?}",
        report.first_error
    );
    assert_eq!(report.counts.conflict, 0, "fresh keys never conflict");
    assert!(
        report.counts.ok > 100,
        "only {} operations in 2 s",
        report.counts.ok
    );
    assert_eq!(
        report.counts.by_status.get("200"),
        Some(&report.counts.ok),
        "complete answers 200"
    );
    // Two requests per operation (warm-up and the last in-flight ones included).
    assert!(server.requests("complete") >= report.counts.ok);
    assert!(server.requests("reserve") >= report.counts.ok);
    let latency = &report.latency_us;
    assert!(latency.p50 > 0 && latency.p50 <= latency.p90 && latency.p90 <= latency.p99);
    assert!(latency.p99 <= latency.p999 && latency.p999 <= latency.max);
    let expected_throughput = report.counts.ok as f64 / 2.0;
    assert!((report.throughput_ops_per_s - expected_throughput).abs() < 1e-6);

    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("json written"))
            .expect("valid json");
    assert_eq!(written["target"], "idem");
    assert_eq!(written["workload"], "reserve-complete");
    assert_eq!(written["connections"], 4);
    assert_eq!(written["counts"]["ok"], report.counts.ok);
    assert!(written["latency_us"]["p99"].as_u64().is_some());
}

#[test]
fn etcd_replay_in_open_loop_keeps_the_rate() {
    let server = support::start_http();
    let url = server.url();
    let flags = format!(
        "--target etcd --url {url},{url} --workload replay --keys 50 \
         -c 4 --rate 400 --duration 1s --warmup 200ms --quiet --threads 1"
    );
    let report = run_to_report(&args(&flags)).expect("run");

    assert_eq!(
        server.requests("txn"),
        50,
        "every replay key populated once"
    );
    assert_eq!(server.requests("put"), 50);
    assert_eq!(
        report.counts.error, 0,
        "first error: {:?}",
        report.first_error
    );
    assert_eq!(report.mode, "open");
    // 400 req/s for 1 s measured.
    assert!(
        (380..=420).contains(&report.counts.ok),
        "{} operations at 400 req/s for 1 s",
        report.counts.ok
    );
}

#[test]
fn an_open_loop_the_target_cannot_keep_up_with_stops_on_time_and_counts_unsent() {
    let server = support::start_http();
    let started = std::time::Instant::now();
    let report = run_to_report(&args(&format!(
        "--url {} -c 1 --rate 1000000 --duration 500ms --warmup 0 --quiet --threads 1",
        server.url()
    )))
    .expect("run");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        report.counts.unsent > 100_000,
        "unsent {}",
        report.counts.unsent
    );
    assert_eq!(
        report.counts.ok + report.counts.unsent,
        500_000,
        "every due operation is sent or unsent"
    );
}

#[test]
fn redis_contended_reserve_counts_conflicts() {
    let server = support::start_redis();
    let report = run_to_report(&args(&format!(
        "--target redis --url {} --keys 10 -c 2 --duration 1s --warmup 0 --quiet --threads 1",
        server.addr
    )))
    .expect("run");

    assert_eq!(
        report.counts.error, 0,
        "first error: {:?}",
        report.first_error
    );
    assert!(report.counts.ok <= 10, "only 10 keys can be reserved");
    assert!(report.counts.conflict > 10);
    assert_eq!(
        report.counts.by_status.get("nil"),
        Some(&report.counts.conflict)
    );
}

#[test]
fn an_unreachable_target_is_counted_as_errors_not_a_crash() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let report = run_to_report(&args(&format!(
        "--url http://127.0.0.1:{port} -c 2 --duration 300ms --warmup 0 --quiet --threads 1"
    )))
    .expect("run");
    assert_eq!(report.answered(), 0);
    assert!(report.counts.error > 0);
    assert_eq!(
        report.counts.by_status.get("transport"),
        Some(&report.counts.error)
    );
}

#[test]
fn a_plain_http_service_gets_a_fresh_idempotency_key_per_request() {
    let server = support::start_http();
    let url = server.url();
    let flags = format!(
        "--target http --url {url} --workload reserve -c 2 --duration 1s --warmup 100ms --quiet --threads 1"
    );
    let report = run_to_report(&args(&flags)).expect("run");
    assert_eq!(
        report.counts.error, 0,
        "first error: {:?}",
        report.first_error
    );
    assert!(report.counts.ok > 50, "only {} in 1 s", report.counts.ok);
    assert_eq!(report.counts.by_status.get("201"), Some(&report.counts.ok));
    assert!(server.requests("charges") >= report.counts.ok);
    // reserve-complete has no meaning here.
    let flags = format!("--target http --url {url} --workload reserve-complete --quiet");
    assert!(run_to_report(&args(&flags)).is_err());
}
