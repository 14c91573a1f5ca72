//! `ingress-lb --config FILE`: the L4 balancer binary. `ingress-lb import NGINX_CONF
//! [KEEPALIVED_CONF]` prints the TOML configuration equivalent to an nginx `stream` block and a
//! keepalived.conf (notes on what was left out go to standard error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc: route-table builds and per-connection buffers are many small allocations, which
/// it serves several times faster than glibc's malloc (see benches/core_lookup.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// L4 TCP stream balancer (nginx `stream` replacement) with VRRP failover.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Arguments {
    /// TOML configuration file (reloaded on SIGHUP and when it changes).
    #[arg(long, short, env = "INGRESS_LB_CONFIG", required = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the TOML configuration equivalent to an nginx `stream` configuration and,
    /// optionally, a keepalived.conf (as in the tutorial); notes on what was left out go to
    /// standard error. Exits 1, printing nothing on standard output, when anything cannot be
    /// translated.
    Import {
        /// nginx.conf holding the `stream { … }` block.
        nginx_conf: PathBuf,
        /// keepalived.conf holding the `vrrp_instance`.
        keepalived_conf: Option<PathBuf>,
    },
}

/// Runs `import`: TOML on standard output, notes and errors on standard error.
fn import(nginx_conf: &std::path::Path, keepalived_conf: Option<&std::path::Path>) -> ExitCode {
    let import = ingress_lb::import_files(nginx_conf, keepalived_conf);
    for note in &import.notes {
        eprintln!("note: {note}");
    }
    for error in &import.errors {
        eprintln!("error: {error}");
    }
    match import.toml {
        Some(toml) => {
            print!("{toml}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "ingress-lb import: {} error(s); nothing printed",
                import.errors.len()
            );
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let config = match (arguments.command, arguments.config) {
        (
            Some(Command::Import {
                nginx_conf,
                keepalived_conf,
            }),
            _,
        ) => return import(&nginx_conf, keepalived_conf.as_deref()),
        (None, Some(config)) => config,
        (None, None) => {
            // clap enforces `--config` when no subcommand is given; kept as an error, not a panic.
            eprintln!("ingress-lb: --config FILE is required");
            return ExitCode::FAILURE;
        }
    };
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
    match ingress_lb::run_from_file(&config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "ingress-lb stopped");
            eprintln!("ingress-lb: {error}");
            ExitCode::FAILURE
        }
    }
}
