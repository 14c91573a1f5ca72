//! The upstream layer: one attempt of one request on one connection, with the transport
//! chosen here — the inline HTTP/1.1 client, hyper's HTTP/1.1 client, or hyper's HTTP/2
//! client — so the handler never asks which one carried its request.
//!
//! [`Upstream::send`] reuses an idle connection to the peer when there is one (unless asked
//! for a fresh one) and opens a new one otherwise, writes the request with its
//! `X-Forwarded-*` fields, and waits for the response head within the read timeout. A failed
//! attempt comes back as a [`Failure`] classified by [`FailureKind`], with the request when
//! it can be sent again; [`Failure::retry`] is the one retry policy, applied by the handler's
//! attempt loop.
//!
//! Transport choice: HTTP/2 (`H2c`, `H2`) goes by hyper's HTTP/2 client; an HTTP/1.1 request
//! without a body and without an upgrade goes by the inline client ([`inline`]) unless
//! [`ProxyConfig::inline_http1`] is off; everything else by hyper's HTTP/1.1 client, which
//! streams both bodies at once.

mod body;
mod connection;
mod failure;
mod inline;
mod pool;
mod send_timeout;
mod tls;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri, header};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ingress_core::TableReader;
use send_timeout::{SendTimeout, WriteLimit};
use tokio::net::TcpStream;
use tokio_util::either::Either;

use super::headers::ForwardedFields;
use crate::body::{BodyCell, RequestBody};
use crate::coarse_timer::{self, CoarseTimer};
use crate::config::{ProxyConfig, UpstreamProtocol};
pub(crate) use body::{UpstreamBody, UpstreamBodyError};
pub(crate) use failure::{Failure, FailureKind, Retry, UpstreamError};
use pool::{Home, PoolKey};
pub(crate) use pool::{Loan, PeerKey, Pool};
use tls::UpstreamTls;
pub(crate) use tls::{TlsClientError, TlsClientKey};

/// Most idle HTTP/1.1 connections kept per peer (nginx's `keepalive` directive).
const MAX_IDLE_PER_PEER: usize = 256;

/// A connection to an upstream: plain TCP or TLS (boxed: a TLS session is large, and
/// connections move with every response).
type UpstreamIo = SendTimeout<Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>>;

/// Pooled connections to every upstream peer.
#[derive(Debug)]
pub(crate) struct Upstream {
    pool: Arc<Pool>,
    timer: CoarseTimer,
    tls: UpstreamTls,
    /// Whether bodiless HTTP/1.1 requests may take the inline client.
    inline: bool,
}

/// What goes upstream with the request, whichever client carries it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The `X-Forwarded-*` fields: written into the head (inline) or the header map (hyper).
    pub(crate) forwarded: ForwardedFields,
    /// The request body's cell, if it has a body: a lent connection is reused only after the
    /// body was sent whole, and a body the client broke is told from an upstream failure.
    pub(crate) request_body: Option<Arc<BodyCell>>,
    /// This request's connect and read timeouts (the route's, else the proxy's).
    pub(crate) timeouts: AttemptTimeouts,
    /// The TLS client for a TLS upstream (the route's `proxy-ssl-*` policy, see
    /// [`Upstream::tls_client`]); `None` for plain HTTP.
    pub(crate) tls: Option<TlsClientKey>,
}

/// The timeouts of one request's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptTimeouts {
    /// Connecting to an endpoint.
    pub(crate) connect: Duration,
    /// Waiting for the response head, and between two reads of its body.
    pub(crate) read: Duration,
    /// The longest stall between two writes of the request (`proxy-send-timeout`).
    pub(crate) send: Duration,
}

/// A response head; its body gives the HTTP/1.1 connection back once it has ended.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) response: Response<UpstreamBody>,
}

/// Which client carries one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Inline,
    Http1,
    Http2,
}

impl Upstream {
    pub(crate) fn new(
        config: &ProxyConfig,
        table: TableReader,
        timer: CoarseTimer,
    ) -> Result<Self, rustls::Error> {
        let embedder = pool::PoolSettings {
            idle_timeout: config.timeouts.upstream_idle,
            max_idle_per_peer: MAX_IDLE_PER_PEER,
            max_requests: 0,
            max_lifetime: None,
        };
        Ok(Upstream {
            pool: Arc::new(Pool::new(embedder, table, timer.clone())),
            timer,
            tls: UpstreamTls::new()?,
            inline: config.inline_http1,
        })
    }

