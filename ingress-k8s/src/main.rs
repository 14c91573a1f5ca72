//! `ingress-proxy`: serves Kubernetes Ingresses from a manifest directory or a live cluster.
//! See `ingress-proxy --help`; everything but flag parsing lives in `ingress_k8s::cli`.

use std::process::ExitCode;

use clap::Parser;
use ingress_k8s::cli::{self, Args, Command};

/// mimalloc: route-table builds and per-connection buffers are many small allocations, which
/// it serves several times faster than glibc's malloc (see benches/core_lookup.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let done = match &args.command {
        Some(Command::Check { paths }) => Some(cli::check(&args, paths)),
        Some(Command::Explain {
            host,
            path,
            scheme,
            headers,
            cookies,
            paths,
        }) => Some(cli::explain(
            &args,
            &cli::ExplainArgs {
                paths,
                host: host.as_deref(),
                path,
                scheme: *scheme,
                headers,
                cookies,
            },
        )),
        Some(Command::Certgen { .. }) | None => None,
    };
    if let Some(passed) = done {
        return if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    cli::init_logging(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ingress-proxy: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Certgen { step }) = &args.command {
        return match runtime.block_on(cli::certgen(&args, step)) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        };
    }
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "ingress-proxy failed");
            eprintln!("ingress-proxy: {error}");
            ExitCode::FAILURE
        }
    }
}
