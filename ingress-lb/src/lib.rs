//! `ingress-lb`: the L4 TCP stream balancer that sits in front of the ingress replicas (what
//! nginx's `stream` block does in the reference topology), with keepalived-style VRRP
//! virtual-IP failover.
//!
//! It reuses `ingress-core`'s pure load-balancing and passive-health policies
//! ([`ingress_core::balance`]) and nothing from the HTTP crates.
//!
//! # The tutorial's nginx `stream` block, translated
//!
//! ```text
//! stream {                                          # (one ingress-lb process)
//!   upstream k8s-ingress-controller {               [upstreams.k8s-ingress-controller]
//!     server 192.168.10.11:80 weight=5              servers = [
//!            max_fails=3 fail_timeout=30s;            { address = "192.168.10.11:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
//!     server 192.168.10.12:80 weight=5                { address = "192.168.10.12:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
//!            max_fails=3 fail_timeout=30s;          ]
//!   }
//!   server {                                        [[listeners]]
//!     listen 38999;                                 address = "0.0.0.0:38999"
//!     proxy_pass k8s-ingress-controller;            upstream = "k8s-ingress-controller"
//!   }
//! }
//! ```
//!
//! Every field and its nginx default is documented on [`config`]; `ingress-lb/README.md` has
//! the full reference and a TLS-passthrough (SNI) example.
//!
//! # Example
//!
//! ```no_run
//! use ingress_lb::{Config, Server};
//! use tokio::net::TcpListener;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_toml(r#"
//!     [upstreams.ingress]
//!     servers = [{ address = "127.0.0.1:8080", weight = 5, max_fails = 3, fail_timeout = "30s" }]
//!     [[listeners]]
//!     address = "127.0.0.1:38999"
//!     upstream = "ingress"
//! "#)?;
//! let listener = TcpListener::bind(config.listeners[0].address).await?;
//! let server = Server::new(config)?;
//! server.run(vec![listener], None, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - **Caller-bound sockets.** [`Server::run`] takes the listeners (tests bind `127.0.0.1:0`)
//!   and a shutdown future; [`run_from_file`] is the binary's wiring (bind, watch, run).
//! - **One snapshot.** The configuration and every group's balancer live in one immutable
//!   snapshot swapped whole on reload; a connection keeps the snapshot it started with, so a
//!   reload never disturbs it. Balancer state (weights, failures) starts fresh on reload, as in
//!   nginx.
//! - **Connection phases** (`connection.rs`): preread the ClientHello when routing by SNI →
//!   choose the group → pick and connect, retrying the next server on failure
//!   (`proxy_next_upstream`) → PROXY header → bidirectional copy with half-close and idle
//!   timeout → one access-log line.
//! - **Forwarding** is a userspace copy (64 KiB per direction, read into uninitialised
//!   capacity) in the connection's own task rather than `tokio::io::copy_bidirectional`,
//!   because nginx's `proxy_timeout` needs an idle timer shared by both directions.
//!   `splice(2)` (rustix's safe API) measured within noise of this loop on loopback
//!   (`benches/lb/splice_vs_copy.rs`, see the README), so the loop stays; `benches/lb/run.sh`
//!   compares it with nginx and HAProxy.
//! - **No leaks.** Every task is spawned on one `TaskTracker`; shutdown cancels them and waits.
//! - **Observable.** The admin listener (`admin` in the configuration) serves Prometheus
//!   metrics at `/metrics`, the state as JSON at `/api/status` (groups, servers with weight,
//!   state, connections and failures, listeners, the VRRP state and last transition), and with
//!   `dashboard = true` a read-only page drawing it (`/dashboard`, every asset embedded).

mod admin;
pub mod config;
mod connection;
mod forward;
mod health;
mod import;
mod log;
mod metrics;
mod proxy_protocol;
mod reload;
mod server;
mod state;
mod status;
pub mod vrrp;

use std::future::Future;
use std::path::Path;

use tokio::net::TcpListener;

// Public API.
pub use crate::config::{Config, ConfigError};
pub use crate::import::{Import, import_files, import_texts};
pub use crate::reload::DEFAULT_POLL_INTERVAL;
pub use crate::server::{Server, ServerError};

/// Loads `path`, binds its listeners and admin socket, reloads on SIGHUP or file change, and
/// serves until `shutdown` completes. This is the `ingress-lb` binary.
pub async fn run_from_file(
    path: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let config = Config::load(path).map_err(|error| ServerError::Config(error.to_string()))?;
    let mut listeners = Vec::new();
    for listener in &config.listeners {
        let socket = TcpListener::bind(listener.address)
            .await
            .map_err(|source| ServerError::Bind {
                what: "listener",
                address: listener.address,
                source,
            })?;
        listeners.push(socket);
    }
    let admin = match config.admin {
        Some(address) => {
            Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| ServerError::Bind {
                        what: "admin listener",
                        address,
                        source,
                    })?,
            )
        }
        None => None,
    };
    // The VRRP driver (`config.vrrp`) is started by `Server::run`, next to the accept loops.
    let server = Server::new(config)?;
    server
        .watch_config(path.to_path_buf(), DEFAULT_POLL_INTERVAL)
        .map_err(|source| ServerError::Bind {
            what: "SIGHUP handler",
            address: ([0, 0, 0, 0], 0).into(),
            source,
        })?;
    server.run(listeners, admin, shutdown).await
}
