//! `cargo run -p axum-payments -- --nodes http://127.0.0.1:8101`: the
//! example payments service on 127.0.0.1:9100, keys in namespace
//! `payments`. See the README's walk-through.

use std::sync::Arc;

use axum_payments::{app, Ledger};
use clap::Parser;
use idem_client::{ApiKey, Client, ClientConfig};
use idem_tower::{Guard, GuardConfig};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: String,
    /// idem nodes, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103"
    )]
    nodes: Vec<String>,
    #[arg(long, default_value = "payments")]
    namespace: String,
    /// A file holding the idem API key (a client key of --namespace).
    #[arg(long, env = "IDEM_API_KEY_FILE")]
    api_key_file: Option<std::path::PathBuf>,
    /// Where charges are appended.
    #[arg(long, default_value = "payments.jsonl")]
    ledger: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let api_key = args
        .api_key_file
        .as_ref()
        .map(|path| ApiKey::from_file(path).map_err(|e| format!("{}: {e}", path.display())))
        .transpose()?;
    let config = ClientConfig {
        api_key,
        ..ClientConfig::default()
    };
    let client = Client::with_config(args.nodes, config).map_err(|e| e.to_string())?;
    let guard = Guard::new(client, GuardConfig::new(args.namespace)).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    println!(
        "payments on http://{}, ledger {}",
        args.listen,
        args.ledger.display()
    );
    axum::serve(listener, app(guard, Arc::new(Ledger::new(args.ledger))))
        .await
        .map_err(|e| e.to_string())
}
