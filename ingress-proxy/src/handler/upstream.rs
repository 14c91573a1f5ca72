//! The forwarding client: hyper's connection-level HTTP/1.1 and HTTP/2 clients over pooled
//! keep-alive TCP connections to upstream peers.
//!
//! One attempt ([`Upstream::send`]) reuses an idle connection to the peer when there is one and
//! opens a new one otherwise. A pooled connection that turns out to be closed before the request
//! went out is skipped; a request that was not sent at all (connect refused or timed out, a new
//! connection reset before the request was written) comes back to the caller with the error,
//! so it can be retried on another endpoint.

mod h1;
mod pool;
mod tls;
pub(crate) mod wire;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri, header};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::either::Either;

use super::headers::ForwardedFields;
use crate::body::{RequestBody, UpstreamBody};
use crate::coarse_timer::{self, CoarseTimer};
use crate::config::{ProxyConfig, UpstreamProtocol};
pub(crate) use h1::{WireBody, WireBodyError};
use pool::Home;
use pool::PoolKey;
pub(crate) use pool::{Loan, PeerKey, Pool};
use tls::UpstreamTls;

/// Most idle HTTP/1.1 connections kept per peer (nginx's `keepalive` directive).
const MAX_IDLE_PER_PEER: usize = 256;

/// A connection to an upstream: plain TCP or TLS (boxed: a TLS session is large, and
/// connections move with every response).
type UpstreamIo = Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>;

/// Pooled connections to every upstream peer.
#[derive(Debug)]
pub(crate) struct Upstream {
    pool: Arc<Pool>,
    timer: CoarseTimer,
    tls: UpstreamTls,
    connect_timeout: Duration,
    /// Time allowed for the response head (includes connecting).
    read_timeout: Duration,
}

/// Why an upstream attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection could be made; nothing was sent.
    #[error("connecting to the upstream: {0}")]
    Connect(#[source] io::Error),
    /// The connection closed before the request was written; nothing was sent.
    #[error("upstream connection closed before the request was sent: {0}")]
    NotSent(#[source] hyper::Error),
    /// The upstream did not send a response head within the read timeout.
    #[error("no response head within {0:?}")]
    ReadTimeout(Duration),
    /// The exchange failed after the request was (possibly) sent.
    #[error("upstream request: {0}")]
    Failed(#[source] hyper::Error),
    /// The inline client's exchange failed.
    #[error("upstream request: {0}")]
    Exchange(#[source] h1::ExchangeError),
}

/// A failed attempt, with the request when none of it was sent (so it may be retried).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: UpstreamError,
    /// Boxed: failures are rare, and the common `Result` stays small.
    pub(crate) unsent: Option<Box<Request<RequestBody>>>,
}

/// A response head; its body gives the HTTP/1.1 connection back once it has ended.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) response: Response<UpstreamBody>,
}

impl UpstreamError {
    /// Whether the failure is a timeout (connect or read): the client gets `504`, else `502`.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            UpstreamError::ReadTimeout(_) => true,
            UpstreamError::Connect(error) => error.kind() == io::ErrorKind::TimedOut,
            UpstreamError::NotSent(_) | UpstreamError::Failed(_) | UpstreamError::Exchange(_) => {
                false
            }
        }
    }
}

impl Upstream {
    pub(crate) fn new(config: &ProxyConfig, timer: CoarseTimer) -> Result<Self, rustls::Error> {
        Ok(Upstream {
            pool: Arc::new(Pool::new(
                config.timeouts.upstream_idle,
                MAX_IDLE_PER_PEER,
                timer.clone(),
            )),
            timer,
            tls: UpstreamTls::new()?,
            connect_timeout: config.timeouts.connect,
            read_timeout: config.timeouts.read,
        })
    }

