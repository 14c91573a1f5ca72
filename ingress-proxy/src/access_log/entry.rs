//! One access-log line's worth of owned data, as it travels from the request to the writer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Uri, Version};
use ingress_core::global_config::LogFormat;
use ingress_core::{PortRef, ServiceRef};

/// A finished request, owned: moved through the queue and formatted by the writer thread.
#[derive(Debug)]
pub(crate) struct Entry {
    /// When the response ended (`$time_local`).
    pub(crate) time: SystemTime,
    pub(crate) client: IpAddr,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    /// The host the request was routed on.
    pub(crate) host: Option<HeaderValue>,
    pub(crate) status: u16,
    pub(crate) body_bytes_sent: u64,
    pub(crate) referer: Option<HeaderValue>,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) request_length: u64,
    pub(crate) request_time: Duration,
    pub(crate) upstream_name: UpstreamName,
    pub(crate) upstream_addr: Option<SocketAddr>,
    pub(crate) upstream_response_length: Option<u64>,
    pub(crate) upstream_status: Option<u16>,
    pub(crate) upstream_response_time: Option<Duration>,
    pub(crate) request_id: Option<HeaderValue>,
    pub(crate) error: Option<String>,
    /// Why the proxy refused the request (`ingress_requests_denied_total`'s reason), if it did.
    pub(crate) denied: Option<&'static str>,
    /// `log-format-upstream`, when a ConfigMap sets one.
    pub(crate) custom: Option<CustomFields>,
}

/// A ConfigMap's `log-format-upstream` and the fields only it logs.
#[derive(Debug)]
pub(crate) struct CustomFields {
    pub(crate) format: Arc<LogFormat>,
    /// The `$http_NAME` values, in the order of [`LogFormat::headers`].
    pub(crate) headers: Vec<Option<HeaderValue>>,
    /// The matched rule's Ingress (`$ingress_name`).
    pub(crate) ingress: Option<Arc<str>>,
}

/// `$proxy_upstream_name`: which upstream served the request, named as ingress-nginx does.
#[derive(Debug, Clone)]
pub(crate) enum UpstreamName {
    /// No Service involved (a redirect, a `resource` backend, a rejected request).
    None,
    /// No rule matched: the default backend (ingress-nginx's `upstream-default-backend`).
    DefaultBackend,
    /// A Service: `namespace-name-port`.
    Service(ServiceRef),
}

impl UpstreamName {
    /// The name for a request that matched a rule (`default_backend == false`) or not, and
    /// was routed to `service`, if any.
    pub(crate) fn new(default_backend: bool, service: Option<&ServiceRef>) -> Self {
        match (default_backend, service) {
            (true, _) => UpstreamName::DefaultBackend,
            (false, Some(service)) => UpstreamName::Service(service.clone()),
            (false, None) => UpstreamName::None,
        }
    }

    /// Writes the name; `-` for [`UpstreamName::None`].
    pub(crate) fn write_to(&self, out: &mut String) {
        match self {
            UpstreamName::None => out.push('-'),
            UpstreamName::DefaultBackend => out.push_str("upstream-default-backend"),
            UpstreamName::Service(service) => {
                out.push_str(&service.namespace);
                out.push('-');
                out.push_str(&service.name);
                out.push('-');
                match &service.port {
                    PortRef::Number(number) => {
                        out.push_str(itoa::Buffer::new().format(*number));
                    }
                    PortRef::Name(name) => out.push_str(name),
                }
            }
        }
    }
}

#[cfg(test)]
impl Entry {
    /// [`Entry::sample`]'s time: 2026-12-03T07:04:46Z.
    pub(crate) const SAMPLE_SECONDS: u64 = 1_796_281_486;

    /// A fixed, complete entry for format and writer tests.
    pub(crate) fn sample() -> Entry {
        Entry {
            time: std::time::UNIX_EPOCH + Duration::from_millis(Self::SAMPLE_SECONDS * 1000 + 250),
            client: [10, 0, 0, 7].into(),
            method: Method::GET,
            uri: Uri::from_static("/api?q=1"),
            version: Version::HTTP_11,
            host: Some(HeaderValue::from_static("web.example")),
            status: 200,
            body_bytes_sent: 612,
            referer: None,
            user_agent: Some(HeaderValue::from_static("curl/8.5.0")),
            request_length: 78,
            request_time: Duration::from_micros(4_200),
            upstream_name: UpstreamName::Service(ServiceRef {
                namespace: std::sync::Arc::from("default"),
                name: std::sync::Arc::from("web"),
                port: PortRef::Number(80),
            }),
            upstream_addr: Some("10.1.2.3:8080".parse().expect("literal address")),
            upstream_response_length: Some(612),
            upstream_status: Some(200),
            upstream_response_time: Some(Duration::from_micros(3_900)),
            request_id: Some(HeaderValue::from_static("0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5")),
            error: None,
            denied: None,
            custom: None,
        }
    }
}

/// The request target as the request line carried it: the path for HTTP/2 (whose `:path`
/// is origin-form), else the URI as received (origin, absolute or authority form).
pub(crate) fn request_target(uri: &Uri, version: Version) -> [&str; 4] {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match (version, uri.scheme_str(), uri.authority()) {
        (Version::HTTP_2 | Version::HTTP_3, ..) => [path, "", "", ""],
        (_, Some(scheme), Some(authority)) => [scheme, "://", authority.as_str(), path],
        (_, None, Some(authority)) => [authority.as_str(), "", "", ""],
        _ => [path, "", "", ""],
    }
}

/// The length of [`request_target`], without building it.
pub(crate) fn target_length(uri: &Uri, version: Version) -> usize {
    request_target(uri, version)
        .iter()
        .map(|piece| piece.len())
        .sum()
}
