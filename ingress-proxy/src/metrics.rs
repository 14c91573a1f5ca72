//! Prometheus metrics (text exposition via `prometheus-client`), labelled by Ingress and Service.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod nginx;
mod traffic;

pub use nginx::ControllerLabels;
pub(crate) use nginx::{NginxMetrics, Observation, RequestLabels, method_label};
pub(crate) use traffic::TrafficHistory;

/// Labels of the per-request families: which Ingress and Service served the request.
///
/// `Arc<str>` values are cloned from the route table, so recording a request does not
/// allocate label strings; `-` stands for "none" (default backend, no route).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    /// Namespace of the matched Ingress (or of the default backend Service).
    pub(crate) namespace: Arc<str>,
    /// Name of the matched Ingress.
    pub(crate) ingress: Arc<str>,
    /// Name of the Service the request was sent to.
    pub(crate) service: Arc<str>,
}

/// [`RouteLabels`] plus the response status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct StatusLabels {
    namespace: Arc<str>,
    ingress: Arc<str>,
    service: Arc<str>,
    status: u16,
}

/// Labels of the denied-requests counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct DenialLabels {
    /// `source_range`, `limit`, `basic_auth`, `external_auth`, `auth_unavailable`,
    /// `invalid_annotation`, `body_size`, `client_certificate`.
    pub(crate) reason: &'static str,
}

/// Labels of the passed-through connections counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct PassthroughLabels {
    /// `passed` (copied to an endpoint), `no_endpoint` (none could be connected to: closed).
    pub(crate) result: &'static str,
}

/// Labels of the diagnostics gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct DiagnosticLabels {
    /// The diagnostic's reason (`Rejected`, `RuleConflict`, `TLSSecretMissing`, …).
    pub(crate) reason: &'static str,
}

/// Labels naming one TLS Secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct SecretLabels {
    /// `namespace/name` of the Secret.
    pub(crate) secret: String,
}

/// One route's series: shared handles into the families (`prometheus-client` metrics are
/// `Arc`s inside, so a clone records into the same series).
#[derive(Debug)]
struct RouteMetrics {
    duration: Histogram,
    bytes_received: Counter,
    bytes_sent: Counter,
    /// Request counters by status, filled as statuses occur (a handful per route).
    requests: RwLock<Vec<(u16, Counter)>>,
    /// The same requests for the traffic history (`/api/traffic`), which needs to read them.
    traffic: traffic::RouteTraffic,
}

/// Every metric the proxy records. Cheap to share: all families are internally synchronised.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    bytes_received: Family<RouteLabels, Counter>,
    bytes_sent: Family<RouteLabels, Counter>,
    /// Handles into the per-route series above, so recording a request is one fast lookup.
    routes: RwLock<HashMap<RouteLabels, Arc<RouteMetrics>, foldhash::fast::RandomState>>,
    /// Upstream attempts retried on another endpoint after a connect failure.
    pub(crate) upstream_retries: Counter,
    /// Upstream connect failures, per attempt (feeds passive health too).
    pub(crate) upstream_connect_failures: Counter,
    /// TLS Secrets whose PEM could not be parsed (their hosts get the default certificate).
    pub(crate) tls_secret_errors: Family<SecretLabels, Counter>,
    /// Access-log lines dropped because the writer's queue was full.
    pub(crate) access_log_dropped: Counter,
    /// Connections closed for a missing or invalid PROXY protocol header.
    pub(crate) proxy_protocol_refused: Counter,
    /// `limit-rps`/`limit-rpm` client states evicted from a full shard (the bound on memory).
    pub(crate) rate_limit_evictions: Counter,
    /// Requests the proxy refused itself, by the check that refused them.
    denied: Family<DenialLabels, Counter>,
    /// TLS connections whose server name is an `ssl-passthrough` host, by outcome.
    passthrough: Family<PassthroughLabels, Counter>,
    /// The table in force's diagnostics by reason (rejected objects, conflicts, missing
    /// Secrets, invalid or ignored annotations), set at each scrape.
    diagnostics: Family<DiagnosticLabels, Gauge>,
    /// Client connections currently open.
    pub(crate) open_connections: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Generation of the route table the TLS resolver last saw.
    pub(crate) table_generation: Gauge<u64, AtomicU64>,
    /// ingress-nginx's metrics, under their names.
    pub(crate) nginx: NginxMetrics,
    /// Recent traffic per Ingress and Service, sampled every second (`/api/traffic`).
    pub(crate) traffic: TrafficHistory,
}