    /// The pool, for the periodic sweep of idle connections.
    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Sends one attempt to `peer` and waits for the response head. The request's URI must be
    /// in origin form (path and query); its `Host` header names the virtual host.
    ///
    /// `request_body` is the request body's cell, if it has a body: a loaned connection is
    /// reused only after the body was sent whole. `forwarded` is given exactly when
    /// [`carries_inline`] said so: the inline client writes those fields itself.
    pub(crate) async fn send(
        &self,
        protocol: UpstreamProtocol,
        peer: PeerKey,
        request: Request<RequestBody>,
        request_body: Option<Arc<crate::body::BodyCell>>,
        forwarded: Option<&ForwardedFields<'_>>,
    ) -> Result<Exchange, Failure> {
        let deadline = self.timer.deadline(self.read_timeout);
        let (http2, tls) = match protocol {
            UpstreamProtocol::Http1 => (false, false),
            UpstreamProtocol::Https => (false, true),
            UpstreamProtocol::H2c => (true, false),
            UpstreamProtocol::H2 => (true, true),
        };
        let key = PoolKey { peer, tls };
        let exchange = if let Some(forwarded) = forwarded {
            coarse_timer::timeout(deadline, self.inline(key, request, forwarded)).await
        } else if http2 {
            // Boxed: the HTTP/2 client's future is large, and would make every request's
            // future as large.
            coarse_timer::timeout(deadline, Box::pin(self.http2(key, request))).await
        } else {
            coarse_timer::timeout(deadline, self.http1(key, request, request_body)).await
        };
        match exchange {
            Some(result) => result,
            None => Err(Failure {
                error: UpstreamError::ReadTimeout(self.read_timeout),
                unsent: None,
            }),
        }
    }

    /// A request without a body, on the inline client (see [`h1`]).
    async fn inline(
        &self,
        key: PoolKey,
        request: Request<RequestBody>,
        forwarded: &ForwardedFields<'_>,
    ) -> Result<Exchange, Failure> {
        let idempotent = request.method().is_idempotent();
        loop {
            let (connection, pooled) = match self.pool.take_wire(&key) {
                Some(connection) => (connection, true),
                // Boxed: connecting is the rare path (see `http1`).
                None => match Box::pin(self.open(&key, false)).await {
                    Ok(io) => (h1::Connection::new(io), false),
                    Err(error) => return Err(not_sent(error, request)),
                },
            };
            let home = Home {
                pool: self.pool.clone(),
                key: key.clone(),
            };
            match connection.exchange(&request, forwarded, home).await {
                Ok(response) => {
                    return Ok(Exchange {
                        response: response.map(UpstreamBody::Wire),
                    });
                }
                // A reused connection the upstream had closed: try the next one (or a new
                // connection), when sending again cannot repeat an action.
                Err(error) if pooled && (error.not_sent() || (idempotent && error.stale())) => {
                    tracing::debug!(%error, "pooled upstream connection was closed; retrying");
                }
                Err(error) if error.not_sent() => {
                    return Err(not_sent(UpstreamError::Exchange(error), request));
                }
                Err(error) => {
                    return Err(Failure {
                        error: UpstreamError::Exchange(error),
                        unsent: None,
                    });
                }
            }
        }
    }

