//! Listeners, connection limits and graceful shutdown: the `run` entry point.
//!
//! HTTP/1.1 connections, plain or TLS, start on the [`inline`] HTTP/1.1 server, which hands a
//! connection to hyper's (HTTP/1.1 and HTTP/2, via hyper-util's auto builder) at the first
//! request it does not take itself. TLS connections that chose HTTP/2 by ALPN, and the admin
//! listener, are served by hyper from the start.
//!
//! Every accepted socket is wrapped in a [`ClientSocket`] before anything reads it: the
//! connection's permit (of [`Limits::max_connections`]) and its count in the `open_connections`
//! gauge live as long as the socket, wherever it goes — an upgraded tunnel keeps them — and the
//! socket fails once the grace period is over, which is what closes tunnels at shutdown.

mod client_socket;
mod inline;
mod passthrough;
mod proxy_protocol;
mod rewind;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{self, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use ingress_core::TableReader;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::access_log::AccessLogWriter;
use crate::admin;
use crate::body::ClientBody;
use crate::coarse_timer::CoarseTimer;
use crate::config::{Limits, Listeners, ProxyConfig};
use crate::error::ProxyError;
use crate::handler::{self, ClientConnection, ClientSettings, Shared};
use crate::http1::HeadLimits;
use crate::metrics::Metrics;
use crate::tls::{self, CertificateResolver, TlsAcceptors};
use bytes::Bytes;
use client_socket::ClientSocket;
use rewind::Rewind;

/// What one listener serves.
#[derive(Clone)]
enum Role {
    Http,
    Https(Arc<TlsAcceptors>),
    Admin,
}

/// Everything an accept loop and its connections share.
#[derive(Clone)]
struct Context {
    shared: Arc<Shared>,
    /// hyper's connection settings, per client settings.
    builders: Arc<Builders>,
    /// Bounds concurrent client connections; shutdown waits until every permit is back. Each
    /// permit lives in its connection's [`ClientSocket`], tunnel included.
    limit: Arc<Semaphore>,
    /// Cancelled when shutdown begins: accept loops stop, connections finish in-flight requests.
    drain: CancellationToken,
    /// Cancelled when the grace period is over: remaining connections are dropped, and every
    /// [`ClientSocket`] (tunnels included) fails its reads and writes.
    force: CancellationToken,
    /// Runs the inline server's request-head timeouts.
    timer: CoarseTimer,
    /// The heads the inline server takes (larger ones go to hyper).
    head_limits: HeadLimits,
}

/// Serves `listeners` from the route table behind `table` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish for up to
/// [`Timeouts::shutdown_grace`](crate::Timeouts::shutdown_grace), and returns.
///
/// Requests are answered from whatever snapshot is current (an empty table answers `404`);
/// `/readyz` on the admin listener reports [`TableReader::is_ready`], so orchestrators wait for
/// the first published snapshot. Errors are returned only for start-up failures (TLS setup).
pub async fn run<F>(
    listeners: Listeners,
    table: TableReader,
    config: ProxyConfig,
    shutdown: F,
) -> Result<(), ProxyError>
where
    F: Future<Output = ()> + Send,
{
    let metrics = Arc::new(Metrics::new(&config.controller));
    let grace = config.timeouts.shutdown_grace;
    let max_connections = config
        .limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let https = match listeners.https {
        Some(listener) => {
            let resolver =
                CertificateResolver::new(table.clone(), tls::self_signed()?, metrics.clone());
            let acceptors = TlsAcceptors::new(Arc::new(resolver))?;
            Some((listener, Arc::new(acceptors)))
        }
        None => None,
    };
    let access_log =
        AccessLogWriter::start(&config.access_log, metrics.access_log_dropped.clone())?;
    let sink = access_log.as_ref().map(AccessLogWriter::sink);
    let timer = CoarseTimer::new();
    let ticker = tokio::spawn(timer.clone().run_ticker());
    let context = Context {
        builders: Arc::new(Builders {
            limits: config.limits,
            timer: timer.clone(),
            current: Mutex::new(None),
        }),
        head_limits: HeadLimits::new(
            head_buffer_bytes(&config.limits),
            config.limits.max_request_headers,
        ),
        timer: timer.clone(),
        shared: Arc::new(Shared::new(table, config, metrics, timer, sink)?),
        limit: Arc::new(Semaphore::new(max_connections)),
        drain: CancellationToken::new(),
        force: CancellationToken::new(),
    };

    let mut accepting = JoinSet::new();
    let roles = [
        listeners.http.map(|l| (l, Role::Http)),
        https.map(|(l, acceptor)| (l, Role::Https(acceptor))),
        listeners.admin.map(|l| (l, Role::Admin)),
    ];
    for (listener, role) in roles.into_iter().flatten() {
        let name = role.name();
        let local = listener
            .local_addr()
            .map_err(|source| ProxyError::Listener {
                listener: name,
                source,
            })?;
        tracing::info!(listener = name, address = %local, "listening");
        accepting.spawn(accept_loop(listener, local, role, context.clone()));
    }

    accepting.spawn(sweep_idle_upstreams(context.clone()));
    accepting.spawn(note_applied_snapshots(context.clone()));
    accepting.spawn(sample_traffic(context.clone()));

    shutdown.await;
    tracing::info!("shutdown: no longer accepting; draining in-flight requests");
    context.drain.cancel();
    while accepting.join_next().await.is_some() {}
    // Every open client connection holds a permit: all permits back means all are closed.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(grace, context.limit.acquire_many(all)).await {
        Ok(_) => tracing::info!("shutdown: all connections closed"),
        Err(_) => {
            tracing::warn!(grace = ?grace, "shutdown: grace period over; closing remaining connections")
        }
    }
    context.force.cancel();
    ticker.abort();
    if let Some(access_log) = access_log {
        // Flushing may wait on the destination: off the runtime's worker threads.
        let _ = tokio::task::spawn_blocking(move || access_log.finish()).await;
    }
    Ok(())
}

