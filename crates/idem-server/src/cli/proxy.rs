//! `idem proxy`: idem-proxy's reverse proxy, run from the `idem` binary.

use std::process::ExitCode;

use idem_proxy::ProxyArgs;

pub fn run(args: ProxyArgs) -> ExitCode {
    super::start::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("idem proxy: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(idem_proxy::run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idem proxy: {e}");
            ExitCode::from(2)
        }
    }
}
