//! Plain, documented configuration for the data plane, with defaults tuned like ingress-nginx's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

/// The sockets the proxy serves, bound by the caller (tests bind `127.0.0.1:0`).
///
/// Any of them may be absent: an embedder that terminates TLS elsewhere leaves `https` out.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Plain HTTP/1.1 and h2c (prior knowledge) traffic.
    pub http: Option<TcpListener>,
    /// TLS traffic: HTTP/1.1 and HTTP/2 chosen by ALPN.
    pub https: Option<TcpListener>,
    /// `/healthz`, `/readyz` and `/metrics`; never routed through the table.
    pub admin: Option<TcpListener>,
}

/// Everything that tunes the data plane. `ProxyConfig::default()` is what the binary serves with.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Upstream timeouts.
    pub timeouts: Timeouts,
    /// Limits that protect the proxy from abusive or broken clients.
    pub limits: Limits,
    /// `Strict-Transport-Security` sent on HTTPS responses for hosts with a `tls` entry;
    /// `None` sends none. Default: `max-age=31536000; includeSubDomains`. When the route
    /// table carries a ConfigMap ([`ingress_core::GlobalConfig::configmap`]), its `hsts*`
    /// keys decide instead.
    pub hsts: Option<String>,
    /// The port written into HTTP→HTTPS redirects. `None` (the default) leaves it out, i.e.
    /// 443: the HTTPS listener is normally behind a Service or load balancer on 443.
    pub https_redirect_port: Option<u16>,
    /// How to speak to a Service's upstream pods, keyed by `namespace/name` of the Service.
    /// Services not listed use [`UpstreamProtocol::from_port_name`] on the Ingress's port
    /// name and otherwise HTTP/1.1 (see [`UpstreamProtocol`]).
    pub upstream_protocols: BTreeMap<String, UpstreamProtocol>,
    /// Passive health: an endpoint that failed to connect is skipped for this long (nginx's
    /// `fail_timeout`, with `max_fails=1`), unless it is the Service's only endpoint.
    pub passive_health_ejection: Duration,
    /// The inline HTTP/1.1 fast paths, both halves: the inline server (bodiless HTTP/1.1
    /// requests served by the connection's own task) and the inline client (bodiless requests
    /// sent upstream without hyper's connection task). Default `true`. With `false`, every
    /// request goes through hyper's server and client: same behaviour, more CPU per request.
    /// The integration tests run both ways, and differential tests hold the two to the same
    /// answers.
    pub inline_http1: bool,
    /// Serve the read-only dashboard (`/dashboard`) on the admin listener. Default `false`:
    /// the JSON endpoints it reads (`/api/…`) are served either way; the page is opt-in
    /// because the admin listener may be reachable by more people than should browse it.
    pub dashboard: bool,
    /// Trust the client's `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` and
    /// `X-Forwarded-Port` (ingress-nginx's `use-forwarded-headers`). Default `false`: as
    /// ingress-nginx, `X-Forwarded-For` and `X-Real-IP` are the peer's address, and the others
    /// what this proxy sees; with `true`, an IPv4 peer names the client in `X-Forwarded-For`
    /// (ingress-nginx's realip rules with its default `proxy-real-ip-cidr` of `0.0.0.0/0`) and
    /// the client's other values are passed on. When the route table carries a ConfigMap, its
    /// `use-forwarded-headers`, `proxy-real-ip-cidr`, `forwarded-for-header` and
    /// `compute-full-forwarded-for` keys decide instead.
    pub use_forwarded_headers: bool,
    /// Every HTTP and HTTPS connection begins with a PROXY protocol header (v1 or v2) naming
    /// the client, as a balancer with `proxy_protocol` sends it (ingress-nginx's
    /// `use-proxy-protocol`); a connection without a valid one within 5 s is closed. Default
    /// `false`. When the route table carries a ConfigMap, its `use-proxy-protocol` decides.
    pub use_proxy_protocol: bool,
    /// Pass request header fields whose names contain `_` (ingress-nginx's
    /// `enable-underscores-in-headers`). Default `false`: such fields are dropped, as nginx
    /// does (`underscores_in_headers off`), so `X_Auth` cannot pose as `X-Auth` upstream.
    /// When the route table carries a ConfigMap, its `enable-underscores-in-headers` key
    /// decides instead.
    pub enable_underscores_in_headers: bool,
    /// Where and how each request is logged (see [`AccessLog`]). Default: standard output,
    /// ingress-nginx's `upstreaminfo` text format.
    pub access_log: AccessLog,
    /// The constant labels of the ingress-nginx metrics (`controller_namespace`,
    /// `controller_class`, `controller_pod`). Default: empty.
    pub controller: crate::ControllerLabels,
}