/// hyper's own request header count limit.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// The largest request head read: the configured limit, but at least the 8 KiB hyper requires.
fn head_buffer_bytes(limits: &Limits) -> usize {
    limits.max_request_header_bytes.max(8 * 1024)
}

/// hyper's connection settings, one builder per distinct [`ClientSettings`] (they change only
/// with the ConfigMap): the newest is kept, an older connection keeps its own.
struct Builders {
    limits: Limits,
    timer: CoarseTimer,
    current: Mutex<Option<(ClientSettings, Arc<auto::Builder<TokioExecutor>>)>>,
}

impl Builders {
    fn for_settings(&self, settings: &ClientSettings) -> Arc<auto::Builder<TokioExecutor>> {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*current {
            Some((built_for, builder)) if built_for == settings => builder.clone(),
            _ => {
                let builder = Arc::new(connection_builder(
                    &self.limits,
                    settings,
                    self.timer.clone(),
                ));
                *current = Some((*settings, builder.clone()));
                builder
            }
        }
    }
}

/// The hyper connection settings: HTTP/1.1 and HTTP/2 on every listener, with the limits.
/// hyper has one timeout for a request head, which also bounds the idle wait between two
/// requests: `client-header-timeout`; `keep-alive: 0` turns keep-alive off.
fn connection_builder(
    limits: &Limits,
    settings: &ClientSettings,
    timer: CoarseTimer,
) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The request-head timeout runs for every request: a coarse timer is cheaper.
        .timer(timer)
        .keep_alive(!settings.keep_alive.is_zero())
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(head_buffer_bytes(limits));
    // hyper parses up to 100 headers in place; an explicit limit (even 100) makes it allocate
    // and fill the header arrays on every request.
    if limits.max_request_headers != HYPER_DEFAULT_MAX_HEADERS {
        builder.http1().max_headers(limits.max_request_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_pending_accept_reset_streams(limits.http2_max_pending_accept_reset_streams)
        .max_local_error_reset_streams(limits.http2_max_local_error_reset_streams)
        .max_header_list_size(u32::try_from(limits.max_request_header_bytes).unwrap_or(u32::MAX));
    builder
}

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Role::Http => "http",
            Role::Https(_) => "https",
            Role::Admin => "admin",
        }
    }
}