    /// The TLS client for a route's `proxy-ssl-*` policy (`None`: the default, unverified).
    pub(crate) fn tls_client(
        &self,
        policy: Option<&ingress_core::annotations::UpstreamTlsPolicy>,
    ) -> Result<TlsClientKey, Arc<TlsClientError>> {
        self.tls.client(policy)
    }

    /// The pool, for the periodic sweep of idle connections.
    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// One attempt: sends `request` to `peer` and waits for the response head. The request's
    /// URI is in origin form (path and query), its `Host` names the virtual host, and its
    /// hop-by-hop fields are gone (`Upgrade` stays on an upgrade request). `fresh` skips the
    /// pool (the retry after a stale pooled connection).
    pub(crate) async fn send(
        &self,
        protocol: UpstreamProtocol,
        peer: PeerKey,
        request: Request<RequestBody>,
        outgoing: &Outgoing,
        fresh: bool,
    ) -> Result<Exchange, Failure> {
        let read_timeout = outgoing.timeouts.read;
        let deadline = self.timer.deadline(read_timeout);
        // A TLS protocol always gets a TLS client (the default one should the caller have
        // chosen none): never a plain connection to a TLS upstream.
        let tls = matches!(protocol, UpstreamProtocol::Https | UpstreamProtocol::H2).then(|| {
            outgoing
                .tls
                .clone()
                .unwrap_or_else(|| self.tls.default_client())
        });
        let key = PoolKey { peer, tls };
        let exchange = match self.transport(protocol, &request) {
            Transport::Inline => {
                coarse_timer::timeout(deadline, self.inline(key, request, outgoing, fresh)).await
            }
            // Boxed: the HTTP/2 client's future is large, and would make every request's
            // future as large.
            Transport::Http2 => {
                coarse_timer::timeout(deadline, Box::pin(self.http2(key, request, outgoing))).await
            }
            Transport::Http1 => {
                coarse_timer::timeout(deadline, self.http1(key, request, outgoing, fresh)).await
            }
        };
        exchange.unwrap_or_else(|| {
            Err(Failure {
                error: UpstreamError::new(
                    FailureKind::Timeout,
                    failure::Cause::Timeout(read_timeout),
                ),
                pooled: false,
                request: None,
            })
        })
    }

    fn transport(&self, protocol: UpstreamProtocol, request: &Request<RequestBody>) -> Transport {
        match protocol {
            UpstreamProtocol::H2c | UpstreamProtocol::H2 => Transport::Http2,
            UpstreamProtocol::Http1 | UpstreamProtocol::Https
                if self.inline
                    && http_body::Body::is_end_stream(request.body())
                    && !request.headers().contains_key(header::UPGRADE) =>
            {
                Transport::Inline
            }
            UpstreamProtocol::Http1 | UpstreamProtocol::Https => Transport::Http1,
        }
    }

    /// A request without a body, on the inline client (see [`inline`]).
    async fn inline(
        &self,
        key: PoolKey,
        request: Request<RequestBody>,
        outgoing: &Outgoing,
        fresh: bool,
    ) -> Result<Exchange, Failure> {
        let taken = if fresh {
            None
        } else {
            self.pool.take(&self.pool.inline, &key)
        };
        let (connection, age, pooled) = match taken {
            Some((connection, age)) => (connection, age, true),
            // Boxed: connecting is the rare path (see `http1`).
            None => {
                let age = self.pool.fresh();
                let opened = self.open(&key, false, outgoing.timeouts.connect, age.write_limit());
                match Box::pin(opened).await {
                    Ok(io) => (connection::Connection::new(io), age, false),
                    Err(error) => return Err(failed(error, false, Some(request))),
                }
            }
        };
        age.write_limit().set(outgoing.timeouts.send);
        let home = Home {
            pool: self.pool.clone(),
            key,
            age,
        };
        match connection
            .exchange(&request, &outgoing.forwarded, home)
            .await
        {
            Ok(response) => Ok(Exchange {
                response: response.map(UpstreamBody::Inline),
            }),
            Err(error) => {
                let kind = if error.not_sent() {
                    FailureKind::NotSent
                } else if pooled && error.stale() {
                    FailureKind::Stale
                } else if error.is_protocol() {
                    FailureKind::Protocol
                } else {
                    FailureKind::Io
                };
                // Bodiless: the request can always be sent again; the policy decides.
                Err(failed(
                    UpstreamError::new(kind, error),
                    pooled,
                    Some(request),
                ))
            }
        }
    }

