//! `idem-proxy`: the proxy on its own (the `idem` binary runs the same as
//! `idem proxy`), for hosts that need no idem node.

use clap::Parser;
use idem_proxy::ProxyArgs;

#[derive(Parser)]
#[command(
    name = "idem-proxy",
    version,
    about = "Idempotency-Key proxy in front of any HTTP service, on idem"
)]
struct Cli {
    #[command(flatten)]
    proxy: ProxyArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match idem_proxy::run(&cli.proxy).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idem-proxy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
