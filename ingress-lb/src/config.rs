//! The TOML configuration, field by field; every default equals nginx's.
//!
//! The tutorial's `stream` block translates line for line:
//!
//! ```toml
//! # upstream k8s-ingress-controller {
//! [upstreams.k8s-ingress-controller]
//! servers = [
//!   # server 192.168.10.11:80 weight=5 max_fails=3 fail_timeout=30s;
//!   { address = "192.168.10.11:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
//!   # server 192.168.10.12:80 weight=5 max_fails=3 fail_timeout=30s;
//!   { address = "192.168.10.12:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
//! ]
//!
//! # server { listen 38999; proxy_pass k8s-ingress-controller; }
//! [[listeners]]
//! address = "0.0.0.0:38999"
//! upstream = "k8s-ingress-controller"
//! ```
//!
//! `access_log` has no counterpart: every connection is logged through `tracing` (see
//! `log.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use self::duration::NginxDuration;
pub use self::load::ConfigError;

mod duration;
mod load;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the admin listener serving Prometheus metrics at `/metrics`; none by default.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// Serve the read-only dashboard at `/dashboard` on the admin listener (upstream groups,
    /// servers, listeners, VRRP state; the JSON it draws is `/api/status`, served either way).
    /// Off by default; `ingress-lb --enable-dashboard` turns it on too. Read at start.
    #[serde(default)]
    pub dashboard: bool,
    /// Upstream groups by name (nginx `upstream NAME { … }`).
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Listening sockets (nginx `server { listen …; proxy_pass …; }`).
    pub listeners: Vec<ListenerConfig>,
    /// VRRP virtual-IP failover (keepalived's `vrrp_instance`); none by default. Every field
    /// and the keepalived translation: [`crate::vrrp`]. Read at start; a reload keeps the running
    /// VRRP instance as it is.
    #[serde(default)]
    pub vrrp: Option<crate::vrrp::VrrpConfig>,
}

/// One upstream group (nginx `upstream`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Balancing method; `round_robin` by default.
    #[serde(default)]
    pub algorithm: AlgorithmConfig,
    /// The servers of the group (nginx `server` lines), at least one.
    pub servers: Vec<ServerConfig>,
    /// Optional active TCP checks; without them only passive health (`max_fails`) applies.
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
}

/// Balancing method of an upstream group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmConfig {
    /// Smooth weighted round-robin (nginx's default).
    #[default]
    RoundRobin,
    /// Fewest active connections per unit of weight (nginx `least_conn`).
    LeastConn,
    /// Consistent hashing of the client address (nginx `hash $remote_addr consistent`).
    Hash,
}

/// One server of a group (nginx `server ADDRESS [weight=…] [max_fails=…] …`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `IP:port` of the server (names are not resolved).
    pub address: SocketAddr,
    /// Relative share of connections (`weight`, default 1, at least 1).
    #[serde(default = "defaults::weight")]
    pub weight: Spanned<u32>,
    /// Failed connects within `fail_timeout` that mark the server unavailable (`max_fails`,
    /// default 1; 0 disables the accounting).
    #[serde(default = "defaults::max_fails")]
    pub max_fails: u32,
    /// The window for `max_fails` and how long the server then stays unavailable
    /// (`fail_timeout`, default 10 s).
    #[serde(default = "defaults::fail_timeout")]
    pub fail_timeout: NginxDuration,
    /// Used only when every primary server is unavailable (`backup`).
    #[serde(default)]
    pub backup: bool,
    /// Permanently unavailable (`down`).
    #[serde(default)]
    pub down: bool,
}

/// Active TCP health checks of a group: a TCP connect every `interval`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Time between checks of each server (default 5 s).
    #[serde(default = "defaults::check_interval")]
    pub interval: NginxDuration,
    /// Consecutive successes that mark an unhealthy server healthy again (default 1).
    #[serde(default = "defaults::one")]
    pub rise: u32,
    /// Consecutive failures that mark a server unhealthy (default 1).
    #[serde(default = "defaults::one")]
    pub fall: u32,
    /// Connect timeout of one check (default 5 s).
    #[serde(default = "defaults::check_interval")]
    pub timeout: NginxDuration,
}