    async fn http1(
        &self,
        key: PoolKey,
        mut request: Request<RequestBody>,
        outgoing: &Outgoing,
        fresh: bool,
    ) -> Result<Exchange, Failure> {
        outgoing.forwarded.apply(request.headers_mut());
        let taken = if fresh {
            None
        } else {
            self.pool.take(&self.pool.http1, &key)
        };
        let (mut sender, age, pooled) = match taken {
            Some((sender, age)) => (sender, age, true),
            // Boxed: connecting is the rare path, and its future would otherwise make
            // every request's future larger.
            None => {
                let age = self.pool.fresh();
                let opened = self.open_http1(&key, outgoing.timeouts.connect, age.write_limit());
                match Box::pin(opened).await {
                    Ok(sender) => (sender, age, false),
                    Err(error) => return Err(failed(error, false, Some(request))),
                }
            }
        };
        age.write_limit().set(outgoing.timeouts.send);
        // A pooled connection was given back as soon as its last response ended; its
        // connection task may not have run since, so wait for it to turn idle.
        if pooled && let Err(error) = sender.ready().await {
            let error = UpstreamError::new(FailureKind::NotSent, error);
            return Err(failed(error, true, Some(request)));
        }
        // A bodiless request on a reused connection can be sent again if the upstream closed
        // it as the request went out: keep its head.
        let again = (pooled && http_body::Body::is_end_stream(request.body()))
            .then(|| bodiless_copy(&request));
        match sender.try_send_request(request).await {
            Ok(response) => Ok(self.lend(sender, key, age, response, outgoing)),
            Err(mut error) => {
                let unsent = error.take_message();
                let error = error.into_error();
                let kind = if unsent.is_some() {
                    FailureKind::NotSent
                } else {
                    classify_hyper(&error, pooled, outgoing)
                };
                let request = unsent
                    .map(Box::new)
                    .or(again.filter(|_| kind == FailureKind::Stale));
                Err(failed(UpstreamError::new(kind, error), pooled, request))
            }
        }
    }

    /// A new HTTP/1.1 connection to `key`, driven by its own task.
    async fn open_http1(
        &self,
        key: &PoolKey,
        connect_timeout: Duration,
        limit: WriteLimit,
    ) -> Result<pool::Http1Sender, UpstreamError> {
        let io = self.open(key, false, connect_timeout, limit).await?;
        http1_handshake(TokioIo::new(io)).await
    }

    /// A new connection to `key`: TCP, then TLS (offering `h2` or `http/1.1`) if the key says so.
    async fn open(
        &self,
        key: &PoolKey,
        http2: bool,
        connect_timeout: Duration,
        limit: WriteLimit,
    ) -> Result<UpstreamIo, UpstreamError> {
        let connect = |error| UpstreamError::new(FailureKind::Connect, error);
        let stream = connect_to(&key.peer, connect_timeout)
            .await
            .map_err(connect)?;
        let stream = if let Some(client) = &key.tls {
            let stream = client
                .handshake(&key.peer, http2, stream)
                .await
                .map_err(|error| {
                    // Certificate problems are configuration problems: say so at warn.
                    tracing::warn!(peer = ?key.peer, %error, "upstream TLS handshake failed");
                    connect(error)
                })?;
            Either::Right(Box::new(stream))
        } else {
            Either::Left(stream)
        };
        Ok(SendTimeout::new(stream, limit, self.timer.clone()))
    }

    fn lend(
        &self,
        sender: pool::Http1Sender,
        key: PoolKey,
        age: pool::Age,
        response: Response<Incoming>,
        outgoing: &Outgoing,
    ) -> Exchange {
        let home = Home {
            pool: self.pool.clone(),
            key,
            age,
        };
        let loan = Some(Loan::new(sender, home, outgoing.request_body.clone()));
        Exchange {
            response: response.map(|body| UpstreamBody::Hyper { body, loan }),
        }
    }

