//! VRRP (RFC 5798) virtual-IP failover: a pure state machine and its I/O driver.
//!
//! One ingress-lb binary gives both the L4 balancing and the virtual IP the reference setup gets
//! from keepalived: the router whose balancer is healthy and whose priority is highest holds the
//! virtual address; when it dies or its balancer cannot serve, a backup takes the address within
//! 3 × `advert_int` + skew, announces it with gratuitous ARP, and clients reconnect to it.
//!
//! # From keepalived.conf to `[vrrp]`
//!
//! `[vrrp]` is a section of the ingress-lb configuration file; `ingress-lb --config FILE` then
//! runs the balancer and the VRRP instance together, and the instance follows the balancer's
//! health (every listener's upstream group has a server it can pick). The reference
//! `vrrp_instance`, line for line (the standby uses `priority = 90`; keep the same
//! `virtual_router_id` on both nodes, whatever the reference's comment about 51 says: routers of
//! one group must share it):
//!
//! ```toml
//! [vrrp]                                # vrrp_instance VI_1 {
//! state = "MASTER"                      #   state MASTER            (BACKUP on the standby)
//! interface = "ens33"                   #   interface ens33
//! virtual_router_id = 50                #   virtual_router_id 50
//! priority = 100                        #   priority 100            (90 on the standby)
//! advert_int = 1                        #   advert_int 1
//! authentication = { auth_type = "PASS", auth_pass = "1111" }  # authentication { auth_type PASS  auth_pass 1111 }
//! virtual_ipaddress = ["192.168.10.15/24"]  # virtual_ipaddress { 192.168.10.15/24 }
//! track_balancer = true                 #   track_script { check_nginx }
//! version = 2                           # keepalived's default vrrp_version (needed for PASS)
//! ```
//!
//! Other keepalived keywords: `nopreempt` → `preempt = false`; `preempt_delay N` →
//! `preempt_delay = N`; `unicast_src_ip` / `unicast_peer { … }` → `unicast_src_ip = "…"`,
//! `unicast_peer = ["…"]`; a `vrrp_script`'s `weight -20` → `track_weight = -20` (no weight →
//! `track_weight = 0`: Fault while unhealthy, as keepalived). The `check_nginx.sh` script is not
//! needed: the balancer reports its own health (listeners bound, an upstream reachable) through
//! the [`Health`] channel. Every field is documented on [`VrrpConfig`].
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use ingress_lb::vrrp::{self, Health, VrrpConfig};
//!
//! #[derive(serde::Deserialize)]
//! struct File { vrrp: VrrpConfig }
//! let file: File = toml::from_str(r#"
//!     [vrrp]
//!     interface = "eth0"
//!     virtual_router_id = 50
//!     priority = 100
//!     virtual_ipaddress = ["10.231.0.100/24"]
//! "#)?;
//! let (health_tx, health_rx) = tokio::sync::watch::channel(Health::SERVING);
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! // The balancer calls `health_tx.send(...)` when its listeners or upstreams change.
//! vrrp::run(file.vrrp, health_rx, shutdown).await?;
//! # drop(health_tx);
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - `packet`: the wire codec, pure (version 3 with its pseudo-header checksum, version 2 with
//!   the `PASS` authentication field, IPv4 header reading).
//! - `state`: [`Router`], the RFC 5798 §6 state machine, sans-IO like quinn-proto: inputs carry
//!   `now`, effects come out as [`Action`]s, [`Router::poll_timeout`] names the next deadline.
//!   Tests simulate N routers on one virtual clock.
//! - `track`: inside ingress-lb, `Server::run` starts the driver with the balancer's health
//!   sampled every 100 ms and stops it (cleanly) at shutdown. A reload keeps the running
//!   instance; a changed `[vrrp]` needs a restart.
//! - `driver` ([`run`]): a raw IPv4 socket for protocol 112 (socket2, bound to the interface,
//!   TTL 255, member of 224.0.0.18), virtual addresses added and removed over rtnetlink,
//!   gratuitous ARP by `arping -U` (iputils-arping, run as a child process since `unsafe` is
//!   forbidden and `AF_PACKET` needs it) in bursts of 5 when becoming master and again 5 s later,
//!   like keepalived's `garp_master_repeat 5` / `garp_master_delay 5` (keepalived sends a burst
//!   back to back; iputils arping paces it at one per second). On shutdown a master sends a
//!   priority-0 advert and removes the addresses.

mod config;
mod driver;
mod error;
mod interface;
mod packet;
mod report;
mod socket;
mod state;
mod track;

// The public surface: configuration, the driver entry point, and the pure parts for embedders
// and tests.
pub use config::{AuthenticationConfig, InitialState, VirtualAddress, VrrpConfig, VrrpConfigError};
pub use driver::{Health, run};
pub use error::VrrpError;
pub use packet::{
    Advertisement, Authentication, IPPROTO_VRRP, Ipv4Header, PacketError, VRRP_MULTICAST, VRRP_TTL,
    Version, parse_ipv4,
};
pub(crate) use report::{VrrpReport, VrrpStatus};
pub use state::{Action, Discard, GARP_REPEAT_DELAY, Router, RouterConfig, State};
pub(crate) use track::{balancer_health, run_with_server};
