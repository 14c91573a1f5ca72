//! The runner: accept loops, the connection tasks they spawn, reloads and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::connection::{self, Accepted};
use crate::log::{self, AccessRecord};
use crate::metrics::{self, Metrics};
use crate::state::Snapshot;
use crate::{admin, health};

/// Why the server could not start or a reload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid (the message names the field, with line and column when
    /// it came from a file).
    #[error("configuration: {0}")]
    Config(String),
    /// `run` was given a different number of listeners than the configuration has.
    #[error("configuration has {configured} listeners but {given} sockets were given")]
    ListenerCount {
        /// Listeners in the configuration.
        configured: usize,
        /// Sockets given to `run`.
        given: usize,
    },
    /// A reload changed the listening addresses, which needs a restart.
    #[error(
        "listeners[{index}].address: changing listen addresses ({from} → {to}) needs a restart"
    )]
    ListenerChanged {
        /// Position of the listener.
        index: usize,
        /// Running address.
        from: String,
        /// Address in the new configuration.
        to: String,
    },
    /// Binding a socket failed.
    #[error("{what} {address}: {source}")]
    Bind {
        /// Which socket (listener or admin).
        what: &'static str,
        /// The address.
        address: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// `run` was called twice.
    #[error("the server is already running")]
    AlreadyRunning,
}

/// The L4 balancer: build it from a [`Config`], then [`Server::run`] it on sockets bound by the
/// caller. Cloning gives another handle to the same server (for reloads, metrics).
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The live configuration and groups, replaced whole on reload.
    snapshot: ArcSwap<Snapshot>,
    /// Generation of `snapshot`, read by health checkers to know when to stop.
    generation: Arc<AtomicU64>,
    /// Notifies reload waiters (tests, supervisors) of each new generation.
    generations: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    /// Open connections per listener; survives reloads so limits count every connection.
    active: Vec<Arc<AtomicUsize>>,
    /// Listen addresses of the first configuration; reloads must keep them.
    listen_addresses: Vec<SocketAddr>,
    /// Cancelled on shutdown: stops accept loops, checkers, watchers and open sessions.
    cancel: CancellationToken,
    /// Every task the server spawns, so shutdown can wait for all of them.
    tracker: TaskTracker,
    running: std::sync::atomic::AtomicBool,
    /// The VRRP instance's state and last transition, for `/api/status`.
    vrrp_report: Arc<crate::vrrp::VrrpReport>,
}

impl Server {
    /// Builds the server's state from a checked configuration.
    pub fn new(config: Config) -> Result<Self, ServerError> {
        let listen_addresses = config
            .listeners
            .iter()
            .map(|listener| listener.address)
            .collect::<Vec<_>>();
        let snapshot = Snapshot::build(config, 1).map_err(ServerError::Config)?;
        let shared = Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            generation: Arc::new(AtomicU64::new(1)),
            generations: watch::Sender::new(1),
            metrics: Arc::new(Metrics::new()),
            active: listen_addresses
                .iter()
                .map(|_| Arc::new(AtomicUsize::new(0)))
                .collect(),
            listen_addresses,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            running: std::sync::atomic::AtomicBool::new(false),
            vrrp_report: Arc::default(),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Replaces the configuration without touching established connections; returns the new
    /// generation. Listen addresses must stay the same.
    pub fn reload(&self, config: Config) -> Result<u64, ServerError> {
        let result = self.try_reload(config);
        self.count_reload(result.is_ok());
        result
    }

    /// Counts a reload attempt in `ingress_lb_reloads_total`.
    pub(crate) fn count_reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.shared
            .metrics
            .reloads
            .get_or_create(&vec![("result", outcome.to_string())])
            .inc();
    }

    fn try_reload(&self, config: Config) -> Result<u64, ServerError> {
        let running = &self.shared.listen_addresses;
        if config.listeners.len() != running.len() {
            return Err(ServerError::ListenerCount {
                configured: config.listeners.len(),
                given: running.len(),
            });
        }
        for (index, (listener, from)) in config.listeners.iter().zip(running).enumerate() {
            if listener.address != *from {
                return Err(ServerError::ListenerChanged {
                    index,
                    from: from.to_string(),
                    to: listener.address.to_string(),
                });
            }
        }
        let generation = self.shared.generation.load(Ordering::Acquire) + 1;
        let snapshot = Snapshot::build(config, generation).map_err(ServerError::Config)?;
        self.shared.snapshot.store(Arc::new(snapshot));
        self.shared.generation.store(generation, Ordering::Release);
        self.shared.generations.send_replace(generation);
        Ok(generation)
    }

    /// A receiver of configuration generations (1 at start, +1 per successful reload).
    pub fn generations(&self) -> watch::Receiver<u64> {
        self.shared.generations.subscribe()
    }

