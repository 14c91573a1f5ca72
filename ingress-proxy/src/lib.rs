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
//!   does the same to pick its certificate. Publishing a new table never blocks or fails an
//!   in-flight request, and a rotated certificate applies to the next handshake.
//! - **Named phases per request** (`handler.rs`): resolve (host, path → route) → HTTP→HTTPS
//!   redirect check → pick an endpoint (passive health) → forward (over a per-endpoint
//!   keep-alive pool; one retry on another endpoint when nothing of the request was sent:
//!   connect refused or timed out, connection reset before the request was written) → respond
//!   (hop-by-hop headers removed, HSTS, streamed body, access-log record).
//! - **Two HTTP/1.1 servers.** An HTTP/1.1 connection (plain, or TLS without ALPN `h2`) starts
//!   on an inline server run by the connection's own task: it parses request heads with
//!   `httparse`, calls the handler and writes each response head and its body framing
//!   (`Content-Length`, chunked, or until close) itself, pipelining included. The first request
//!   it does not take — one with a body, an upgrade, `Expect`, `CONNECT`, HTTP/2's preface, or
//!   a malformed or oversized head — hands the connection to hyper's server (hyper-util's auto
//!   builder, HTTP/1.1 and HTTP/2) with the bytes read so far put back in front, so hyper serves
//!   that request and the rest of the connection as if it had from the start, with its own
//!   `400`/`431` answers. TLS connections that chose `h2` go to hyper directly.
//! - **Two HTTP/1.1 clients.** A request without a body (most `GET`s) goes by an inline
//!   client driven by the request's own task: its head, `X-Forwarded-*` fields included, is
//!   written in one write, the response head is parsed with `httparse`, and the response body
//!   (`Content-Length`, chunked, or until close) is read straight from the upstream socket by
//!   the client connection that sends it on: no connection task, channel or extra wake-up. A
//!   request with a body, or a protocol upgrade, goes by hyper's connection-level client,
//!   which streams both bodies at once. A pooled connection the upstream closed just as an
//!   idempotent request went out (no response byte came back) is retried on another one.
//!   Trailers of a chunked response on this path are read and dropped, as nginx does with
//!   HTTP/1.1 upstreams (gRPC upstreams are HTTP/2 and never take this path).
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
//!   `resource` backend → `503`; upstream timeout → `504`; other upstream errors → `502`. Each
//!   page is one short line saying what happened.
//! - **Upstream protocol.** HTTP/1.1 by default; h2c (prior knowledge) for gRPC, HTTP/1.1
//!   over TLS, or HTTP/2 over TLS (gRPC over TLS) when [`ProxyConfig::upstream_protocols`]
//!   names the Service or the Ingress references the port by a name such as `grpc`, `https` or
//!   `grpcs` (see [`UpstreamProtocol`]). Upstream TLS follows ingress-nginx's defaults: the
//!   certificate is not checked against a CA, no SNI is sent to endpoint addresses.
//! - **Endpoint choice.** One `ingress_core::balance::Balancer` per backend (nginx's smooth
//!   weighted round-robin, `max_fails=1`, `fail_timeout` =
//!   [`ProxyConfig::passive_health_ejection`]), rebuilt when its endpoint set changes; a
//!   request's attempt makes the retry go to an endpoint not yet tried.
//! - **Limits.** Connection count, request-head size/count/time (slowloris), TLS handshake time,
//!   HTTP/2 concurrent streams and reset-stream limits (CVE-2023-44487): see [`Limits`].
//! - **Observability.** One `tracing` event per request (target `ingress_proxy::access`) with
//!   client, host, path, Ingress and rule, upstream, status, bytes and duration; Prometheus
//!   counters and histograms by Ingress and Service on the admin listener's `/metrics`.

mod access_log;
mod admin;
mod body;
mod coarse_timer;
mod config;
mod error;
mod handler;
mod head_fields;
mod metrics;
mod server;
mod tls;

/// Entry points for the fuzz targets (`fuzz/`); not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `data` as an upstream's HTTP/1.1 response, whole and in the pieces `splits`
    /// describes; panics if the two readings differ.
    pub fn upstream_response(data: &[u8], head_request: bool, splits: &[u8]) {
        crate::handler::upstream::wire::split_check::check_split_invariance(
            data,
            head_request,
            splits,
        );
    }

    /// Reads `data` as a client's pipelined HTTP/1.1 request heads, whole and in the pieces
    /// `splits` describes (with small head limits when `small_limits`); panics if the two
    /// readings differ or a hand-off to hyper would lose bytes.
    pub fn inline_request(data: &[u8], splits: &[u8], small_limits: bool) {
        crate::server::inline::split_check::check_split_invariance(data, splits, small_limits);
    }
}

// The public API: configuration, the entry point and its error.
pub use config::{Limits, Listeners, ProxyConfig, Timeouts, UpstreamProtocol};
pub use error::ProxyError;
pub use server::run;