/// The access log: one line per request, formatted and written by its own thread.
///
/// A request never waits for it: lines go through a bounded queue, and a line that finds the
/// queue full is dropped and counted in `ingress_access_log_dropped_total`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessLog {
    /// Where lines go. Default: standard output, as ingress-nginx logs.
    pub destination: AccessLogDestination,
    /// How a line is written. Default: [`AccessLogFormat::Text`].
    pub format: AccessLogFormat,
}

/// Where access-log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessLogDestination {
    /// No access log (the Prometheus metrics are still recorded).
    Off,
    /// Standard output (ingress-nginx's default, `access-log-path: /var/log/nginx/access.log`,
    /// a link to `/dev/stdout`).
    #[default]
    Stdout,
    /// Appended to this file, created if missing.
    File(PathBuf),
}

/// The line format of the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessLogFormat {
    /// ingress-nginx's default `log-format-upstream` (`upstreaminfo`), field for field.
    #[default]
    Text,
    /// One JSON object per line, the same fields named after their nginx variables.
    Json,
}

/// Upstream timeouts (ingress-nginx's `proxy-connect-timeout`, `proxy-read-timeout` and
/// `proxy-send-timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect to an upstream endpoint. Default 5 s; expiry counts as a connect failure
    /// (retried once on another endpoint, then `504`).
    pub connect: Duration,
    /// Waiting for the upstream's response head, and between two chunks of its body.
    /// Default 60 s; expiry answers `504` (or ends a streaming body).
    pub read: Duration,
    /// The longest an upstream may stall between two writes of a request (its body, mostly):
    /// ingress-nginx's `proxy-send-timeout`. Default 60 s; expiry answers `504`.
    pub send: Duration,
    /// Idle upstream connections are closed after this. Default 60 s.
    pub upstream_idle: Duration,
    /// An upgraded (`101`, e.g. WebSocket) tunnel in which no byte moved, in either direction,
    /// for this long is closed. `None` (the default) uses [`Timeouts::read`], as ingress-nginx's
    /// `proxy-read-timeout` governs WebSockets; a long-lived WebSocket needs pings or a longer
    /// value.
    pub tunnel_idle: Option<Duration>,
    /// Time given to in-flight requests after shutdown is signalled. Default 30 s.
    pub shutdown_grace: Duration,
}

