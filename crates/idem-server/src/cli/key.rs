//! `idem key ...`: one key's routes from a terminal, through the Rust
//! client (`idem-client`), so the command line fails over between nodes and
//! retries exactly where the client does. Prints the outcome as JSON; exits
//! 0 on success, 1 on a problem (printed with its type).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use idem_client::{
    Client, ClientConfig, ClientError, FencingToken, KeyRecord, Reservation, ReserveOptions,
};
use idem_core::StoredResponse;
use serde_json::{json, Value};

use super::Target;

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct KeyName {
    /// Namespace (a short slug, e.g. `payments`).
    pub namespace: String,
    /// The idempotency key.
    pub key: String,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Claim a key before running a side effect. Prints the token to
    /// heartbeat, complete or release with.
    Reserve {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        fingerprint: Option<String>,
        #[arg(long)]
        lease_ms: Option<u64>,
        #[arg(long)]
        retain_ms: Option<u64>,
        /// Your attempt id for this request: send the same one to resume
        /// the grant if the reply was lost (default: a fresh random one).
        #[arg(long)]
        attempt: Option<String>,
        /// Wait up to this long for another attempt's result.
        #[arg(long)]
        wait_ms: Option<u64>,
    },
    /// Extend the lease you hold.
    Heartbeat {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        token: u64,
        #[arg(long)]
        lease_ms: Option<u64>,
        /// Mark the key committing: you are about to run the side effect.
        #[arg(long)]
        committing: bool,
    },
    /// Store the side effect's response.
    Complete {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        token: u64,
        /// HTTP status of the stored response.
        #[arg(long, default_value_t = 200)]
        status: u16,
        /// Body of the stored response.
        #[arg(long, default_value = "")]
        body: String,
        /// A header of the stored response, `name:value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
    },
    /// Give the key up (a retryable failure).
    Release {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        token: u64,
        /// Assert the side effect did not run (needed after `--committing`).
        #[arg(long)]
        not_committed: bool,
    },
    /// Show the key's record.
    Get {
        #[command(flatten)]
        name: KeyName,
    },
}

pub fn key(args: KeyArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::FAILURE;
        }
    };
    let nodes: Vec<String> = args.target.url.split(',').map(str::to_owned).collect();
    let api_key = match args.target.api_key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = match args.target.tls() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let config = ClientConfig {
            api_key,
            tls,
            ..ClientConfig::default()
        };
        let client = Client::with_config(nodes, config)?;
        run(&client, args.action).await
    });
    match result {
        Ok(value) => {
            println!("{}", pretty(&value));
            ExitCode::SUCCESS
        }
        Err(CliError::Client(ClientError::Problem(p))) => {
            println!("HTTP {}", p.status);
            println!("{}", pretty(&p.document));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("idem: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Usage(String),
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

async fn run(client: &Client, action: KeyAction) -> Result<Value, CliError> {
    let ms = Duration::from_millis;
    Ok(match action {
        KeyAction::Reserve {
            name,
            fingerprint,
            lease_ms,
            retain_ms,
            attempt,
            wait_ms,
        } => {
            let mut options = ReserveOptions::new();
            if let Some(f) = fingerprint {
                options = options.fingerprint(f);
            }
            if let Some(l) = lease_ms {
                options = options.lease(ms(l));
            }
            if let Some(r) = retain_ms {
                options = options.retain(ms(r));
            }
            if let Some(a) = attempt {
                options = options.attempt(a);
            }
            if let Some(w) = wait_ms {
                options = options.wait(ms(w));
            }
            match client.reserve(&name.namespace, &name.key, &options).await? {
                // The lease is handed to the terminal: no heartbeats, no
                // release when this process exits.
                Reservation::Owned(lease) => {
                    let (resumed, remaining) = (lease.resumed(), lease.remaining());
                    let token = lease.detach().await;
                    json!({"outcome": "reserved", "token": token, "takeover": false,
                           "resumed": resumed, "lease_remaining_ms": remaining.as_millis() as u64})
                }
                Reservation::TakenOver {
                    lease,
                    previous_committing,
                } => {
                    let (resumed, remaining) = (lease.resumed(), lease.remaining());
                    let token = lease.detach().await;
                    json!({"outcome": "reserved", "token": token, "takeover": true,
                           "resumed": resumed, "lease_remaining_ms": remaining.as_millis() as u64,
                           "previous_committing_tokens": previous_committing})
                }
                Reservation::Completed { response, token } => {
                    json!({"outcome": "completed", "token": token, "response": response})
                }
                Reservation::InProgress { retry_after } => {
                    json!({"outcome": "in_progress", "retry_after_ms": retry_after.as_millis() as u64})
                }
            }
        }
        KeyAction::Heartbeat {
            name,
            token,
            lease_ms,
            committing,
        } => {
            let hb = client
                .heartbeat(
                    &name.namespace,
                    &name.key,
                    FencingToken(token),
                    lease_ms.map(ms),
                    committing,
                )
                .await?;
            json!({"outcome": "extended", "token": token,
                   "lease_remaining_ms": hb.remaining.as_millis() as u64, "committing": hb.committing})
        }
        KeyAction::Complete {
            name,
            token,
            status,
            body,
            headers,
        } => {
            let mut map = std::collections::BTreeMap::new();
            for h in headers {
                let Some((k, v)) = h.split_once(':') else {
                    return Err(CliError::Usage(format!("header {h:?} is not name:value")));
                };
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
            let response = StoredResponse::new(status, map, body)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let done = client
                .complete(&name.namespace, &name.key, FencingToken(token), &response)
                .await?;
            json!({"outcome": "completed", "token": done.token, "replayed": done.replayed,
                   "retain_remaining_ms": done.retained_for.as_millis() as u64})
        }
        KeyAction::Release {
            name,
            token,
            not_committed,
        } => {
            client
                .release(
                    &name.namespace,
                    &name.key,
                    FencingToken(token),
                    not_committed,
                )
                .await?;
            json!({"outcome": "released", "token": token})
        }
        KeyAction::Get { name } => match client.get(&name.namespace, &name.key).await? {
            None => json!({"state": "absent"}),
            Some(record) => record_json(&record),
        },
    })
}

fn record_json(record: &KeyRecord) -> Value {
    match record {
        KeyRecord::Minted {
            retain_remaining_ms,
            ..
        } => json!({"state": "minted", "retain_remaining_ms": retain_remaining_ms}),
        KeyRecord::InProgress {
            token,
            fingerprint,
            lease_remaining_ms,
            lease_expired,
            committing,
            committing_tokens,
            ..
        } => json!({"state": "in_progress", "token": token, "fingerprint": fingerprint,
                    "lease_remaining_ms": lease_remaining_ms, "lease_expired": lease_expired,
                    "committing": committing, "committing_tokens": committing_tokens}),
        KeyRecord::Completed {
            token,
            fingerprint,
            retain_remaining_ms,
            response,
        } => json!({"state": "completed", "token": token, "fingerprint": fingerprint,
                    "retain_remaining_ms": retain_remaining_ms, "response": response}),
        KeyRecord::Released {
            token,
            fingerprint,
            retain_remaining_ms,
            committing_tokens,
        } => json!({"state": "released", "token": token, "fingerprint": fingerprint,
                    "retain_remaining_ms": retain_remaining_ms, "committing_tokens": committing_tokens}),
    }
}