impl Metrics {
    pub(crate) fn new(controller: &ControllerLabels) -> Self {
        let mut registry = Registry::with_prefix("ingress");
        let requests = Family::<StatusLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by Ingress, Service and status",
            requests.clone(),
        );
        let duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        registry.register(
            "request_duration_seconds",
            "Time from the request head to the end of the response body",
            duration.clone(),
        );
        let bytes_received = Family::<RouteLabels, Counter>::default();
        registry.register(
            "request_body_bytes",
            "Request body bytes received from clients",
            bytes_received.clone(),
        );
        let bytes_sent = Family::<RouteLabels, Counter>::default();
        registry.register(
            "response_body_bytes",
            "Response body bytes sent to clients",
            bytes_sent.clone(),
        );
        let upstream_retries = Counter::default();
        registry.register(
            "upstream_retries",
            "Requests retried on another endpoint after a connect failure",
            upstream_retries.clone(),
        );
        let upstream_connect_failures = Counter::default();
        registry.register(
            "upstream_connect_failures",
            "Failed connection attempts to upstream endpoints",
            upstream_connect_failures.clone(),
        );
        let tls_secret_errors = Family::<SecretLabels, Counter>::default();
        registry.register(
            "tls_secret_errors",
            "TLS Secrets whose certificate or key failed to parse (default certificate served)",
            tls_secret_errors.clone(),
        );
        let access_log_dropped = Counter::default();
        registry.register(
            "access_log_dropped",
            "Access-log lines dropped because the writer's queue was full",
            access_log_dropped.clone(),
        );
        let proxy_protocol_refused = Counter::default();
        registry.register(
            "proxy_protocol_refused",
            "Connections closed for a missing or invalid PROXY protocol header (use-proxy-protocol)",
            proxy_protocol_refused.clone(),
        );
        let rate_limit_evictions = Counter::default();
        registry.register(
            "rate_limit_evictions",
            "Per-client limit-rps/limit-rpm states evicted to keep the limiter within its memory bound",
            rate_limit_evictions.clone(),
        );
        let passthrough = Family::<PassthroughLabels, Counter>::default();
        registry.register(
            "ssl_passthrough_connections",
            "TLS connections passed undecrypted to an ssl-passthrough host's Service, by result",
            passthrough.clone(),
        );
        let denied = Family::<DenialLabels, Counter>::default();
        registry.register(
            "requests_denied",
            "Requests the proxy refused itself, by reason: source_range (403), limit (limit-rps/rpm/connections), basic_auth (401), invalid_annotation (503), body_size (413: a declared length over proxy-body-size), client_certificate (auth-tls-*: 400, 421 or the error page)",
            denied.clone(),
        );
        let diagnostics = Family::<DiagnosticLabels, Gauge>::default();
        registry.register(
            "diagnostics",
            "Diagnostics of the route table in force, by reason: rejected objects, conflicts, missing Secrets, invalid or ignored annotations and ConfigMap keys",
            diagnostics.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections currently open",
            open_connections.clone(),
        );
        let table_generation = Gauge::default();
        registry.register(
            "route_table_generation",
            "Generation of the route table snapshot last used for a TLS handshake",
            table_generation.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            bytes_received,
            bytes_sent,
            routes: RwLock::new(HashMap::default()),
            upstream_retries,
            upstream_connect_failures,
            tls_secret_errors,
            access_log_dropped,
            proxy_protocol_refused,
            rate_limit_evictions,
            denied,
            passthrough,
            diagnostics,
            open_connections,
            table_generation,
            nginx: NginxMetrics::new(controller),
            traffic: TrafficHistory::default(),
        }
    }

    /// Records one finished request.
    pub(crate) fn record_request(
        &self,
        labels: &RouteLabels,
        status: u16,
        seconds: f64,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        let route = self.route(labels);
        route.duration.observe(seconds);
        route.traffic.record(status, seconds);
        if bytes_in > 0 {
            route.bytes_received.inc_by(bytes_in);
        }
        if bytes_out > 0 {
            route.bytes_sent.inc_by(bytes_out);
        }
        let counted = route
            .requests
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, counter)| counter.inc())
            .is_some();
        if !counted {
            let counter = self
                .requests
                .get_or_create(&StatusLabels {
                    namespace: labels.namespace.clone(),
                    ingress: labels.ingress.clone(),
                    service: labels.service.clone(),
                    status,
                })
                .clone();
            counter.inc();
            let mut statuses = route
                .requests
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if !statuses.iter().any(|(s, _)| *s == status) {
                statuses.push((status, counter));
            }
        }
    }

    /// The series of one route, created on its first request.
    fn route(&self, labels: &RouteLabels) -> Arc<RouteMetrics> {
        if let Some(route) = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(labels)
        {
            return route.clone();
        }
        let route = Arc::new(RouteMetrics {
            duration: self.duration.get_or_create(labels).clone(),
            bytes_received: self.bytes_received.get_or_create(labels).clone(),
            bytes_sent: self.bytes_sent.get_or_create(labels).clone(),
            requests: RwLock::new(Vec::new()),
            traffic: traffic::RouteTraffic::default(),
        });
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(labels.clone())
            .or_insert(route)
            .clone()
    }

    /// Appends one second to the traffic history (called once a second; `time` in Unix
    /// seconds).
    pub(crate) fn sample_traffic(&self, time: u64) {
        let routes: Vec<(RouteLabels, Arc<RouteMetrics>)> = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(labels, route)| (labels.clone(), route.clone()))
            .collect();
        self.traffic.sample(
            time,
            routes
                .iter()
                .map(|(labels, route)| (labels, &route.traffic)),
        );
    }

    /// Counts one request refused by the proxy's own checks.
    pub(crate) fn count_denial(&self, reason: &'static str) {
        self.denied.get_or_create(&DenialLabels { reason }).inc();
    }

    /// Counts one `ssl-passthrough` connection by `result`.
    pub(crate) fn count_passthrough(&self, result: &'static str) {
        self.passthrough
            .get_or_create(&PassthroughLabels { result })
            .inc();
    }

    /// Sets the gauges that describe the table in force (diagnostics by reason, certificate
    /// expiry); called before each scrape.
    pub(crate) fn refresh(&self, table: &ingress_core::RouteTable) {
        self.diagnostics.clear();
        for diagnostic in table.diagnostics() {
            self.diagnostics
                .get_or_create(&DiagnosticLabels {
                    reason: diagnostic.reason(),
                })
                .inc();
        }
        self.nginx.set_certificates(&crate::tls::inventory(table));
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error here could only come from a broken
        // metric implementation, and an empty scrape is the right answer to that.
        let encoded = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .and_then(|()| {
                prometheus_client::encoding::text::encode_registry(&mut out, &self.nginx.registry)
            })
            .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut out));
        if encoded.is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_requests_appear_in_the_exposition() {
        let metrics = Metrics::new(&ControllerLabels::default());
        let labels = RouteLabels {
            namespace: "default".into(),
            ingress: "web".into(),
            service: "svc".into(),
        };
        metrics.record_request(&labels, 200, 0.01, 10, 20);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"ingress_requests_total{namespace="default",ingress="web",service="svc",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("ingress_response_body_bytes_total"), "{text}");
        assert!(
            text.contains("ingress_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
