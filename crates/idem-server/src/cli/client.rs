//! `idem status` and `idem key ...`: the HTTP API from a terminal. Prints
//! the HTTP status and the JSON body; exits 0 on a 2xx answer, 1 otherwise.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::Target;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// List the members, their state, lag and clock offset.
    Members,
    /// Add a node (started with `idem start --join`): it joins as a learner
    /// and becomes a voter once it has caught up.
    Add {
        #[arg(long)]
        id: u64,
        /// The new node's inter-node address.
        #[arg(long)]
        raft: String,
        /// The new node's HTTP address.
        #[arg(long, default_value = "")]
        http: String,
    },
    /// Remove a node from the cluster.
    Remove {
        #[arg(long)]
        id: u64,
    },
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
    /// Claim a key before running a side effect.
    Reserve {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        fingerprint: Option<String>,
        #[arg(long)]
        lease_ms: Option<u64>,
        #[arg(long)]
        retain_ms: Option<u64>,
    },
    /// Extend the lease you hold.
    Heartbeat {
        #[command(flatten)]
        name: KeyName,
        #[arg(long)]
        token: u64,
        #[arg(long)]
        lease_ms: Option<u64>,
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
    },
    /// Show the key's record.
    Get {
        #[command(flatten)]
        name: KeyName,
    },
}

pub fn cluster(args: ClusterArgs) -> ExitCode {
    let url = format!(
        "{}/v1/cluster/members",
        args.target.url.trim_end_matches('/')
    );
    match args.action {
        ClusterAction::Members => show(ureq::get(&url).call()),
        ClusterAction::Add { id, raft, http } => post(
            &url,
            json!({"id": id, "raft_addr": raft, "http_addr": http}),
        ),
        ClusterAction::Remove { id } => show(ureq::delete(&format!("{url}/{id}")).call()),
    }
}

pub fn status(args: StatusArgs) -> ExitCode {
    let url = format!("{}/v1/cluster", args.target.url.trim_end_matches('/'));
    show(ureq::get(&url).call())
}

fn key_url(target: &Target, name: &KeyName, action: &str) -> String {
    let base = target.url.trim_end_matches('/');
    let ns = encode_segment(&name.namespace);
    let key = encode_segment(&name.key);
    if action.is_empty() {
        format!("{base}/v1/ns/{ns}/keys/{key}")
    } else {
        format!("{base}/v1/ns/{ns}/keys/{key}/{action}")
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn post(url: &str, body: Value) -> ExitCode {
    show(
        ureq::post(url)
            .set("content-type", "application/json")
            .send_string(&without_nulls(body).to_string()),
    )
}

pub fn key(args: KeyArgs) -> ExitCode {
    let t = &args.target;
    match args.action {
        KeyAction::Reserve {
            name,
            fingerprint,
            lease_ms,
            retain_ms,
        } => post(
            &key_url(t, &name, "reserve"),
            json!({"fingerprint": fingerprint, "lease_ms": lease_ms, "retain_ms": retain_ms}),
        ),
        KeyAction::Heartbeat {
            name,
            token,
            lease_ms,
        } => post(
            &key_url(t, &name, "heartbeat"),
            json!({"token": token, "lease_ms": lease_ms}),
        ),
        KeyAction::Complete {
            name,
            token,
            status,
            body,
            headers,
        } => {
            let mut map = serde_json::Map::new();
            for h in headers {
                let Some((k, v)) = h.split_once(':') else {
                    eprintln!("idem: header {h:?} is not name:value");
                    return ExitCode::FAILURE;
                };
                map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
            }
            post(
                &key_url(t, &name, "complete"),
                json!({"token": token, "response": {"status": status, "headers": map, "body": body}}),
            )
        }
        KeyAction::Release { name, token } => {
            post(&key_url(t, &name, "release"), json!({"token": token}))
        }
        KeyAction::Get { name } => show(ureq::get(&key_url(t, &name, "")).call()),
    }
}

fn show(result: Result<ureq::Response, ureq::Error>) -> ExitCode {
    let (response, ok) = match result {
        Ok(r) => (r, true),
        Err(ureq::Error::Status(_, r)) => (r, false),
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = response.status();
    let replayed = response.header("idempotent-replayed").map(str::to_string);
    let retry_after = response.header("retry-after").map(str::to_string);
    let body = response.into_string().unwrap_or_default();
    println!("HTTP {status}");
    if let Some(r) = replayed {
        println!("Idempotent-Replayed: {r}");
    }
    if let Some(r) = retry_after {
        println!("Retry-After: {r}");
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or(body)),
        Err(_) => println!("{body}"),
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
