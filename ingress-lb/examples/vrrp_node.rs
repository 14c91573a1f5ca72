//! A VRRP node without the balancer, for trying the failover by hand and for the
//! network-namespace tests (`ip netns exec NS vrrp_node …`).
//!
//! - `vrrp_node --config FILE [--listen ADDR --name NAME]`: runs the `[vrrp]` section of FILE
//!   (an ingress-lb config file works; other sections are ignored). SIGUSR1 marks the balancer
//!   unhealthy, SIGUSR2 healthy again; SIGTERM or SIGINT leave cleanly (priority-0 advert,
//!   addresses removed). With `--listen`, a TCP listener answers every connection with NAME
//!   and a newline, so a client can tell which node holds the virtual address.
//! - `vrrp_node --listen ADDR --name NAME`: only the listener (next to another VRRP daemon).
//! - `vrrp_node --connect ADDR [--timeout-ms N]`: connects, prints the peer's line, exits 0;
//!   exits 1 when the connection or the read fails within the timeout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ingress_lb::vrrp::{self, Health, VrrpConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

/// Command line.
#[derive(Debug, Parser)]
struct Args {
    /// TOML file with a `[vrrp]` section.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve NAME on this TCP address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The line the listener answers with.
    #[arg(long, default_value = "node")]
    name: String,
    /// Connect to this address, print what it says, exit.
    #[arg(long)]
    connect: Option<SocketAddr>,
    /// Connect-and-read timeout for `--connect`, in milliseconds.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
}

/// The part of the file this example reads.
#[derive(Debug, serde::Deserialize)]
struct File {
    vrrp: VrrpConfig,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if let Some(address) = args.connect {
        return connect(address, Duration::from_millis(args.timeout_ms)).await;
    }
    if let Some(address) = args.listen {
        match TcpListener::bind(address).await {
            Ok(listener) => {
                tokio::spawn(serve(listener, args.name.clone()));
            }
            Err(error) => {
                eprintln!("vrrp_node: listen on {address}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    let result = match args.config {
        Some(path) => run_vrrp(&path).await,
        None => wait_for_termination().await.map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vrrp_node: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_vrrp(path: &PathBuf) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let (health_tx, health_rx) = tokio::sync::watch::channel(Health::SERVING);
    let mut unhealthy = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let mut healthy = signal(SignalKind::user_defined2()).map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                _ = unhealthy.recv() => Health { listeners_bound: true, upstream_reachable: false },
                _ = healthy.recv() => Health::SERVING,
            };
            if health_tx.send(next).is_err() {
                break;
            }
        }
    });
    let shutdown = async {
        if let Err(error) = wait_for_termination().await {
            eprintln!("vrrp_node: signal handler: {error}");
        }
    };
    vrrp::run(file.vrrp, health_rx, shutdown)
        .await
        .map_err(|e| e.to_string())
}

async fn wait_for_termination() -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

async fn serve(listener: TcpListener, name: String) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) => {
                let line = format!("{name}\n");
                tokio::spawn(async move {
                    // A client that leaves early is not an error worth reporting.
                    let _ = stream.write_all(line.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
            Err(error) => {
                eprintln!("vrrp_node: accept: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connect(address: SocketAddr, timeout: Duration) -> ExitCode {
    let attempt = async {
        let stream = TcpStream::connect(address).await?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(line)) if !line.is_empty() => {
            print!("{line}");
            ExitCode::SUCCESS
        }
        Ok(Ok(_)) => {
            eprintln!("vrrp_node: {address}: closed without a line");
            ExitCode::FAILURE
        }
        Ok(Err(error)) => {
            eprintln!("vrrp_node: {address}: {error}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("vrrp_node: {address}: no answer within {timeout:?}");
            ExitCode::FAILURE
        }
    }
}
