//! `idem-waiters`: a waiter's latency (reserve with `wait_ms`) against a
//! poller following `Retry-After`, on a running cluster.
//!
//! ```text
//! idem-waiters --url http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103 --rounds 200
//! ```

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "idem-waiters", about = "Waiter vs Retry-After poller latency")]
struct Cli {
    /// Nodes, comma-separated: the owner, the waiter and the poller use
    /// the first, second and third.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103"
    )]
    url: Vec<String>,
    #[arg(long, default_value_t = 100)]
    rounds: u64,
    #[arg(long, default_value = "bench-waiters")]
    namespace: String,
    /// The owner's lease: what `Retry-After` tells the poller to wait.
    #[arg(long, default_value_t = 2_000)]
    lease_ms: u64,
    /// A file holding the idem API key (a client key of --namespace).
    #[arg(long, env = "IDEM_API_KEY_FILE")]
    api_key_file: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let api_key = match &cli.api_key_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) => {
                eprintln!("idem-waiters: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("idem-waiters: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(idem_bench::waiters::measure(
        &cli.url,
        api_key.as_deref(),
        cli.rounds,
        &cli.namespace,
        cli.lease_ms,
    )) {
        Ok(report) => {
            print!("{}", report.text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idem-waiters: {e}");
            ExitCode::FAILURE
        }
    }
}