    /// The Prometheus (OpenMetrics) text served on the admin listener's `/metrics`.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.encode()
    }

    /// Whether the admin listener serves the dashboard (`dashboard` in the configuration in
    /// force).
    pub(crate) fn dashboard_enabled(&self) -> bool {
        self.shared.snapshot.load().config.dashboard
    }

    /// What `/api/status` reads: the configuration in force, open connections per listener
    /// (in configuration order), and the VRRP instance's state.
    pub(crate) fn status_sources(
        &self,
    ) -> (Arc<Snapshot>, Vec<usize>, Option<crate::vrrp::VrrpStatus>) {
        let snapshot = self.shared.snapshot.load_full();
        let active = self
            .shared
            .active
            .iter()
            .map(|count| count.load(Ordering::Acquire))
            .collect();
        let vrrp = snapshot
            .config
            .vrrp
            .is_some()
            .then(|| self.shared.vrrp_report.read());
        (snapshot, active, vrrp)
    }

    /// Serves `listeners` (one per configured listener, in order) and the optional admin
    /// listener until `shutdown` completes; then stops accepting, closes open sessions and
    /// returns once every task it spawned has ended.
    pub async fn run(
        &self,
        listeners: Vec<TcpListener>,
        admin_listener: Option<TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let shared = &self.shared;
        if listeners.len() != shared.listen_addresses.len() {
            return Err(ServerError::ListenerCount {
                configured: shared.listen_addresses.len(),
                given: listeners.len(),
            });
        }
        if shared.running.swap(true, Ordering::AcqRel) {
            return Err(ServerError::AlreadyRunning);
        }
        for (index, listener) in listeners.into_iter().enumerate() {
            shared
                .tracker
                .spawn(accept_loop(self.shared.clone(), index, listener));
        }
        if let Some(listener) = admin_listener {
            shared.tracker.spawn(admin::serve(
                listener,
                self.clone(),
                shared.cancel.clone(),
                shared.tracker.clone(),
            ));
        }
        shared.tracker.spawn(health_supervisor(self.shared.clone()));
        // VRRP (`crate::vrrp`): the virtual address follows this balancer's health and is
        // released on shutdown before the tracker's wait ends.
        if let Some(vrrp) = shared.snapshot.load().config.vrrp.clone() {
            let sampled = self.shared.clone();
            let sample = move || {
                crate::vrrp::balancer_health(&sampled.snapshot.load(), std::time::Instant::now())
            };
            shared.tracker.spawn(crate::vrrp::run_with_server(
                vrrp,
                sample,
                shared.cancel.clone(),
                shared.vrrp_report.clone(),
            ));
        }
        tokio::select! {
            () = shutdown => {}
            () = shared.cancel.cancelled() => {}
        }
        shared.cancel.cancel();
        shared.tracker.close();
        shared.tracker.wait().await;
        Ok(())
    }

    /// Cancels the server as if its `shutdown` future had completed.
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
    }

    /// The token cancelled at shutdown (for tasks that live as long as the server).
    pub fn cancellation(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    /// Spawns `task` so that shutdown waits for it.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.shared.tracker.spawn(task);
    }
}

/// Decrements the listener's open-connection count and gauge when the connection task ends.
struct ActiveGuard {
    count: Arc<AtomicUsize>,
    gauge: Gauge,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

async fn accept_loop(shared: Arc<Shared>, index: usize, listener: TcpListener) {
    let label = listener.local_addr().map_or_else(
        |_| shared.listen_addresses[index].to_string(),
        |a| a.to_string(),
    );
    let gauge = shared
        .metrics
        .active
        .get_or_create(&metrics::listener(&label))
        .clone();
    let Some(count) = shared.active.get(index).cloned() else {
        return;
    };
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically EMFILE: back off briefly instead of spinning on the error.
                tracing::warn!(listener = %label, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let snapshot = shared.snapshot.load_full();
        let Some(settings) = snapshot.config.listeners.get(index) else {
            continue;
        };
        // Only this loop increments, so checking then incrementing cannot overshoot.
        if settings
            .max_connections
            .is_some_and(|limit| count.load(Ordering::Acquire) >= limit as usize)
        {
            shared
                .metrics
                .connections
                .get_or_create(&vec![
                    ("listener", label.clone()),
                    ("ending", "connection_limit".to_string()),
                ])
                .inc();
            log::access(&AccessRecord {
                client,
                listener: &label,
                group: settings.upstream.get_ref(),
                upstream: None,
                tries: 0,
                transferred: Default::default(),
                duration: Duration::ZERO,
                ending: "connection_limit",
            });
            drop(stream);
            continue;
        }
        count.fetch_add(1, Ordering::AcqRel);
        gauge.inc();
        let guard = ActiveGuard {
            count: count.clone(),
            gauge: gauge.clone(),
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let accepted = Accepted {
            stream,
            client,
            local,
            listener: index,
            label: label.clone(),
        };
        let (metrics, cancel) = (shared.metrics.clone(), shared.cancel.clone());
        shared.tracker.spawn(async move {
            let _guard = guard;
            connection::serve(accepted, snapshot, metrics, cancel).await;
        });
    }
}

/// Starts active health checkers for each generation's groups.
async fn health_supervisor(shared: Arc<Shared>) {
    let mut generations = shared.generations.subscribe();
    loop {
        let snapshot = shared.snapshot.load_full();
        for group in snapshot.groups.values() {
            if let Some(check) = group.health_check {
                shared.tracker.spawn(health::run(
                    group.clone(),
                    check,
                    snapshot.generation,
                    shared.generation.clone(),
                    shared.metrics.clone(),
                    shared.cancel.clone(),
                ));
            }
        }
        drop(snapshot);
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            changed = generations.changed() => if changed.is_err() { return },
        }
    }
}
