//! One chaos run, start to end: network, nodes, clients and nemeses; then
//! the history is checked and the report written to the output folder:
//!
//! - `history.jsonl`: every event, one per line
//! - `check.json`: the checkers' verdicts
//! - `summary.txt`: ops and outcomes per nemesis, violations, verdicts
//! - `timeline.svg`: latency over time with the nemesis windows shaded
//! - `nN.log`: each node's own log

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idem_jepsen_check::history::Event;
use idem_jepsen_check::{check, report, CheckLimits, CheckReport};

use crate::error::HarnessError;
use crate::nemesis::{run_schedules, NemesisKind, Stage};
use crate::netns::TestNet;
use crate::nodes::{wait_ready, NodeOptions, Nodes, FAKETIME_LIB};
use crate::payments::{self, start_workers, Ledger, PaymentOptions, PaymentTally};
use crate::proxy_storm::{self, StormTally, Upstream};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::workload::{Client, Tally, WorkloadOptions};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub binary: PathBuf,
    pub out: PathBuf,
    pub seconds: u64,
    pub nemeses: Vec<NemesisKind>,
    pub seed: u64,
    pub clients: u32,
    pub keys: u32,
    pub planted_bug: Option<String>,
    /// Run the payments workload (`crate::payments`) instead of the key
    /// workload; `careless`: its workers skip the committing mark.
    pub payments: Option<Payments>,
    /// Run the proxy workload (`crate::proxy_storm`) instead: retried
    /// requests through three `idem proxy` processes.
    pub proxy: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Payments {
    pub careless: bool,
}

/// What a run found.
pub struct RunOutcome {
    pub report: CheckReport,
    /// Problems of the run itself (a node that crashed on its own, replies
    /// the API does not give): each makes the run fail.
    pub run_errors: Vec<String>,
    /// The payments or proxy workload's report, and whether no order was
    /// charged twice.
    pub payments: Option<(String, bool)>,
}

impl RunOutcome {
    pub fn is_valid(&self) -> bool {
        self.report.is_valid()
            && self.run_errors.is_empty()
            && self.payments.as_ref().is_none_or(|(_, valid)| *valid)
    }
}

/// Time at the end of a run with no faults, so the cluster recovers and the
/// last operations settle.
const QUIET_TAIL: Duration = Duration::from_secs(6);

pub fn run(options: &RunOptions) -> Result<RunOutcome, HarnessError> {
    preflight(options)?;
    prepare_out_dir(&options.out)?;
    let net = TestNet::new("idemj", 3);
    net.create()?;
    // From here on, the namespaces go away whatever happens.
    let result = run_in_net(options, &net);
    net.destroy();
    result
}

fn preflight(options: &RunOptions) -> Result<(), HarnessError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(HarnessError::NotRoot);
    }
    if !options.binary.is_file() {
        return Err(HarnessError::Missing(
            format!("idem binary {}", options.binary.display()),
            "build it with `cargo build --release --bin idem`".into(),
        ));
    }
    if !Path::new(FAKETIME_LIB).is_file() {
        return Err(HarnessError::Missing(
            FAKETIME_LIB.into(),
            "apt-get install libfaketime".into(),
        ));
    }
    for tool in ["ip", "iptables"] {
        let found = std::process::Command::new(tool).arg("-V").output().is_ok();
        if !found {
            return Err(HarnessError::Missing(
                tool.into(),
                "apt-get install iproute2 iptables".into(),
            ));
        }
    }
    if options.keys == 0 || options.clients == 0 {
        return Err(HarnessError::Usage(
            "--keys and --clients must be at least 1".into(),
        ));
    }
    Ok(())
}

fn prepare_out_dir(out: &Path) -> Result<(), HarnessError> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| HarnessError::io(out.display(), e))?;
    }
    std::fs::create_dir_all(out).map_err(|e| HarnessError::io(out.display(), e))
}

fn run_in_net(options: &RunOptions, net: &TestNet) -> Result<RunOutcome, HarnessError> {
    // The clients run in the hub namespace: enter it before any runtime
    // thread exists, so all of them are born there.
    net.enter_hub()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| HarnessError::io("tokio runtime", e))?;
    let out = std::fs::canonicalize(&options.out)
        .map_err(|e| HarnessError::io(options.out.display(), e))?;
    let binary = std::fs::canonicalize(&options.binary)
        .map_err(|e| HarnessError::io(options.binary.display(), e))?;
    let nodes = Arc::new(Nodes::new(
        net.clone(),
        NodeOptions {
            binary,
            planted_bug: options.planted_bug.clone(),
        },
        &out,
    ));
    let recorder = Arc::new(Recorder::create(&out.join("history.jsonl"))?);
    let result = runtime.block_on(drive(options, net, nodes.clone(), recorder.clone()));
    nodes.kill_all();
    let (run_errors, payments) = result?;
    let events = recorder.finish();
    let report = check(&events, &CheckLimits::default());
    write_report(
        &out,
        options,
        &events,
        &report,
        &run_errors,
        payments.as_ref(),
    )?;
    Ok(RunOutcome {
        report,
        run_errors,
        payments,
    })
}

