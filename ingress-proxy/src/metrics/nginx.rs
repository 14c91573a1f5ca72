//! ingress-nginx's request metrics under their own names, types, buckets and labels, so the
//! public ingress-nginx Grafana dashboard and alert rules read this proxy unchanged:
//!
//! | ingress-nginx metric | here |
//! |---|---|
//! | `nginx_ingress_controller_requests` (counter) | same labels: `status`, `method`, `path`, `namespace`, `ingress`, `service`, `canary`, `host` |
//! | `nginx_ingress_controller_request_duration_seconds` (histogram) | request head to the end of the response body |
//! | `nginx_ingress_controller_response_duration_seconds` (histogram) | upstream: from the first attempt to the end of the upstream's body (a new measurement here) |
//! | `nginx_ingress_controller_request_size` (histogram) | request head (as HTTP/1.1 writes it) and body |
//! | `nginx_ingress_controller_response_size`, `_bytes_sent` (histograms) | response body bytes (the head is not counted) |
//!
//! | `nginx_ingress_controller_config_last_reload_successful` | `1` once a snapshot is served: every change applies here (an invalid object is rejected alone, the rest of the change applies), so there is no failed reload to report |
//! | `nginx_ingress_controller_config_last_reload_successful_timestamp_seconds` | when this proxy first served the current snapshot (checked every second) |
//!
//! Not exposed yet: `ssl_expire_time_seconds` (needs the certificates' not-after, which the
//! TLS stack does not parse), `connect_duration_seconds` and `header_duration_seconds`.
//!
//! Every series also carries ingress-nginx's constant labels `controller_namespace`,
//! `controller_class` and `controller_pod`. Bounded cardinality, as ingress-nginx: `path` and
//! `host` are the matched rule's (not the request's); `method` is the request's for the
//! methods HTTP defines, `OTHER` for any other (ingress-nginx keeps every method a client
//! invents).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets, linear_buckets};
use prometheus_client::registry::Registry;

/// Prometheus's default buckets (ingress-nginx's `TimeBuckets`).
const TIME_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// ingress-nginx's constant labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerLabels {
    /// `controller_namespace`: the controller's own namespace.
    pub namespace: String,
    /// `controller_class`: the controller name (`spec.controller` of its IngressClass).
    pub class: String,
    /// `controller_pod`: the controller's pod.
    pub pod: String,
}

/// One request's ingress-nginx labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) status: u16,
    pub(crate) method: &'static str,
    pub(crate) path: Arc<str>,
    pub(crate) namespace: Arc<str>,
    pub(crate) ingress: Arc<str>,
    pub(crate) service: Arc<str>,
    pub(crate) canary: Arc<str>,
    pub(crate) host: Arc<str>,
}

/// `ssl_expire_time_seconds`'s labels, as ingress-nginx writes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct CertificateLabels {
    pub(crate) class: String,
    pub(crate) host: String,
    pub(crate) namespace: String,
    pub(crate) secret_name: String,
}

/// One series set's handles, cached per label set so a request costs one map lookup.
#[derive(Debug)]
struct Series {
    requests: Counter,
    request_duration: Histogram,
    response_duration: Histogram,
    request_size: Histogram,
    response_size: Histogram,
    bytes_sent: Histogram,
}

type Histograms = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The ingress-nginx families.
#[derive(Debug)]
pub(crate) struct NginxMetrics {
    pub(crate) registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms,
    response_duration: Histograms,
    request_size: Histograms,
    response_size: Histograms,
    bytes_sent: Histograms,
    series: RwLock<HashMap<RequestLabels, Arc<Series>, foldhash::fast::RandomState>>,
    /// `config_last_reload_successful`.
    pub(crate) reload_successful: Gauge,
    /// `config_last_reload_successful_timestamp_seconds`.
    pub(crate) reload_timestamp: Gauge,
    /// `ssl_expire_time_seconds`: each served certificate's `notAfter`, set at each scrape.
    ssl_expire_time: Family<CertificateLabels, Gauge>,
    /// The controller class, the `class` label of `ssl_expire_time_seconds`.
    class: String,
}

/// One finished request, as the ingress-nginx metrics see it.
#[derive(Debug)]
pub(crate) struct Observation {
    pub(crate) seconds: f64,
    pub(crate) upstream_seconds: Option<f64>,
    pub(crate) request_size: u64,
    pub(crate) response_size: u64,
}

fn time_histogram() -> Histogram {
    Histogram::new(TIME_BUCKETS)
}

