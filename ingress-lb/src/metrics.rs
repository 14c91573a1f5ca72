//! Prometheus metrics (prometheus-client), served by [`crate::admin`].

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label set: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// The balancer's metrics and their registry.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// Client connections by listener and how they ended.
    pub(crate) connections: Family<Labels, Counter>,
    /// Client connections currently open, by listener.
    pub(crate) active: Family<Labels, Gauge>,
    /// Bytes forwarded by upstream group and direction (`to_upstream`, `to_client`).
    pub(crate) bytes: Family<Labels, Counter>,
    /// Failed connects by group and server.
    pub(crate) connect_failures: Family<Labels, Counter>,
    /// Passive-health ejections by group and server.
    pub(crate) ejections: Family<Labels, Counter>,
    /// Active health-check state changes by group, server and new state.
    pub(crate) health_transitions: Family<Labels, Counter>,
    /// Configuration reloads by result (`ok`, `error`).
    pub(crate) reloads: Family<Labels, Counter>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("ingress_lb");
        let metrics = Self {
            connections: Family::default(),
            active: Family::default(),
            bytes: Family::default(),
            connect_failures: Family::default(),
            ejections: Family::default(),
            health_transitions: Family::default(),
            reloads: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Client connections by listener and ending",
            metrics.connections.clone(),
        );
        registry.register(
            "active_connections",
            "Open client connections by listener",
            metrics.active.clone(),
        );
        registry.register(
            "bytes",
            "Bytes forwarded by upstream group and direction",
            metrics.bytes.clone(),
        );
        registry.register(
            "upstream_connect_failures",
            "Failed upstream connects",
            metrics.connect_failures.clone(),
        );
        registry.register(
            "upstream_ejections",
            "Servers ejected by max_fails",
            metrics.ejections.clone(),
        );
        registry.register(
            "health_check_transitions",
            "Active health check state changes",
            metrics.health_transitions.clone(),
        );
        registry.register(
            "reloads",
            "Configuration reloads by result",
            metrics.reloads.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Labels for a listener.
pub(crate) fn listener(address: &str) -> Labels {
    vec![("listener", address.to_string())]
}