async fn drive(
    options: &RunOptions,
    net: &TestNet,
    nodes: Arc<Nodes>,
    recorder: Arc<Recorder>,
) -> Result<(Vec<String>, Option<(String, bool)>), HarnessError> {
    let ids = nodes.ids();
    nodes.make_certificates()?;
    crate::client_tls::load(&nodes.tls_dir())?;
    for &n in &ids {
        nodes.start(n)?;
    }
    wait_ready(&ids, Duration::from_secs(60)).await?;
    crate::api_keys::bootstrap(ids[0], &nodes.data_dir(ids[0]), Duration::from_secs(30)).await?;
    eprintln!(
        "cluster ready; {} clients on {} keys for {} s, nemeses: {}, seed {}",
        options.clients,
        options.keys,
        options.seconds,
        names(&options.nemeses),
        options.seed
    );

    let mut rng = Rng::new(options.seed);
    let workload = Arc::new(WorkloadOptions {
        keys: options.keys,
        nodes: ids.clone(),
        lease_ms: (500, 2_000),
        retain_ms: (1_000, 3_000),
        timeout: Duration::from_secs(6),
    });
    let tally = Arc::new(Tally::default());
    let next_process = Arc::new(AtomicU64::new(0));
    let stop_clients = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    let ledger = Arc::new(Ledger::default());
    let payment_tally = Arc::new(PaymentTally::default());
    let mut payment_workers = Vec::new();
    if let Some(p) = options.payments {
        let payment_options = PaymentOptions {
            workers: options.clients,
            node_urls: ids
                .iter()
                .map(|n| format!("{}://{}", crate::client_tls::scheme(), Nodes::http_addr(*n)))
                .collect(),
            lease: Duration::from_secs(2),
            careless: p.careless,
        };
        payment_workers = start_workers(
            &payment_options,
            &mut rng,
            ledger.clone(),
            payment_tally.clone(),
            stop_clients.clone(),
        );
    }
    let upstream = Arc::new(Upstream::default());
    let storm_tally = Arc::new(StormTally::default());
    let mut storm_workers = Vec::new();
    let mut proxies = Vec::new();
    if options.proxy {
        let addr = proxy_storm::start_upstream(upstream.clone()).await?;
        let binary = std::fs::canonicalize(&options.binary)
            .map_err(|e| HarnessError::io(options.binary.display(), e))?;
        let urls: Vec<String> = ids
            .iter()
            .map(|n| format!("{}://{}", crate::client_tls::scheme(), Nodes::http_addr(*n)))
            .collect();
        let out = std::fs::canonicalize(&options.out)
            .map_err(|e| HarnessError::io(options.out.display(), e))?;
        let key = crate::client_keys::keys().map(|k| k.client.clone());
        proxies = proxy_storm::start_proxies(&binary, &urls, key.as_deref(), addr, &out)?;
        let addrs: Vec<_> = proxies.iter().map(|(a, _)| *a).collect();
        for a in &addrs {
            wait_listening(*a, Duration::from_secs(30)).await?;
        }
        storm_workers = proxy_storm::start_workers(
            options.clients,
            addrs,
            &mut rng,
            storm_tally.clone(),
            stop_clients.clone(),
        );
    }
    for id in 0..options.clients {
        if options.payments.is_some() || options.proxy {
            break;
        }
        let client = Client::new(
            id,
            rng.fork(id as u64),
            workload.clone(),
            recorder.clone(),
            tally.clone(),
            next_process.clone(),
        );
        clients.push(tokio::spawn(client.run(stop_clients.clone())));
    }

    let stage = Arc::new(Stage {
        net: net.clone(),
        nodes: nodes.clone(),
        recorder: recorder.clone(),
    });
    let stop_nemeses = Arc::new(AtomicBool::new(false));
    let nemeses = tokio::spawn(run_schedules(
        stage.clone(),
        options.nemeses.clone(),
        rng.fork(1_000),
        stop_nemeses.clone(),
    ));

    let total = Duration::from_secs(options.seconds);
    let faults_until = total.saturating_sub(QUIET_TAIL);
    let mut run_errors = Vec::new();
    let start = tokio::time::Instant::now();
    let mut last_report = start;
    while start.elapsed() < total {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if start.elapsed() >= faults_until && !stop_nemeses.load(Ordering::SeqCst) {
            stop_nemeses.store(true, Ordering::SeqCst);
        }
        for (node, status) in nodes.exited() {
            let message = format!(
                "node {node} exited on its own ({status}) at {:.1} s; see n{node}.log",
                recorder.elapsed_secs()
            );
            eprintln!("{message}");
            run_errors.push(message);
            nodes.start(node)?;
        }
        if last_report.elapsed() >= Duration::from_secs(10) && options.payments.is_some() {
            last_report = tokio::time::Instant::now();
            let (orders, charges, twice) = ledger.totals();
            eprintln!(
                "[{:7.1}s] payments {} answered {} orders {orders} charges {charges} charged twice {}",
                recorder.elapsed_secs(),
                payment_tally.requests.load(Ordering::Relaxed),
                payment_tally.answered.load(Ordering::Relaxed),
                twice.len()
            );
        }
        if last_report.elapsed() >= Duration::from_secs(10) && options.proxy {
            last_report = tokio::time::Instant::now();
            eprintln!(
                "[{:7.1}s] proxy storm requests {} executed {} replayed {} unknown {} unavailable {}",
                recorder.elapsed_secs(),
                storm_tally.requests.load(Ordering::Relaxed),
                storm_tally.executed.load(Ordering::Relaxed),
                storm_tally.replayed.load(Ordering::Relaxed),
                storm_tally.unknown.load(Ordering::Relaxed),
                storm_tally.unavailable.load(Ordering::Relaxed)
            );
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = tokio::time::Instant::now();
            eprintln!(
                "[{:7.1}s] ops {} ok {} info {} fail {}",
                recorder.elapsed_secs(),
                tally.ops.load(Ordering::Relaxed),
                tally.ok.load(Ordering::Relaxed),
                tally.info.load(Ordering::Relaxed),
                tally.fail.load(Ordering::Relaxed)
            );
        }
    }
    stop_nemeses.store(true, Ordering::SeqCst);
    match nemeses.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => run_errors.push(format!("nemesis failed: {e}")),
        Err(e) => run_errors.push(format!("nemesis task failed: {e}")),
    }
    // Heal before the clients stop, so the faults' ends are seen.
    stage.heal_everything()?;
    stop_clients.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.await;
    }
    let joined = tokio::task::spawn_blocking(move || {
        for w in payment_workers.into_iter().chain(storm_workers) {
            let _ = w.join();
        }
    });
    let _ = joined.await;
    for (_, mut child) in proxies {
        let _ = child.kill();
        let _ = child.wait();
    }
    let payments = options
        .payments
        .map(|p| payments::summary(&ledger, &payment_tally, p.careless))
        .or_else(|| {
            options
                .proxy
                .then(|| proxy_storm::summary(&upstream, &storm_tally))
        });
    let unexpected = tally.unexpected.load(Ordering::Relaxed);
    if unexpected > 0 {
        run_errors.push(format!(
            "{unexpected} replies were not any answer the API gives (see the `unexpected reply` info events)"
        ));
    }
    Ok((run_errors, payments))
}