    async fn http1(
        &self,
        peer: PoolKey,
        mut request: Request<RequestBody>,
        request_body: Option<Arc<crate::body::BodyCell>>,
    ) -> Result<Exchange, Failure> {
        loop {
            let (mut sender, pooled) = match self.pool.take_http1(&peer) {
                Some(sender) => (sender, true),
                // Boxed: connecting is the rare path, and its future would otherwise make
                // every request's future larger.
                None => match Box::pin(self.open_http1(&peer)).await {
                    Ok(sender) => (sender, false),
                    Err(error) => return Err(not_sent(error, request)),
                },
            };
            // A pooled connection was given back as soon as its last response ended; its
            // connection task may not have run since, so wait for it to turn idle.
            if pooled && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.lend(sender, peer, response, request_body)),
                Err(error) => {
                    let (unsent, error) = unsent_or_fail(error)?;
                    if !pooled {
                        return Err(not_sent(UpstreamError::NotSent(error), unsent));
                    }
                    // A pooled connection closed under us before the request went out: try
                    // the next one (or a new connection).
                    request = unsent;
                }
            }
        }
    }

    /// A new HTTP/1.1 connection to `key`, driven by its own task.
    async fn open_http1(&self, key: &PoolKey) -> Result<pool::Http1Sender, UpstreamError> {
        http1_handshake(TokioIo::new(self.open(key, false).await?)).await
    }

    /// A new connection to `key`: TCP, then TLS (offering `h2` or `http/1.1`) if the key says so.
    async fn open(&self, key: &PoolKey, http2: bool) -> Result<UpstreamIo, UpstreamError> {
        let stream = self
            .connect(&key.peer)
            .await
            .map_err(UpstreamError::Connect)?;
        if !key.tls {
            return Ok(UpstreamIo::Left(stream));
        }
        let stream = self
            .tls
            .handshake(&key.peer, http2, stream)
            .await
            .map_err(UpstreamError::Connect)?;
        Ok(UpstreamIo::Right(Box::new(stream)))
    }

    fn lend(
        &self,
        sender: pool::Http1Sender,
        peer: PoolKey,
        response: Response<Incoming>,
        request_body: Option<Arc<crate::body::BodyCell>>,
    ) -> Exchange {
        let home = Home {
            pool: self.pool.clone(),
            key: peer,
        };
        let loan = Some(Loan::new(sender, home, request_body));
        Exchange {
            response: response.map(|body| UpstreamBody::Hyper { body, loan }),
        }
    }

    async fn http2(
        &self,
        peer: PoolKey,
        mut request: Request<RequestBody>,
    ) -> Result<Exchange, Failure> {
        absolute_form(&mut request, &peer);
        loop {
            let (mut sender, pooled) = match self.pool.http2(&peer) {
                Some(sender) => (sender, true),
                None => match self.open_http2(&peer).await {
                    Ok(sender) => {
                        self.pool.set_http2(peer.clone(), sender.clone());
                        (sender, false)
                    }
                    Err(error) => return Err(not_sent(error, request)),
                },
            };
            // Waits for a free stream; fails if the shared connection has closed.
            let sent = match sender.ready().await {
                Ok(()) => sender.try_send_request(request).await,
                Err(error) => {
                    self.pool.remove_http2(&peer);
                    if !pooled {
                        return Err(not_sent(UpstreamError::NotSent(error), request));
                    }
                    continue;
                }
            };
            match sent {
                Ok(response) => {
                    return Ok(Exchange {
                        response: response.map(|body| UpstreamBody::Hyper { body, loan: None }),
                    });
                }
                Err(error) => {
                    self.pool.remove_http2(&peer);
                    let (unsent, error) = unsent_or_fail(error)?;
                    if !pooled {
                        return Err(not_sent(UpstreamError::NotSent(error), unsent));
                    }
                    // The shared connection went away before the request went out: the next
                    // iteration opens a new one.
                    request = unsent;
                }
            }
        }
    }

    /// A new HTTP/2 connection to `key`, driven by its own task.
    async fn open_http2(&self, key: &PoolKey) -> Result<pool::Http2Sender, UpstreamError> {
        http2_handshake(TokioIo::new(self.open(key, true).await?)).await
    }

    async fn connect(&self, peer: &PeerKey) -> io::Result<TcpStream> {
        let connecting = async {
            match peer {
                PeerKey::Address(address) => TcpStream::connect(address).await,
                PeerKey::Name(host, port) => TcpStream::connect((&**host, *port)).await,
            }
        };
        let stream = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_elapsed| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect timed out after {:?}", self.connect_timeout),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Whether a request goes by the inline client: HTTP/1.1 (plain or TLS), no body, no upgrade.
pub(crate) fn carries_inline(
    protocol: UpstreamProtocol,
    body: &RequestBody,
    upgrade: bool,
) -> bool {
    matches!(protocol, UpstreamProtocol::Http1 | UpstreamProtocol::Https)
        && http_body::Body::is_end_stream(body)
        && !upgrade
}

/// hyper's HTTP/1.1 client on `io` (plain or TLS), its connection driven by its own task.
async fn http1_handshake(io: TokioIo<UpstreamIo>) -> Result<pool::Http1Sender, UpstreamError> {
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(UpstreamError::NotSent)?;
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
        .map_err(UpstreamError::NotSent)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream HTTP/2 connection ended with an error");
        }
    });
    Ok(sender)
}

/// The request (and why) back from hyper when it was not sent, else the attempt's failure.
fn unsent_or_fail(
    mut error: TrySendError<Request<RequestBody>>,
) -> Result<(Request<RequestBody>, hyper::Error), Failure> {
    match error.take_message() {
        Some(request) => Ok((request, error.into_error())),
        None => Err(Failure {
            error: UpstreamError::Failed(error.into_error()),
            unsent: None,
        }),
    }
}

fn not_sent(error: UpstreamError, request: Request<RequestBody>) -> Failure {
    Failure {
        error,
        unsent: Some(Box::new(request)),
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
    parts.scheme = Some(if key.tls { Scheme::HTTPS } else { Scheme::HTTP });
    parts.authority = authority;
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}