fn length_histogram() -> Histogram {
    Histogram::new(linear_buckets(10.0, 10.0, 10))
}

fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10.0, 10.0, 7))
}

impl NginxMetrics {
    pub(crate) fn new(controller: &ControllerLabels) -> Self {
        let labels = [
            ("controller_namespace", &controller.namespace),
            ("controller_class", &controller.class),
            ("controller_pod", &controller.pod),
        ]
        .map(|(k, v)| (Cow::Borrowed(k), Cow::Owned(v.clone())));
        let mut registry =
            Registry::with_prefix_and_labels("nginx_ingress_controller", labels.into_iter());
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "The total number of client requests",
            requests.clone(),
        );
        let histogram =
            |registry: &mut Registry, name: &str, help: &str, new: fn() -> Histogram| {
                let family: Histograms = Family::new_with_constructor(new);
                registry.register(name, help, family.clone());
                family
            };
        let request_duration = histogram(
            &mut registry,
            "request_duration_seconds",
            "The request processing time in milliseconds",
            time_histogram,
        );
        let response_duration = histogram(
            &mut registry,
            "response_duration_seconds",
            "The time spent on receiving the response from the upstream server",
            time_histogram,
        );
        let request_size = histogram(
            &mut registry,
            "request_size",
            "The request length (including request line, header, and request body)",
            length_histogram,
        );
        let response_size = histogram(
            &mut registry,
            "response_size",
            "The response length (including request line, header, and request body)",
            length_histogram,
        );
        let bytes_sent = histogram(
            &mut registry,
            "bytes_sent",
            "DEPRECATED The number of bytes sent to a client",
            size_histogram,
        );
        let reload_successful = Gauge::default();
        registry.register(
            "config_last_reload_successful",
            "Whether the last configuration reload attempt was successful",
            reload_successful.clone(),
        );
        let reload_timestamp = Gauge::default();
        registry.register(
            "config_last_reload_successful_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            reload_timestamp.clone(),
        );
        let ssl_expire_time = Family::<CertificateLabels, Gauge>::default();
        registry.register(
            "ssl_expire_time_seconds",
            "Number of seconds since 1970 to the SSL Certificate expire",
            ssl_expire_time.clone(),
        );
        NginxMetrics {
            registry,
            ssl_expire_time,
            class: controller.class.clone(),
            reload_successful,
            reload_timestamp,
            requests,
            request_duration,
            response_duration,
            request_size,
            response_size,
            bytes_sent,
            series: RwLock::new(HashMap::default()),
        }
    }

    /// Replaces `ssl_expire_time_seconds` with the certificates of the table in force (a host
    /// whose certificate cannot be read has no series).
    pub(crate) fn set_certificates(&self, rows: &[crate::tls::CertificateRow<'_>]) {
        self.ssl_expire_time.clear();
        for row in rows {
            let Ok(details) = &row.details else { continue };
            let (namespace, secret_name) = row.binding.secret.as_ref().map_or_else(
                || (String::new(), String::new()),
                |secret| (secret.namespace.to_string(), secret.name.to_string()),
            );
            self.ssl_expire_time
                .get_or_create(&CertificateLabels {
                    class: self.class.clone(),
                    host: row.host.to_string(),
                    namespace,
                    secret_name,
                })
                .set(details.not_after);
        }
    }

    /// Records one finished request.
    pub(crate) fn record(&self, labels: &RequestLabels, observed: &Observation) {
        let series = self.series(labels);
        series.requests.inc();
        series.request_duration.observe(observed.seconds);
        if let Some(upstream) = observed.upstream_seconds {
            series.response_duration.observe(upstream);
        }
        series.request_size.observe(observed.request_size as f64);
        series.response_size.observe(observed.response_size as f64);
        series.bytes_sent.observe(observed.response_size as f64);
    }

    fn series(&self, labels: &RequestLabels) -> Arc<Series> {
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(labels)
        {
            return series.clone();
        }
        let series = Arc::new(Series {
            requests: self.requests.get_or_create(labels).clone(),
            request_duration: self.request_duration.get_or_create(labels).clone(),
            response_duration: self.response_duration.get_or_create(labels).clone(),
            request_size: self.request_size.get_or_create(labels).clone(),
            response_size: self.response_size.get_or_create(labels).clone(),
            bytes_sent: self.bytes_sent.get_or_create(labels).clone(),
        });
        self.series
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(labels.clone())
            .or_insert(series)
            .clone()
    }
}

/// The `method` label: the request's for HTTP's methods, `OTHER` for invented ones.
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("OTHER")
}
