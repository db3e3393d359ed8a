//! idem-bench: the load generator that measures idem side by side with etcd
//! and Redis through the same client, so that the numbers compare.
//!
//! It owns the client side of a benchmark: connections (HTTP/1.1 keep-alive
//! for idem and etcd's JSON gateway, RESP for Redis, one request in flight
//! each), the closed and the fixed-rate open loop (latency from the intended
//! send time), the three workloads (reserve, reserve-complete, replay), the
//! HDR latency histogram, and the summary and JSON report. It talks to idem
//! only over the public HTTP API and must not depend on any other idem crate
//! (it builds without RocksDB). It does not start servers: scripts/bench.sh
//! does. It sends traffic only to the URLs it is given, for a bounded time.
//!
//! Entry points: [`BenchArgs`] (flattened into `idem bench`) and [`run`].

pub mod args;
pub mod error;
pub mod floor;
pub mod http_conn;
pub mod https;
pub mod keys;
pub mod node_cpu;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resp;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod targets;
pub mod waiters;
pub mod workload;

use std::process::ExitCode;

pub use args::{BenchArgs, TargetKind, WorkloadKind};
pub use error::BenchError;
pub use floor::Floor;
pub use plan::Plan;
pub use report::BenchReport;
pub use runner::execute;

/// Runs a benchmark on a runtime of its own, prints the summary on stdout
/// and writes `--json`. Exit code 0: done; 1: nothing was answered; 2: the
/// run could not be carried out (bad flags, pre-population failed, ...).
pub fn run(args: BenchArgs) -> ExitCode {
    match run_to_report(&args) {
        Ok(report) => {
            print!("{report}");
            if report.answered() == 0 {
                eprintln!("idem-bench: no operation was answered");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("idem-bench: {error}");
            ExitCode::from(2)
        }
    }
}

/// [`run`] without the printing: plan, run, write `--json`.
pub fn run_to_report(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let plan = Plan::from_args(args)?;
    // Before the load, on a quiet machine: the floor must not compete with it.
    let floor = if plan.floor_dirs.is_empty() {
        None
    } else {
        if !plan.quiet {
            eprintln!(
                "idem-bench: measuring the floor ({} rounds in {} directories)",
                plan.floor_rounds,
                plan.floor_dirs.len()
            );
        }
        Some(Floor::measure(&plan.floor_dirs, plan.floor_rounds)?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    let json = plan.json.clone();
    let mut report = runtime.block_on(execute(plan))?;
    if let Some(floor) = floor {
        report.set_floor(floor);
    }
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(report)
}
