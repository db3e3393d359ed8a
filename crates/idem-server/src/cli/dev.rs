//! `idem dev`: a local three-node cluster in one command. Starts three
//! `idem start` processes (data and logs under `--data`), waits until they
//! serve, prints their URLs, and stops them on Ctrl-C.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the nodes keep their data (node1/, node2/, node3/).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// HTTP ports are BASE, BASE+1, BASE+2; Raft ports BASE-1000, ...
    #[arg(long, default_value_t = 8101)]
    pub base_port: u16,
}

pub fn run(args: DevArgs) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("idem dev: cannot find the idem binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(raft_base) = args.base_port.checked_sub(1000) else {
        eprintln!("idem dev: --base-port must be at least 1000");
        return ExitCode::FAILURE;
    };
    let nodes: Vec<(u64, String, String)> = (0..3u16)
        .map(|i| {
            (
                u64::from(i) + 1,
                format!("127.0.0.1:{}", raft_base + i),
                format!("127.0.0.1:{}", args.base_port + i),
            )
        })
        .collect();
    let peers = nodes
        .iter()
        .map(|(id, r, h)| format!("{id}={r}/{h}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut children: Vec<Child> = Vec::new();
    for (id, raft, http) in &nodes {
        let dir = args.data.join(format!("node{id}"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("idem dev: cannot create {}: {e}", dir.display());
            return stop(children, ExitCode::FAILURE);
        }
        let log = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("idem.log"))
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!(
                    "idem dev: cannot open the log file in {}: {e}",
                    dir.display()
                );
                return stop(children, ExitCode::FAILURE);
            }
        };
        let log_err = match log.try_clone() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("idem dev: {e}");
                return stop(children, ExitCode::FAILURE);
            }
        };
        let child = Command::new(&exe)
            .args([
                "start",
                "--id",
                &id.to_string(),
                "--raft",
                raft,
                "--http",
                http,
                "--peers",
                &peers,
            ])
            .arg("--data")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn();
        match child {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("idem dev: cannot start node {id}: {e}");
                return stop(children, ExitCode::FAILURE);
            }
        }
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    for (id, _, http) in &nodes {
        loop {
            if ureq::get(&format!("http://{http}/ready"))
                .timeout(Duration::from_secs(1))
                .call()
                .is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "idem dev: node {id} did not become ready; see {}",
                    args.data.join(format!("node{id}/idem.log")).display()
                );
                return stop(children, ExitCode::FAILURE);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let first = &nodes[0].2;
    let keys = match dev_keys(&args.data, first) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("idem dev: {e}");
            return stop(children, ExitCode::FAILURE);
        }
    };
    println!(
        "idem: a three-node cluster is running (data in {}).",
        args.data.display()
    );
    for (id, _, http) in &nodes {
        println!("  node {id}: http://{http}");
    }
    println!(
        "  admin key:  {}  ({})",
        keys.admin,
        keys.admin_file.display()
    );
    println!(
        "  client key: {}  ({}, namespace default)",
        keys.client,
        keys.client_file.display()
    );
    println!();
    println!("Try:");
    println!("  export IDEM_API_KEY={}", keys.client);
    println!("  curl -s -X POST http://{first}/v1/ns/default/keys/order-1/reserve -H \"authorization: Bearer $IDEM_API_KEY\" -H 'content-type: application/json' -d '{{\"fingerprint\":\"abc\"}}'");
    println!("Press Ctrl-C to stop.");

    let stopping = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, stopping.clone()) {
            eprintln!("idem dev: cannot watch for Ctrl-C: {e}");
        }
    }
    while !stopping.load(Ordering::SeqCst) {
        for (i, child) in children.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "idem dev: node {} exited ({status}); stopping the others",
                    i + 1
                );
                return stop(children, ExitCode::FAILURE);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("idem: stopping");
    stop(children, ExitCode::SUCCESS)
}

struct DevKeys {
    admin: String,
    admin_file: PathBuf,
    client: String,
    client_file: PathBuf,
}

/// Node 1's admin key once it works, and a client key for namespace
/// `default` (made with it on the first run, kept in `data/client.key`).
fn dev_keys(data: &std::path::Path, http: &str) -> Result<DevKeys, String> {
    let admin_file = data
        .join("node1")
        .join(crate::auth_bootstrap::DEFAULT_ADMIN_KEY_FILE);
    let client_file = data.join("client.key");
    let keys_url = format!("http://{http}/v1/auth/keys");
    let deadline = Instant::now() + Duration::from_secs(30);
    let admin = loop {
        if let Ok(text) = std::fs::read_to_string(&admin_file) {
            let key = text.trim().to_string();
            let works = ureq::get(&keys_url)
                .set("authorization", &format!("Bearer {key}"))
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok();
            if works {
                break key;
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the admin key in {} did not work within 30 s",
                admin_file.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let client = match std::fs::read_to_string(&client_file) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => {
            let reply: serde_json::Value = ureq::post(&keys_url)
                .set("authorization", &format!("Bearer {admin}"))
                .send_json(serde_json::json!({
                    "name": "dev client", "role": "client", "namespaces": ["default"],
                }))
                .map_err(|e| format!("cannot create the client key: {e}"))?
                .into_json()
                .map_err(|e| format!("cannot create the client key: {e}"))?;
            let key = reply["key"]
                .as_str()
                .ok_or_else(|| format!("the new key's reply has no key: {reply}"))?
                .to_string();
            crate::auth_bootstrap::write_private(&client_file, format!("{key}\n").as_bytes())?;
            key
        }
    };
    Ok(DevKeys {
        admin,
        admin_file,
        client,
        client_file,
    })
}

/// Stops the nodes (SIGTERM, then SIGKILL after 5 s).
fn stop(mut children: Vec<Child>, code: ExitCode) -> ExitCode {
    for child in &children {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for child in children.iter_mut() {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    code
}