    async fn http2(
        &self,
        key: PoolKey,
        mut request: Request<RequestBody>,
        outgoing: &Outgoing,
    ) -> Result<Exchange, Failure> {
        outgoing.forwarded.apply(request.headers_mut());
        absolute_form(&mut request, &key);
        let (mut sender, pooled) = match self.pool.http2(&key) {
            Some(sender) => (sender, true),
            None => match self
                .open_http2(&key, outgoing.timeouts.connect, outgoing.timeouts.send)
                .await
            {
                Ok(sender) => {
                    self.pool.set_http2(key.clone(), sender.clone());
                    (sender, false)
                }
                Err(error) => return Err(failed(error, false, Some(request))),
            },
        };
        // Waits for a free stream; fails if the shared connection has closed.
        if let Err(error) = sender.ready().await {
            self.pool.remove_http2(&key);
            let error = UpstreamError::new(FailureKind::NotSent, error);
            return Err(failed(error, pooled, Some(request)));
        }
        match sender.try_send_request(request).await {
            Ok(response) => Ok(Exchange {
                response: response.map(|body| UpstreamBody::Hyper { body, loan: None }),
            }),
            Err(mut error) => {
                self.pool.remove_http2(&key);
                let unsent = error.take_message();
                let error = error.into_error();
                let kind = if unsent.is_some() {
                    FailureKind::NotSent
                } else {
                    classify_hyper(&error, false, outgoing)
                };
                Err(failed(UpstreamError::new(kind, error), pooled, unsent))
            }
        }
    }

    /// A new HTTP/2 connection to `key`, driven by its own task.
    async fn open_http2(
        &self,
        key: &PoolKey,
        connect_timeout: Duration,
        send_timeout: Duration,
    ) -> Result<pool::Http2Sender, UpstreamError> {
        // An HTTP/2 connection is shared by every route to the peer: the send timeout of the
        // route that opened it applies to all its streams.
        let limit = WriteLimit::default();
        limit.set(send_timeout);
        let io = self.open(key, true, connect_timeout, limit).await?;
        http2_handshake(TokioIo::new(io)).await
    }
}

/// A TCP connection to `peer`, within `timeout`.
async fn connect_to(peer: &PeerKey, timeout: Duration) -> io::Result<TcpStream> {
    let connecting = async {
        match peer {
            PeerKey::Address(address) => TcpStream::connect(address).await,
            PeerKey::Name(host, port) => TcpStream::connect((&**host, *port)).await,
        }
    };
    let stream = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_elapsed| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect timed out after {timeout:?}"),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// What a hyper client error means, once the request (or part of it) went out.
fn classify_hyper(error: &hyper::Error, pooled: bool, outgoing: &Outgoing) -> FailureKind {
    if outgoing
        .request_body
        .as_ref()
        .is_some_and(|cell| cell.client_failed())
    {
        FailureKind::ClientBody
    } else if is_send_timeout(error) {
        FailureKind::Timeout
    } else if pooled && error.is_incomplete_message() {
        FailureKind::Stale
    } else if error.is_parse() || error.is_parse_status() {
        FailureKind::Protocol
    } else {
        FailureKind::Io
    }
}

/// Whether hyper failed because a write stalled past `proxy-send-timeout`.
fn is_send_timeout(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        source = cause.source();
    }
    false
}

/// A copy of a bodiless request's head, to send again.
/// A copy of a request without a body (method, target, version and header fields).
pub(crate) fn bodiless_copy(request: &Request<RequestBody>) -> Box<Request<RequestBody>> {
    let mut copy = Request::new(RequestBody::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Box::new(copy)
}

/// hyper's HTTP/1.1 client on `io` (plain or TLS), its connection driven by its own task.
async fn http1_handshake(io: TokioIo<UpstreamIo>) -> Result<pool::Http1Sender, UpstreamError> {
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|error| UpstreamError::new(FailureKind::NotSent, error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// hyper's HTTP/2 client on `io` (prior knowledge, or `h2` by ALPN over TLS).
async fn http2_handshake(io: TokioIo<UpstreamIo>) -> Result<pool::Http2Sender, UpstreamError> {
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(io)
        .await
        .map_err(|error| UpstreamError::new(FailureKind::NotSent, error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream HTTP/2 connection ended with an error");
        }
    });
    Ok(sender)
}

fn failed(
    error: UpstreamError,
    pooled: bool,
    request: Option<impl Into<Box<Request<RequestBody>>>>,
) -> Failure {
    Failure {
        error,
        pooled,
        request: request.map(Into::into),
    }
}

/// HTTP/2 needs `:scheme` and `:authority`: the virtual host from `Host`, else the peer.
fn absolute_form(request: &mut Request<RequestBody>, key: &PoolKey) {
    let peer = &key.peer;
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|host| Authority::try_from(host.as_bytes()).ok())
        .or_else(|| match peer {
            PeerKey::Address(address) => Authority::try_from(address.to_string()).ok(),
            PeerKey::Name(host, port) => Authority::try_from(format!("{host}:{port}")).ok(),
        });
    let mut parts = request.uri().clone().into_parts();
    parts.scheme = Some(if key.tls.is_some() {
        Scheme::HTTPS
    } else {
        Scheme::HTTP
    });
    parts.authority = authority;
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}
