//! The data plane: an HTTP/1.1, HTTP/2 and TLS reverse proxy that serves every request from the
//! current `ingress-core` route table snapshot, so configuration changes apply without reloads.
//!
//! [`run`] takes bound listeners, a [`TableReader`](ingress_core::TableReader), a
//! [`ProxyConfig`] and a shutdown future; whoever owns the matching `TableWriter` (a manifest
//! directory, a cluster watch, a test) publishes snapshots and the proxy picks each one up on
//! the next request or TLS handshake. This crate never depends on a Kubernetes client.
//!
//! # Example
//!
//! ```no_run
//! use ingress_core::{ClassSelection, TableConfig};
//! use ingress_proxy::{Listeners, ProxyConfig};
//! use tokio::net::TcpListener;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let (mut writer, reader) = ingress_core::table(TableConfig {
//!     classes: ClassSelection {
//!         controller_name: "k8s.io/ingress-nginx".into(),
//!         class_names: vec!["nginx".into()],
//!         watch_without_class: false,
//!     },
//!     default_backend: None,
//!     default_certificate: None,
//!     ssl_passthrough: false,
//! });
//! writer.commit(); // publish the first (empty) snapshot: /readyz turns 200
//! let listeners = Listeners {
//!     http: Some(TcpListener::bind("127.0.0.1:8080").await?),
//!     https: Some(TcpListener::bind("127.0.0.1:8443").await?),
//!     admin: Some(TcpListener::bind("127.0.0.1:10254").await?),
//! };
//! let shutdown = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! ingress_proxy::run(listeners, reader, ProxyConfig::default(), shutdown).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! - **One snapshot per decision.** A request loads the table once (lock-free `ArcSwap`),
//!   resolves its route to owned `Arc`s and drops the guard before any `.await`; a TLS handshake
//!   does the same to pick its certificate and whether to ask for the client's. Publishing a new table never blocks or fails an
//!   in-flight request, and a rotated certificate applies to the next handshake.
//! - **One pipeline** (`handler.rs`), whatever the transport on either side: resolve (host,
//!   path → route) → check (`CONNECT` → `405`, an HTTP/1.1 request without exactly one `Host`
//!   → `400`) → HTTP→HTTPS redirect → pick an endpoint (passive health) → the upstream request
//!   (hop-by-hop fields and, by default, names with `_` removed; `X-Forwarded-*` decided once,
//!   see [`ProxyConfig::use_forwarded_headers`]) → the attempt loop → respond (framing and
//!   hop-by-hop fields are this hop's, HSTS, streamed body, access-log record). A per-route
//!   policy belongs in one of these phases, once.
//! - **One attempt loop, one retry policy.** Failures are classified by kind — connect, not
//!   sent, stale pooled connection, timeout, protocol, I/O, the client's own body — never by
//!   which client produced them. Nothing sent: retried, any method, on another endpoint
//!   (once), and the endpoint counts as failed; a pooled connection the upstream had closed:
//!   retried on a fresh connection, idempotent methods only; a request body the client
//!   framed wrongly: `400`, the endpoint not blamed. Timeouts answer `504`, the rest `502`.
//! - **The inline HTTP/1.1 fast paths, one switch.** Two hand-written halves speak HTTP/1.1
//!   for the common bodiless request: the *inline server* (`server/inline.rs`) serves it on
//!   the connection's own task, and the *inline client* (`handler/upstream/inline.rs`) sends
//!   it upstream without hyper's connection task. Anything else — a body, an upgrade,
//!   `Expect`, HTTP/2's preface, a malformed or oversized head — goes to hyper's server (the
//!   bytes read so far put back in front) and hyper's client. Both halves speak through one
//!   sans-IO codec (`http1.rs`: head parse and encode, framing rules, chunked bodies), whose
//!   module docs state the RFC 9112 rules and limits it keeps. [`ProxyConfig::inline_http1`]
//!   turns both halves off (`--disable-inline-http1`); the integration suites run both ways,
//!   and differential tests hold the halves to hyper's behaviour.
//! - **The transport is the upstream layer's choice.** HTTP/2 (`H2c`, `H2`) by hyper's HTTP/2
//!   client, bodiless HTTP/1.1 by the inline client, the rest by hyper's HTTP/1.1 client.
//!   Trailers of a chunked response on the inline client are read and dropped, as nginx does
//!   with HTTP/1.1 upstreams (gRPC upstreams are HTTP/2 and never take that path).
//! - **Upstream connections.** An HTTP/1.1 connection serves one exchange at a time and goes
//!   back to its endpoint's pool when the response body has ended (and the request body was
//!   sent whole); pooled connections the upstream closed are skipped, and idle ones are closed
//!   after [`Timeouts::upstream_idle`]. HTTP/2 (h2c) upstreams share one connection per
//!   endpoint.
//! - **Streaming both ways.** Bodies are never buffered whole; HTTP/1.1 `Upgrade` (WebSocket)
//!   becomes a byte tunnel, closed after [`Timeouts::tunnel_idle`] without a byte either way;
//!   it counts as its client connection (in [`Limits::max_connections`] and the
//!   `open_connections` gauge) until it ends, and is closed when the shutdown grace period is
//!   over. Request bodies stay retryable until first polled.
//! - **Failures are answers.** No route → `404` (built-in default backend); no endpoints or a
//!   `resource` backend → `503`; upstream timeout → `504`; other upstream errors → `502`;
//!   `CONNECT` → `405`; a missing or repeated `Host`, or a request body the client framed
//!   wrongly → `400`. Each page is one short line saying what happened.
//! - **Upstream protocol.** HTTP/1.1 by default; h2c (prior knowledge) for gRPC, HTTP/1.1
//!   over TLS, or HTTP/2 over TLS (gRPC over TLS) when [`ProxyConfig::upstream_protocols`]
//!   names the Service or the Ingress references the port by a name such as `grpc`, `https` or
//!   `grpcs` (see [`UpstreamProtocol`]). Upstream TLS follows ingress-nginx's defaults: the
//!   certificate is not checked against a CA, no SNI is sent to endpoint addresses; a route's
//!   `proxy-ssl-*` annotations get a TLS client of their own (CA, client certificate, name,
//!   versions), and upstream connections are pooled per client.
//! - **Client certificates.** The HTTPS listener reads the ClientHello before choosing its
//!   configuration: only hosts with `auth-tls-*` ask for a client certificate; the handshake
//!   records the verdict and the request is answered as nginx does (`400`, the error page,
//!   `421` for a connection set up for another host).
//! - **Endpoint choice.** One `ingress_core::balance::Balancer` per backend (nginx's smooth
//!   weighted round-robin, `max_fails=1`, `fail_timeout` =
//!   [`ProxyConfig::passive_health_ejection`]), rebuilt when its endpoint set changes; a
//!   request's attempt makes the retry go to an endpoint not yet tried.
//! - **Limits.** Connection count, request-head size/count/time (slowloris), TLS handshake time,
//!   HTTP/2 concurrent streams and reset-stream limits (CVE-2023-44487): see [`Limits`].
//! - **Observability.** An access log off the request path ([`ProxyConfig::access_log`]): a
//!   request queues its finished record (never blocking; a full queue drops the line and
//!   counts it in `ingress_access_log_dropped_total`) for one writer thread, which writes
//!   ingress-nginx's default `upstreaminfo` lines (or JSON) to standard output or a file.
//!   Every request carries an `X-Request-ID` upstream (the client's, else a generated one),
//!   logged as `$req_id`. Prometheus counters and histograms by Ingress and Service on the
//!   admin listener's `/metrics`; its JSON API (`/api/routes`, `/api/backends`,
//!   `/api/diagnostics`, `/api/certificates`, `/api/traffic`, `/api/explain`) says what the
//!   proxy decided and where the traffic goes, and [`ProxyConfig::dashboard`] serves a
//!   read-only page drawing it (`/dashboard`, every asset embedded).