/// Closes upstream connections that stayed idle past the idle timeout, even with no traffic.
async fn sweep_idle_upstreams(context: Context) {
    let pool = context.shared.upstream_pool();
    let period = (context.shared.config.timeouts.upstream_idle / 2)
        .clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = context.drain.cancelled() => return,
            _ = tokio::time::sleep(period) => pool.sweep(),
        }
    }
}

/// ingress-nginx's `config_last_reload_successful` and its timestamp, and the diagnostics'
/// first-seen times (`/api/diagnostics`): set when this proxy first serves a snapshot
/// generation (looked at every second).
async fn note_applied_snapshots(context: Context) {
    let nginx = &context.shared.metrics.nginx;
    let mut served = None;
    loop {
        let table = context.shared.table.load();
        if context.shared.table.is_ready() && served != Some(table.generation()) {
            served = Some(table.generation());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            nginx.reload_successful.set(1);
            context.shared.diagnostic_ages.observe(&table, now);
            nginx
                .reload_timestamp
                .set(i64::try_from(now).unwrap_or(i64::MAX));
        }
        drop(table);
        tokio::select! {
            _ = context.drain.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The traffic history behind `/api/traffic`: one sample a second.
async fn sample_traffic(context: Context) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = context.drain.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        context.shared.metrics.sample_traffic(now);
    }
}

async fn accept_loop(listener: TcpListener, local: SocketAddr, role: Role, context: Context) {
    loop {
        let accepted = tokio::select! {
            _ = context.drain.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(listener = role.name(), %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Wait for a free slot before serving (and before accepting the next connection).
        // Acquiring only after accept matters: a permit held by a loop idling in accept()
        // would be lost to the other listeners. The admin listener does not count against
        // the limit: it must answer probes even when the data plane is saturated.
        let permit = match role {
            Role::Admin => None,
            Role::Http | Role::Https(_) => tokio::select! {
                _ = context.drain.cancelled() => return,
                permit = context.limit.clone().acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_closed) => return,
                },
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let settings = ClientSettings::of(&context.shared.table.load(), &context.shared.config);
        tokio::spawn(serve(
            stream,
            (client, local.port(), settings),
            role.clone(),
            context.clone(),
            permit,
        ));
    }
}

async fn serve(
    stream: TcpStream,
    (peer, local_port, settings): (SocketAddr, u16, ClientSettings),
    role: Role,
    context: Context,
    permit: Option<OwnedSemaphorePermit>,
) {
    // The socket holds the permit and the gauge count from here until it is dropped, even
    // when it outlives this task as an upgraded tunnel.
    let mut stream = ClientSocket::new(
        stream,
        permit,
        context.shared.metrics.clone(),
        context.force.clone(),
    );
    // use-proxy-protocol: the header names the client; what follows it is the client's.
    let (client, prefix) = match (&role, settings.proxy_protocol) {
        (Role::Http | Role::Https(_), true) => {
            match proxy_protocol::read_header(&mut stream).await {
                Ok((named, rest)) => (named.unwrap_or(peer), rest),
                Err(error) => {
                    context.shared.metrics.proxy_protocol_refused.inc();
                    tracing::debug!(%peer, %error, "connection refused");
                    return;
                }
            }
        }
        _ => (peer, Bytes::new()),
    };
    // ssl-passthrough: while some host is passed through, the ClientHello decides first.
    let prefix = match &role {
        Role::Https(_) if context.shared.table.load().has_passthrough() => {
            let timeout = settings.header_timeout;
            match passthrough::preread(&mut stream, prefix, client, timeout, &context.shared).await
            {
                passthrough::Outcome::Terminate(read) => read,
                passthrough::Outcome::Handled | passthrough::Outcome::Closed => return,
            }
        }
        _ => prefix,
    };
    let stream = Rewind::new(prefix, stream);
    let connection = Arc::new(ClientConnection::new(
        client,
        local_port,
        matches!(role, Role::Https(_)),
        settings,
    ));
    match role {
        Role::Http if context.shared.config.inline_http1 => {
            inline::serve(stream, connection, &context).await
        }
        Role::Http => serve_io(stream, connection, &context, false).await,
        Role::Admin => serve_io(stream, connection, &context, true).await,
        Role::Https(acceptors) => {
            // ssl-protocols, ssl-ciphers and the SNI host's auth-tls-* of the snapshot
            // current at the ClientHello.
            let handshake = tokio::time::timeout(
                connection.settings.header_timeout,
                acceptors.accept(&context.shared.table, stream),
            );
            let handshake = handshake.await.map(|accepted| {
                accepted.map(|(tls, client_tls)| {
                    connection.set_client_tls(client_tls);
                    tls
                })
            });
            match handshake {
                // ALPN chose HTTP/2: hyper's; HTTP/1.1 (chosen or by default): inline.
                Ok(Ok(tls)) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => {
                    serve_io(tls, connection, &context, false).await
                }
                Ok(Ok(tls)) if context.shared.config.inline_http1 => {
                    inline::serve(tls, connection, &context).await
                }
                Ok(Ok(tls)) => serve_io(tls, connection, &context, false).await,
                Ok(Err(error)) => tracing::debug!(%client, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%client, "TLS handshake timed out"),
            }
        }
    }
}

/// Serves HTTP/1.1 (with upgrades) or HTTP/2 on one connection until it closes, draining it
/// gracefully when shutdown begins.
async fn serve_io<I>(io: I, connection: Arc<ClientConnection>, context: &Context, admin: bool)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = context.shared.clone();
    let client = connection.client;
    let settings = connection.settings;
    let service = service_fn(move |request| {
        let shared = shared.clone();
        let connection = connection.clone();
        async move {
            if admin {
                admin::handle(shared, request).await
            } else {
                // Not boxed: hyper keeps the in-flight request future in a slot it allocated
                // once per connection (measured: boxing it cost an allocation and a copy).
                handler::handle(shared, connection, request.map(ClientBody::Hyper)).await
            }
        }
    });
    let builder = context.builders.for_settings(&settings);
    let served = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(served);
    let result = tokio::select! {
        biased;
        result = served.as_mut() => result,
        () = Drained::new(&context.drain) => {
            served.as_mut().graceful_shutdown();
            tokio::select! {
                result = served.as_mut() => result,
                _ = context.force.cancelled() => Ok(()),
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%client, %error, "connection ended with an error");
    }
}

/// Resolves once `token` is cancelled. A connection wakes up twice per request; polling
/// `token.cancelled()` each time takes the lock of the token's waiter list, whereas this
/// registers the task once and afterwards only loads the cancelled flag.
struct Drained<'a> {
    token: &'a CancellationToken,
    /// Registers the task's waker on its first poll; not polled again.
    registration: Option<Pin<Box<WaitForCancellationFuture<'a>>>>,
}

impl<'a> Drained<'a> {
    fn new(token: &'a CancellationToken) -> Self {
        Drained {
            token,
            registration: None,
        }
    }
}

impl Future for Drained<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        if self.token.is_cancelled() {
            return Poll::Ready(());
        }
        if self.registration.is_none() {
            // Every waker of a task wakes that task: the one registered now stays good.
            let mut registration = Box::pin(self.token.cancelled());
            if registration.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            self.registration = Some(registration);
        }
        Poll::Pending
    }
}