/// Limits against abusive clients (slowloris, header floods, HTTP/2 rapid reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum concurrent client connections over all listeners; the accept loop waits
    /// when reached. Default 16384.
    pub max_connections: usize,
    /// Time a client has to send the complete request head (HTTP/1.x) and, on TLS listeners,
    /// to finish the handshake. Default 60 s (nginx's `client_header_timeout`).
    pub request_header_timeout: Duration,
    /// Maximum size of the request head in bytes (HTTP/1 read buffer, HTTP/2 header list).
    /// Default 64 KiB; hyper's HTTP/1 minimum is 8 KiB.
    pub max_request_header_bytes: usize,
    /// Largest request body, in bytes, where the route sets no `proxy-body-size`; larger
    /// bodies get `413`. `0` is unlimited. Default 1 MiB (ingress-nginx's `proxy-body-size`).
    pub max_request_body_bytes: u64,
    /// Maximum number of request headers (HTTP/1.x). Default 100.
    pub max_request_headers: usize,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`. Default 128 (nginx's value).
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2 streams reset by the client before the proxy accepted them, kept per
    /// connection before it is closed with `ENHANCE_YOUR_CALM` (CVE-2023-44487). Default 20.
    pub http2_max_pending_accept_reset_streams: usize,
    /// HTTP/2 streams the proxy reset because of client protocol errors, per connection,
    /// before the connection is closed. Default 1024.
    pub http2_max_local_error_reset_streams: usize,
}

/// How the proxy speaks to upstream pods.
///
/// The Ingress API has no field for it. Here it is chosen, in order, by the route's
/// `nginx.ingress.kubernetes.io/backend-protocol` annotation (as ingress-nginx), by
/// [`ProxyConfig::upstream_protocols`] for the Service, by the Service port's `appProtocol`
/// ([`UpstreamProtocol::from_app_protocol`], whether the Ingress names the port or numbers
/// it), then by the port's *name* following the Istio convention
/// ([`UpstreamProtocol::from_port_name`]), else HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive (the default).
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (gRPC, `H2C`/`GRPC` backend protocols).
    H2c,
    /// HTTP/1.1 over TLS (the `HTTPS` backend protocol). As in ingress-nginx's default
    /// (`proxy-ssl-verify: off`), the upstream's certificate is not checked against a CA and
    /// no SNI is sent to an endpoint address; the handshake signature is verified.
    Https,
    /// HTTP/2 over TLS, negotiated by ALPN (gRPC over TLS, the `GRPCS` backend protocol); the
    /// certificate is treated as for [`UpstreamProtocol::Https`].
    H2,
}

impl UpstreamProtocol {
    /// The protocol a ServicePort's `appProtocol` names: `http`, `kubernetes.io/ws` →
    /// HTTP/1.1; `https`, `kubernetes.io/wss` → HTTP/1.1 over TLS; `kubernetes.io/h2c`, `h2c`,
    /// `grpc` → h2c; `grpcs` → HTTP/2 over TLS; anything else `None` (the port name decides).
    pub fn from_app_protocol(app_protocol: &str) -> Option<Self> {
        match app_protocol.to_ascii_lowercase().as_str() {
            "http" | "kubernetes.io/ws" => Some(UpstreamProtocol::Http1),
            "https" | "kubernetes.io/wss" => Some(UpstreamProtocol::Https),
            "kubernetes.io/h2c" | "h2c" | "grpc" => Some(UpstreamProtocol::H2c),
            "grpcs" => Some(UpstreamProtocol::H2),
            _ => None,
        }
    }

    /// The protocol a port name asks for: `grpc`, `h2c`, `http2` and names starting with
    /// `grpc-`, `h2c-` or `http2-` mean [`UpstreamProtocol::H2c`]; `https` (and `https-…`)
    /// means [`UpstreamProtocol::Https`]; `grpcs` (and `grpcs-…`) means
    /// [`UpstreamProtocol::H2`]; anything else `None`.
    pub fn from_port_name(name: &str) -> Option<Self> {
        let prefix = name.split('-').next().unwrap_or(name);
        match prefix {
            "grpc" | "h2c" | "http2" => Some(UpstreamProtocol::H2c),
            "https" => Some(UpstreamProtocol::Https),
            "grpcs" => Some(UpstreamProtocol::H2),
            _ => None,
        }
    }
}

impl Timeouts {
    /// The idle timeout of upgraded tunnels: [`Timeouts::tunnel_idle`], else [`Timeouts::read`].
    pub fn effective_tunnel_idle(&self) -> Duration {
        self.tunnel_idle.unwrap_or(self.read)
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            hsts: Some("max-age=31536000; includeSubDomains".to_owned()),
            https_redirect_port: None,
            upstream_protocols: BTreeMap::new(),
            passive_health_ejection: Duration::from_secs(10),
            inline_http1: true,
            dashboard: false,
            use_forwarded_headers: false,
            use_proxy_protocol: false,
            enable_underscores_in_headers: false,
            access_log: AccessLog::default(),
            controller: crate::ControllerLabels::default(),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(60),
            send: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(60),
            tunnel_idle: None,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16_384,
            request_header_timeout: Duration::from_secs(60),
            max_request_header_bytes: 64 * 1024,
            max_request_headers: 100,
            max_request_body_bytes: 1 << 20,
            http2_max_concurrent_streams: 128,
            http2_max_pending_accept_reset_streams: 20,
            http2_max_local_error_reset_streams: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_select_h2c_by_convention() {
        assert_eq!(
            UpstreamProtocol::from_port_name("grpc"),
            Some(UpstreamProtocol::H2c)
        );
        assert_eq!(
            UpstreamProtocol::from_port_name("grpc-web"),
            Some(UpstreamProtocol::H2c)
        );
        assert_eq!(
            UpstreamProtocol::from_port_name("h2c"),
            Some(UpstreamProtocol::H2c)
        );
        assert_eq!(
            UpstreamProtocol::from_port_name("http2-api"),
            Some(UpstreamProtocol::H2c)
        );
        assert_eq!(
            UpstreamProtocol::from_port_name("https"),
            Some(UpstreamProtocol::Https)
        );
        assert_eq!(
            UpstreamProtocol::from_port_name("grpcs-api"),
            Some(UpstreamProtocol::H2)
        );
        assert_eq!(UpstreamProtocol::from_port_name("http"), None);
        assert_eq!(UpstreamProtocol::from_port_name("grpcish"), None);
    }
}