mod access_log;
mod admin;
mod body;
mod coarse_timer;
mod config;
mod error;
mod handler;
mod http1;
mod metrics;
mod request_id;
mod server;
mod tls;

/// Entry points for the fuzz targets (`fuzz/`); not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `data` as an upstream's HTTP/1.1 response, whole and in the pieces `splits`
    /// describes; panics if the two readings differ.
    pub fn upstream_response(data: &[u8], head_request: bool, splits: &[u8]) {
        crate::http1::split_check::response::check_split_invariance(data, head_request, splits);
    }

    /// Reads `data` as a client's pipelined HTTP/1.1 request heads, whole and in the pieces
    /// `splits` describes (with small head limits when `small_limits`); panics if the two
    /// readings differ or a hand-off to hyper would lose bytes.
    pub fn inline_request(data: &[u8], splits: &[u8], small_limits: bool) {
        crate::http1::split_check::request::check_split_invariance(data, splits, small_limits);
    }
}

// The public API: configuration, the entry point and its error.
pub use access_log::AccessLogError;
pub use config::{
    AccessLog, AccessLogDestination, AccessLogFormat, Limits, Listeners, ProxyConfig, Timeouts,
    UpstreamProtocol,
};
pub use error::ProxyError;
pub use metrics::ControllerLabels;
pub use server::run;
