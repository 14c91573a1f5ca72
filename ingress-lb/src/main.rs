//! `ingress-lb --config FILE`: the L4 balancer binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc: route-table builds and per-connection buffers are many small allocations, which
/// it serves several times faster than glibc's malloc (see benches/core_lookup.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// L4 TCP stream balancer (nginx `stream` replacement) with VRRP failover.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Arguments {
    /// TOML configuration file (reloaded on SIGHUP and when it changes).
    #[arg(long, short, env = "INGRESS_LB_CONFIG")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = Arguments::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let shutdown = async {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    match ingress_lb::run_from_file(&arguments.config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "ingress-lb stopped");
            eprintln!("ingress-lb: {error}");
            ExitCode::FAILURE
        }
    }
}
