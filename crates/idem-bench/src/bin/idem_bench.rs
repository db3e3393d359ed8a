//! `idem-bench`: the load generator on its own (the same as `idem bench`).

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "idem-bench",
    version,
    about = "Measure idem, etcd or Redis with the same client"
)]
struct Cli {
    #[command(flatten)]
    bench: idem_bench::BenchArgs,
}

fn main() -> ExitCode {
    idem_bench::run(Cli::parse().bench)
}
