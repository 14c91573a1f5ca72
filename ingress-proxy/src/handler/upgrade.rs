//! HTTP/1.1 `Upgrade` (WebSocket) tunnelling: once both sides switched protocols, bytes are
//! copied in both directions until either side closes, or until no byte has moved either way
//! for the idle timeout ([`Timeouts::effective_tunnel_idle`](crate::Timeouts::effective_tunnel_idle),
//! as nginx's `proxy_read_timeout` ends a quiet WebSocket).
//!
//! The tunnel owns the client's upgraded socket, and with it the connection's permit and gauge
//! count; that socket also ends the tunnel when the shutdown grace period is over (see the
//! server's `ClientSocket`). Nothing here needs to know about either.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Joins the client's and the upstream's upgraded connections in a background task, closed
/// after `idle` without a byte in either direction.
pub(crate) fn spawn_tunnel(client: OnUpgrade, upstream: OnUpgrade, idle: Duration) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::debug!(%error, "protocol upgrade did not complete");
                return;
            }
        };
        let activity = Activity::new();
        let mut client = Watched::new(TokioIo::new(client), &activity);
        let mut upstream = Watched::new(TokioIo::new(upstream), &activity);
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(error) = copied {
                    tracing::debug!(%error, "upgraded connection ended with an error");
                }
            }
            () = activity.idle_for(idle) => {
                tracing::debug!(?idle, "upgraded connection idle; closing");
            }
        }
        // Dropping both ends closes them (and gives back the client connection's slot).
    });
}

/// When a byte last moved through the tunnel, either way. An atomic, not a `Cell`, so the
/// tunnel's future stays `Send` while both ends borrow it.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last byte moved.
    last_ms: AtomicU64,
}

/// One end of the tunnel, noting every byte read or written in the shared [`Activity`].
#[derive(Debug)]
struct Watched<'a, I> {
    io: I,
    activity: &'a Activity,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn moved(&self) {
        let since = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(since, Ordering::Relaxed);
    }

    /// When the tunnel is idle for `idle` unless a byte moves first; `None` if `idle` is too
    /// large to add to a time.
    fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        let last_ms = self.last_ms.load(Ordering::Relaxed);
        self.start
            .checked_add(Duration::from_millis(last_ms))?
            .checked_add(idle)
    }

    /// Resolves once `idle` has passed since the last byte moved; never if `idle` is too large
    /// to add to a time.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let Some(deadline) = self.idle_deadline(idle) else {
                return std::future::pending().await;
            };
            if deadline <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl<'a, I> Watched<'a, I> {
    fn new(io: I, activity: &'a Activity) -> Self {
        Watched { io, activity }
    }

    /// Notes the activity when `written` bytes (more than none) went through.
    fn note(&self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.moved();
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<'_, I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.moved();
        }
        read
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<'_, I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.note(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.note(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_counts_from_the_last_byte_moved() {
        let activity = Activity::new();
        let idle = Duration::from_secs(60);
        assert_eq!(activity.idle_deadline(idle), Some(activity.start + idle));
        activity.last_ms.store(50_000, Ordering::Relaxed);
        assert_eq!(
            activity.idle_deadline(idle),
            Some(activity.start + Duration::from_secs(110)),
            "a byte at 50 s moves the deadline to 110 s"
        );
    }

    #[test]
    fn an_idle_timeout_too_large_for_a_time_has_no_deadline() {
        let activity = Activity::new();
        assert_eq!(activity.idle_deadline(Duration::MAX), None);
    }
}
