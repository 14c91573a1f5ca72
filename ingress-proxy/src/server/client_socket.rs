//! A client connection's socket as the server holds it, wherever it goes: the inline server,
//! hyper's connection, or — after an HTTP/1.1 upgrade — a tunnel task that outlives both.
//!
//! The rules it keeps, whoever holds it:
//! - while the socket is open it holds its connection's slot: one permit of
//!   [`Limits::max_connections`](crate::Limits::max_connections) (none on the admin listener)
//!   and one count in the `open_connections` gauge; both are given back when it is dropped, so
//!   shutdown, which waits for every permit, waits for tunnels too;
//! - once the shutdown grace period is over (the server's `force` token), every read and write
//!   fails with [`io::ErrorKind::ConnectionAborted`], and a holder waiting on the socket is
//!   woken to see it: the holder then drops the socket, which closes it.
//!
//! The grace check costs one atomic load per read or write; a task waiting on the socket is
//! registered with the token once per task, not once per wait.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::metrics::Metrics;

/// The socket `io` of one client connection, holding its slot until dropped.
#[derive(Debug)]
pub(super) struct ClientSocket<I> {
    io: I,
    /// Given back on drop; the socket's lifetime is the connection's, tunnel included.
    _slot: ConnectionSlot,
    /// Ends reads and writes once the grace period is over.
    force: ForceClose,
}

/// One connection's share of the server's limits: a permit and a gauge count.
#[derive(Debug)]
struct ConnectionSlot {
    /// Held, never used: dropping it frees the place for another connection.
    _permit: Option<OwnedSemaphorePermit>,
    metrics: Arc<Metrics>,
}

/// Watches the server's `force` token for one socket.
struct ForceClose {
    token: CancellationToken,
    /// Registered the first time a task has to wait on the socket.
    registration: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// The waker the registration holds: registered again only when another task waits.
    registered: Option<Waker>,
}

impl<I> ClientSocket<I> {
    /// Takes the connection's slot (counting it in the gauge now) for as long as `io` lives.
    pub(super) fn new(
        io: I,
        permit: Option<OwnedSemaphorePermit>,
        metrics: Arc<Metrics>,
        force: CancellationToken,
    ) -> Self {
        metrics.open_connections.inc();
        ClientSocket {
            io,
            _slot: ConnectionSlot {
                _permit: permit,
                metrics,
            },
            force: ForceClose {
                token: force,
                registration: None,
                registered: None,
            },
        }
    }
}

impl ForceClose {
    /// `Ready` once the grace period is over.
    fn check(&self) -> Poll<io::Error> {
        if self.token.is_cancelled() {
            Poll::Ready(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed by the server: shutdown grace period over",
            ))
        } else {
            Poll::Pending
        }
    }

    /// The socket is not ready: make sure the waiting task is woken when the grace period ends.
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return self.check();
        }
        let token = &self.token;
        let registration = self
            .registration
            .get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()));
        // Polling again replaces the waker it holds with this task's.
        if registration.as_mut().poll(cx).is_ready() {
            return self.check();
        }
        self.registered = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Runs `operation` unless the grace period is over; registers for the end of the grace
    /// period when it must wait.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        operation: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Poll::Ready(error) = self.check() {
            return Poll::Ready(Err(error));
        }
        match operation(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.register(cx).map(Err),
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.metrics.open_connections.dec();
    }
}

impl std::fmt::Debug for ForceClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForceClose")
            .field("cancelled", &self.token.is_cancelled())
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ClientSocket<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let io = &mut this.io;
        this.force.guard(cx, |cx| Pin::new(io).poll_read(cx, buf))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ClientSocket<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = &mut this.io;
        this.force.guard(cx, |cx| Pin::new(io).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = &mut this.io;
        this.force
            .guard(cx, |cx| Pin::new(io).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let io = &mut this.io;
        this.force.guard(cx, |cx| Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Shutting down is how a holder closes politely: never refused.
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
