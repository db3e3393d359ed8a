//! `idem-jepsen`: idem's chaos harness, in the spirit of Jepsen. It runs
//! three real `idem` processes in network namespaces of its own, drives
//! concurrent clients against them while nemeses partition, kill, pause and
//! skew the nodes, records every operation, and checks the history (see the
//! `idem-jepsen-check` crate for the rules). Needs root.
//!
//! ```text
//! idem-jepsen run --idem target/release/idem --time 120 --nemesis partition,clock --out chaos/
//! idem-jepsen check chaos/history.jsonl      # judge a recorded history again
//! idem-jepsen clean                           # remove namespaces left by a crashed run
//! ```

mod api_keys;
mod client_keys;
mod client_tls;
mod error;
mod http;
mod nemesis;
mod netns;
mod nodes;
mod payments;
mod proxy_storm;
mod recorder;
mod rng;
mod run;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idem_jepsen_check::history::parse_history;
use idem_jepsen_check::{check, report, CheckLimits};

use crate::nemesis::NemesisKind;

#[derive(Parser)]
#[command(
    name = "idem-jepsen",
    about = "Chaos harness for idem: faults, a recorded history, and its checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One chaos run; exits 1 if the history breaks a rule.
    Run {
        /// The idem binary to test.
        #[arg(long, default_value = "target/release/idem")]
        idem: PathBuf,
        /// Length of the run in seconds (the last 6 s are fault-free).
        #[arg(long, default_value_t = 60)]
        time: u64,
        /// Comma-separated nemeses: partition, loss, kill, pause, clock, all,
        /// none, or single kinds (partition-halves, isolate-leader,
        /// partition-ring, packet-loss, clock-bump, clock-strobe, clock-lasting).
        #[arg(long, default_value = "all")]
        nemesis: String,
        /// Seed of every random choice (default: from the time).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value_t = 12)]
        clients: u32,
        #[arg(long, default_value_t = 10)]
        keys: u32,
        /// Where the history and the report go (emptied first).
        #[arg(long, default_value = "chaos-out")]
        out: PathBuf,
        /// Start the nodes with IDEM_PLANTED_BUG=<name> (a `planted-bugs`
        /// build), to see that the checks catch it.
        #[arg(long)]
        planted_bug: Option<String>,
        /// Succeed only if the checks find a violation (for planted bugs).
        #[arg(long)]
        expect_violation: bool,
        /// Run the payments workload: workers charge orders through a
        /// ledger following docs/CLIENTS.md; valid only with no order
        /// charged twice.
        #[arg(long)]
        payments: bool,
        /// With --payments: workers skip the committing mark (the run must
        /// then find double charges; use with --expect-violation).
        #[arg(long)]
        careless: bool,
        /// Run the proxy workload: retried requests through three `idem
        /// proxy` processes to an upstream ledger; valid only if no order
        /// was charged twice and every caller got the same answer.
        #[arg(long, conflicts_with = "payments")]
        proxy: bool,
    },
    /// Checks a recorded history again and prints the summary.
    Check {
        history: PathBuf,
        /// Also write check.json, summary.txt and timeline.svg here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Removes the namespaces a crashed run left behind.
    Clean,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run {
            idem,
            time,
            nemesis,
            seed,
            clients,
            keys,
            out,
            planted_bug,
            expect_violation,
            payments,
            careless,
            proxy,
        } => {
            let nemeses = match NemesisKind::parse_list(&nemesis) {
                Ok(n) => n,
                Err(e) => return usage(&e),
            };
            let seed = seed.unwrap_or_else(seed_from_time);
            let options = run::RunOptions {
                binary: idem,
                out: out.clone(),
                seconds: time.max(10),
                nemeses,
                seed,
                clients,
                keys,
                planted_bug,
                payments: payments.then_some(run::Payments { careless }),
                proxy,
            };
            match run::run(&options) {
                Ok(outcome) => {
                    let summary =
                        std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default();
                    println!("{summary}");
                    println!(
                        "report: {}/summary.txt, timeline: {}/timeline.svg, seed {seed}",
                        out.display(),
                        out.display()
                    );
                    let valid = outcome.is_valid();
                    if expect_violation {
                        if valid {
                            eprintln!("FAILED: the planted bug was NOT caught");
                            ExitCode::from(1)
                        } else {
                            println!("caught: the checks found the planted bug");
                            ExitCode::SUCCESS
                        }
                    } else if valid {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("idem-jepsen: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Check { history, out } => {
            let text = match std::fs::read_to_string(&history) {
                Ok(t) => t,
                Err(e) => return usage(&format!("cannot read {}: {e}", history.display())),
            };
            let events = match parse_history(&text) {
                Ok(ev) => ev,
                Err(e) => return usage(&e.to_string()),
            };
            let checked = check(&events, &CheckLimits::default());
            let summary = report::summary_text(&events, &checked);
            println!("{summary}");
            if let Some(dir) = out {
                let written = std::fs::create_dir_all(&dir)
                    .and_then(|_| std::fs::write(dir.join("summary.txt"), &summary))
                    .and_then(|_| {
                        std::fs::write(
                            dir.join("check.json"),
                            serde_json::to_string_pretty(&checked).unwrap_or_default(),
                        )
                    })
                    .and_then(|_| {
                        std::fs::write(
                            dir.join("timeline.svg"),
                            report::timeline_svg(&events, &checked),
                        )
                    });
                if let Err(e) = written {
                    return usage(&format!("cannot write to {}: {e}", dir.display()));
                }
            }
            if checked.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Cmd::Clean => {
            netns::TestNet::new("idemj", 3).destroy();
            ExitCode::SUCCESS
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("idem-jepsen: {message}");
    ExitCode::from(2)
}

fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}
