//! `proxy-send-timeout`: an upstream connection whose writes stall (the upstream stopped
//! reading) for longer than the limit fails with `TimedOut`, as nginx's `proxy_send_timeout`
//! bounds the time between two successful writes, not the whole transmission.
//!
//! The limit travels with the connection ([`WriteLimit`], shared with the pool's record of
//! it), and each exchange sets its route's value before it writes: a pooled connection serves
//! routes with different limits.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::coarse_timer::{CoarseTimer, Deadline};

/// The limit of one connection's write stalls, in milliseconds (`0`: none).
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteLimit(Arc<AtomicU64>);

impl WriteLimit {
    /// Sets the limit for the exchange about to be written.
    pub(crate) fn set(&self, limit: Duration) {
        let millis = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        self.0.store(millis, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(Duration::from_millis(millis)),
        }
    }
}

/// An upstream stream whose stalled writes time out.
#[derive(Debug)]
pub(crate) struct SendTimeout<I> {
    io: I,
    limit: WriteLimit,
    timer: CoarseTimer,
    /// Armed while a write waits (boxed: stalls are rare, the stream travels in every
    /// response body).
    stalled: Option<Box<Deadline>>,
}

impl<I> SendTimeout<I> {
    pub(crate) fn new(io: I, limit: WriteLimit, timer: CoarseTimer) -> Self {
        SendTimeout {
            io,
            limit,
            timer,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: whether the stall has lasted past the limit.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(limit) = self.limit.get() else {
            return Poll::Pending;
        };
        let timer = &self.timer;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::new(timer.deadline(limit)));
        match Pin::new(&mut **deadline).poll(cx) {
            Poll::Ready(()) => {
                self.stalled = None;
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the upstream accepted no request bytes for {limit:?} (proxy-send-timeout)"
                    ),
                ))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SendTimeout<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SendTimeout<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