/// One listening socket and how its connections are forwarded (nginx stream `server`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address to listen on (nginx `listen`).
    pub address: SocketAddr,
    /// Upstream group connections go to (nginx `proxy_pass`); with `ssl_preread`, the group for
    /// server names not listed in `server_names` (the `default` of nginx's `map`).
    pub upstream: Spanned<String>,
    /// Time allowed to establish each upstream connection (`proxy_connect_timeout`, 60 s).
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: NginxDuration,
    /// Idle time between two reads or writes after which the session is closed
    /// (`proxy_timeout`, 10 min).
    #[serde(default = "defaults::timeout")]
    pub timeout: NginxDuration,
    /// Try the next server when a connect fails (`proxy_next_upstream`, on).
    #[serde(default = "defaults::yes")]
    pub next_upstream: bool,
    /// Most servers tried per connection, 0 for no limit (`proxy_next_upstream_tries`, 0).
    #[serde(default)]
    pub next_upstream_tries: u32,
    /// Most simultaneous client connections; further ones are closed at once (nginx
    /// `limit_conn` keyed on the listener). No limit by default.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Send a PROXY protocol header to the upstream (`proxy_protocol on` is `"v1"`).
    #[serde(default)]
    pub proxy_protocol: Option<ProxyProtocolVersion>,
    /// Read the TLS ClientHello without terminating TLS and route by its server name
    /// (`ssl_preread on` with a `map $ssl_preread_server_name`). Off by default.
    #[serde(default)]
    pub ssl_preread: bool,
    /// Server name → upstream group, used with `ssl_preread`. Keys are exact names or
    /// `*.example.com` (one extra label); case-insensitive.
    #[serde(default)]
    pub server_names: BTreeMap<String, Spanned<String>>,
    /// Time allowed for the client to send its ClientHello (`preread_timeout`, 30 s).
    #[serde(default = "defaults::preread_timeout")]
    pub preread_timeout: NginxDuration,
}

/// PROXY protocol version sent to upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyProtocolVersion {
    /// Text header (`PROXY TCP4 …\r\n`).
    V1,
    /// Binary header.
    V2,
}

impl ListenerConfig {
    /// The group for a TLS server name (or the default group when none matches).
    pub fn group_for(&self, server_name: Option<&str>) -> &str {
        let Some(name) = server_name else {
            return self.upstream.get_ref();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(group) = self.server_names.get(&name) {
            return group.get_ref();
        }
        if let Some((_, parent)) = name.split_once('.')
            && let Some(group) = self.server_names.get(&format!("*.{parent}"))
        {
            return group.get_ref();
        }
        self.upstream.get_ref()
    }

    /// Connect timeout as a [`Duration`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.0
    }
}

/// Defaults, each equal to nginx's.
mod defaults {
    use std::time::Duration;

    use toml::Spanned;

    use super::NginxDuration;

    pub(super) fn weight() -> Spanned<u32> {
        Spanned::new(0..0, 1)
    }
    pub(super) fn max_fails() -> u32 {
        ingress_core::balance::DEFAULT_MAX_FAILS
    }
    pub(super) fn fail_timeout() -> NginxDuration {
        NginxDuration(ingress_core::balance::DEFAULT_FAIL_TIMEOUT)
    }
    pub(super) fn connect_timeout() -> NginxDuration {
        NginxDuration(Duration::from_secs(60))
    }
    pub(super) fn timeout() -> NginxDuration {
        NginxDuration(Duration::from_secs(600))
    }
    pub(super) fn preread_timeout() -> NginxDuration {
        NginxDuration(Duration::from_secs(30))
    }
    pub(super) fn check_interval() -> NginxDuration {
        NginxDuration(Duration::from_secs(5))
    }
    pub(super) fn one() -> u32 {
        1
    }
    pub(super) fn yes() -> bool {
        true
    }
}
