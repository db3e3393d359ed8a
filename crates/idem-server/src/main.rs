//! The `idem` command: run a node, run a local three-node cluster, or talk
//! to a cluster from the terminal. `idem --help` lists the commands.

use std::process::ExitCode;

use clap::Parser;

use idem_server::cli::{self, Cli, Commands};

/// mimalloc instead of glibc's malloc: a request allocates and frees many
/// small buffers (HTTP, JSON, RocksDB reads), and glibc's allocator was
/// 13-15% of every node's CPU samples under replay load (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Start(args) => cli::start::run(args),
        Commands::Dev(args) => cli::dev::run(args),
        Commands::Status(args) => cli::client::status(args),
        Commands::Key(args) => cli::key::key(args),
        Commands::Cluster(args) => cli::client::cluster(args),
        Commands::Auth(args) => cli::auth::run(args),
        Commands::Certs(args) => cli::certs::run(args),
        Commands::Proxy(args) => cli::proxy::run(*args),
        Commands::Bench(args) => idem_bench::run(args),
    }
}
