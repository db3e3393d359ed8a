//! `idem status` and `idem cluster ...`: the node routes from a terminal.
//! Prints the HTTP status and the JSON body; exits 0 on a 2xx answer, 1
//! otherwise. (`idem key ...` is in [`super::key`].)

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

pub fn cluster(args: ClusterArgs) -> ExitCode {
    let url = format!(
        "{}/v1/cluster/members",
        args.target.url.trim_end_matches('/')
    );
    let request = |method: &str, url: &str| args.target.request(method, url);
    match args.action {
        ClusterAction::Members => send(request("GET", &url), None),
        ClusterAction::Add { id, raft, http } => send(
            request("POST", &url),
            Some(json!({"id": id, "raft_addr": raft, "http_addr": http})),
        ),
        ClusterAction::Remove { id } => send(request("DELETE", &format!("{url}/{id}")), None),
    }
}

pub fn status(args: StatusArgs) -> ExitCode {
    let url = format!("{}/v1/cluster", args.target.url.trim_end_matches('/'));
    send(args.target.request("GET", &url), None)
}

/// Sends `request` (with `body` as JSON, nulls left out) and prints the
/// answer.
pub(crate) fn send(request: Result<ureq::Request, String>, body: Option<Value>) -> ExitCode {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::from(2);
        }
    };
    match body {
        Some(body) => show(
            request
                .set("content-type", "application/json")
                .send_string(&without_nulls(body).to_string()),
        ),
        None => show(request.call()),
    }
}

fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
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