/// Waits until something accepts connections on `addr`.
async fn wait_listening(addr: std::net::SocketAddr, within: Duration) -> Result<(), HarnessError> {
    let until = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < until {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(HarnessError::io(
        format!("idem proxy on {addr}"),
        std::io::Error::new(std::io::ErrorKind::TimedOut, "not listening"),
    ))
}

fn names(kinds: &[NemesisKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

fn write_report(
    out: &Path,
    options: &RunOptions,
    events: &[Event],
    report: &CheckReport,
    run_errors: &[String],
    payments: Option<&(String, bool)>,
) -> Result<(), HarnessError> {
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| HarnessError::io(path.display(), e))
    };
    write(
        "check.json",
        serde_json::to_string_pretty(report).unwrap_or_default(),
    )?;
    write("timeline.svg", report::timeline_svg(events, report))?;
    let mut summary = format!(
        "idem chaos run: {} s, seed {}, nemeses {}, {} clients, {} keys{}\n\n",
        options.seconds,
        options.seed,
        names(&options.nemeses),
        options.clients,
        options.keys,
        match &options.planted_bug {
            Some(b) => format!(", PLANTED BUG {b}"),
            None => String::new(),
        }
    );
    if let Some((text, _)) = payments {
        summary.push_str(text);
        summary.push('\n');
    }
    summary.push_str(&report::summary_text(events, report));
    if !run_errors.is_empty() {
        summary.push_str("\nProblems of the run itself (each fails it):\n");
        for e in run_errors.iter() {
            summary.push_str(&format!("  - {e}\n"));
        }
    }
    write("summary.txt", summary)?;
    Ok(())
}
