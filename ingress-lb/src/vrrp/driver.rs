//! The I/O driver: feeds the [`Router`] state machine from the raw socket, its timers and the
//! balancer's health, and carries out its actions on the host.

use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant as TokioInstant;

use super::config::{VirtualAddress, VrrpConfig};
use super::error::VrrpError;
use super::interface::Interface;
use super::packet::{Advertisement, IPPROTO_VRRP, VRRP_MULTICAST, parse_ipv4};
use super::report::VrrpReport;
use super::socket::VrrpSocket;
use super::state::{Action, Router, State};

/// The balancer's own health, as the lb runner sees it (keepalived's `track_script`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Every configured listener is bound.
    pub listeners_bound: bool,
    /// At least one upstream is considered reachable (not all marked failed).
    pub upstream_reachable: bool,
}

/// Everything the driver touches besides the state machine.
#[derive(Debug)]
struct Driver {
    socket: VrrpSocket,
    interface: Interface,
    interface_name: String,
    /// Advert source, also used in the version 3 checksum pseudo-header.
    source: Ipv4Addr,
    /// 224.0.0.18, or the unicast peers.
    destinations: Vec<Ipv4Addr>,
    virtual_addresses: Vec<VirtualAddress>,
    /// Whether health changes reach the router (`track_balancer`).
    track: bool,
    /// Where transitions are recorded for the admin listener (inside ingress-lb).
    report: Option<Arc<VrrpReport>>,
}

impl Health {
    /// Listeners bound and an upstream reachable.
    pub const SERVING: Self = Self {
        listeners_bound: true,
        upstream_reachable: true,
    };

    /// Whether the balancer can serve traffic sent to the virtual address.
    pub const fn is_serving(self) -> bool {
        self.listeners_bound && self.upstream_reachable
    }
}

/// Runs one VRRP instance until `shutdown` completes, then leaves cleanly: a master sends a
/// priority-0 advert (the backup takes over after its skew time, well under a second) and
/// removes the virtual addresses.
///
/// `health` is the balancer's own health; while it is not serving, the router lowers its
/// priority by `track_weight` or, with weight 0, stays in Fault and never holds the address.
/// If the sender is dropped, the last value stays in force. Needs CAP_NET_ADMIN and CAP_NET_RAW
/// in the interface's network namespace.
pub async fn run(
    config: VrrpConfig,
    health: watch::Receiver<Health>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), VrrpError> {
    run_reporting(config, health, shutdown, None).await
}

/// [`run`], recording every transition in `report`.
pub(crate) async fn run_reporting(
    config: VrrpConfig,
    mut health: watch::Receiver<Health>,
    shutdown: impl Future<Output = ()>,
    report: Option<Arc<VrrpReport>>,
) -> Result<(), VrrpError> {
    if let Some(report) = &report {
        report.starting(&config);
    }
    // Validate every field before touching the host.
    config.router_config(Ipv4Addr::UNSPECIFIED)?;
    let interface = Interface::open(&config.interface).await?;
    let vips: Vec<Ipv4Addr> = config.virtual_ipaddress.iter().map(|v| v.address).collect();
    let source = match config.unicast_src_ip {
        Some(address) => address,
        None => interface.primary_ipv4(&vips).await?,
    };
    let router_config = config.router_config(source)?;
    let multicast = config.unicast_peer.is_empty();
    let socket = VrrpSocket::open(&config.interface, source, multicast).map_err(|source| {
        VrrpError::Socket {
            interface: config.interface.clone(),
            source,
        }
    })?;
    let mut driver = Driver {
        socket,
        interface,
        interface_name: config.interface.clone(),
        source,
        destinations: if multicast {
            vec![VRRP_MULTICAST]
        } else {
            config.unicast_peer.clone()
        },
        virtual_addresses: config.virtual_ipaddress.clone(),
        track: config.track_balancer,
        report,
    };
    // A predecessor that crashed may have left the addresses behind; a backup must not hold them.
    for vip in driver.virtual_addresses.clone() {
        driver.interface.remove(vip).await?;
    }
    tracing::info!(
        interface = %config.interface, virtual_router_id = config.virtual_router_id,
        source = %source, priority = config.priority, version = config.version,
        "VRRP instance starting"
    );
    let mut router = Router::new(router_config);
    let result = driver.event_loop(&mut router, &mut health, shutdown).await;
    router.shutdown(now());
    let cleanup = driver.apply(&mut router).await;
    result.and(cleanup)
}

fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl Driver {
    async fn event_loop(
        &mut self,
        router: &mut Router,
        health: &mut watch::Receiver<Health>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), VrrpError> {
        if self.track {
            router.set_health(now(), health.borrow_and_update().is_serving());
        }
        router.startup(now());
        self.apply_logged(router).await;
        let mut health_open = self.track;
        let mut buf = vec![0u8; 2048];
        tokio::pin!(shutdown);
        loop {
            let deadline = router.poll_timeout().map(TokioInstant::from_std);
            let timer = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                changed = health.changed(), if health_open => match changed {
                    Ok(()) => {
                        let current = *health.borrow_and_update();
                        tracing::info!(?current, "VRRP tracked health changed");
                        router.set_health(now(), current.is_serving());
                    }
                    Err(_) => {
                        health_open = false;
                        tracing::warn!("VRRP health sender dropped; keeping the last value");
                    }
                },
                received = self.socket.recv(&mut buf) => {
                    let len = received.map_err(|source| VrrpError::Socket {
                        interface: self.interface_name.clone(),
                        source,
                    })?;
                    receive(router, &buf[..len.min(buf.len())]);
                }
                () = timer => router.handle_timeout(now()),
            }
            self.apply_logged(router).await;
        }
    }

    async fn apply_logged(&mut self, router: &mut Router) {
        if let Err(error) = self.apply(router).await {
            tracing::error!(%error, "VRRP action failed");
        }
    }

    /// Carries out every pending action; keeps going after a failure and returns the first.
    async fn apply(&mut self, router: &mut Router) -> Result<(), VrrpError> {
        let mut first_error = None;
        while let Some(action) = router.poll_action() {
            let result = match action {
                Action::SendAdvert { priority } => self.send_advert(router, priority).await,
                Action::AddVirtualAddresses => {
                    let mut result = Ok(());
                    for vip in self.virtual_addresses.clone() {
                        result = result.and(self.interface.add(vip).await);
                    }
                    result
                }
                Action::RemoveVirtualAddresses => {
                    let mut result = Ok(());
                    for vip in self.virtual_addresses.clone() {
                        result = result.and(self.interface.remove(vip).await);
                    }
                    result
                }
                Action::GratuitousArp => {
                    let mut result = Ok(());
                    for vip in self.virtual_addresses.clone() {
                        result = result.and(self.interface.announce(vip.address));
                    }
                    result
                }
                Action::Transition { from, to } => {
                    log_transition(router, &self.interface_name, from, to);
                    if let Some(report) = &self.report {
                        report.transition(from, to, router.effective_priority());
                    }
                    Ok(())
                }
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn send_advert(&self, router: &Router, priority: u8) -> Result<(), VrrpError> {
        let config = router.config();
        let advert = Advertisement {
            version: config.version,
            virtual_router_id: config.virtual_router_id,
            priority,
            interval_centis: config.interval_centis,
            addresses: config.virtual_addresses.clone(),
            authentication: config.authentication.clone(),
        };
        for destination in &self.destinations {
            // The config was validated, so the advert is encodable; report it if not.
            let bytes =
                advert
                    .encode(self.source, *destination)
                    .map_err(|e| VrrpError::Socket {
                        interface: self.interface_name.clone(),
                        source: io::Error::other(e),
                    })?;
            self.socket
                .send_to(&bytes, *destination)
                .await
                .map_err(|source| VrrpError::Socket {
                    interface: self.interface_name.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Decodes one raw datagram and hands it to the router; drops are normal and logged at debug.
fn receive(router: &mut Router, datagram: &[u8]) {
    let outcome = parse_ipv4(datagram).and_then(|(header, payload)| {
        if header.protocol != IPPROTO_VRRP {
            return Ok(None);
        }
        Advertisement::decode(payload, header.source, header.destination)
            .map(|advert| Some((header, advert)))
    });
    match outcome {
        Ok(Some((header, advert))) => {
            if let Err(reason) = router.handle_advert(now(), &header, &advert) {
                tracing::debug!(source = %header.source, %reason, "VRRP advert discarded");
            }
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "VRRP packet dropped"),
    }
}

fn log_transition(router: &Router, interface: &str, from: State, to: State) {
    tracing::info!(
        interface,
        virtual_router_id = router.config().virtual_router_id,
        ?from,
        ?to,
        effective_priority = router.effective_priority(),
        "VRRP state change"
    );
}
