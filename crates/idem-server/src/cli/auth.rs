//! `idem auth ...`: API keys from a terminal (with an admin key). Prints
//! the HTTP status and the JSON body like `idem cluster`; `create` and
//! `rotate` with `--print-key` print only the new key, for scripts.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::send;
use super::Target;

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub action: AuthAction,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum AuthAction {
    /// Create a key (its secret is shown once).
    Create {
        /// What the key is for (shown by `list`).
        #[arg(long)]
        name: String,
        /// client, monitor or admin.
        #[arg(long, default_value = "client")]
        role: String,
        /// A namespace a client key may use (repeat, or `*` for all).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Refused from this many seconds on.
        #[arg(long)]
        expires_in_s: Option<u64>,
        /// Print only the new key (for scripts).
        #[arg(long)]
        print_key: bool,
    },
    /// List every key (never their secrets).
    List,
    /// Show one key.
    Show { id: String },
    /// Make a new key like this one; the old one stays valid for the grace.
    Rotate {
        id: String,
        /// How long the old key stays valid [default: a day].
        #[arg(long)]
        old_expires_in_s: Option<u64>,
        /// Print only the new key (for scripts).
        #[arg(long)]
        print_key: bool,
    },
    /// Revoke a key for good.
    Revoke { id: String },
}

pub fn run(args: AuthArgs) -> ExitCode {
    let base = format!("{}/v1/auth/keys", args.target.url.trim_end_matches('/'));
    let target = &args.target;
    let request = |method: &str, url: &str| target.request(method, url);
    match args.action {
        AuthAction::Create {
            name,
            role,
            namespaces,
            expires_in_s,
            print_key,
        } => {
            let namespaces = (!namespaces.is_empty()).then_some(namespaces);
            let body = json!({
                "name": name, "role": role, "namespaces": namespaces,
                "expires_in_s": expires_in_s,
            });
            if print_key {
                print_new_key(request("POST", &base), body)
            } else {
                send(request("POST", &base), Some(body))
            }
        }
        AuthAction::List => send(request("GET", &base), None),
        AuthAction::Show { id } => send(request("GET", &format!("{base}/{id}")), None),
        AuthAction::Rotate {
            id,
            old_expires_in_s,
            print_key,
        } => {
            let url = format!("{base}/{id}/rotate");
            let body = json!({ "old_expires_in_s": old_expires_in_s });
            if print_key {
                print_new_key(request("POST", &url), body)
            } else {
                send(request("POST", &url), Some(body))
            }
        }
        AuthAction::Revoke { id } => send(request("DELETE", &format!("{base}/{id}")), None),
    }
}

/// Sends a create or rotate and prints only the new key; anything but a
/// 201 is printed to stderr and exits 1.
fn print_new_key(request: Result<ureq::Request, String>, body: Value) -> ExitCode {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("idem: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match body {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    let response = request
        .set("content-type", "application/json")
        .send_string(&body.to_string());
    match response {
        Ok(r) if r.status() == 201 => {
            let reply: Value = r.into_json().unwrap_or(Value::Null);
            match reply.get("key").and_then(Value::as_str) {
                Some(key) => {
                    println!("{key}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("idem: the reply carries no key: {reply}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            eprintln!(
                "idem: HTTP {status}: {}",
                r.into_string().unwrap_or_default()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("idem: {e}");
            ExitCode::FAILURE
        }
    }
}
