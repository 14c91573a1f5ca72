//! The client's request body on its way upstream: streamed, never buffered whole, counted for
//! the access log.
//!
//! [`RequestBody`] carries the client's body to the upstream and counts it in a [`BodyCell`]
//! shared with the access record and the upstream connection's loan. An attempt that sent
//! nothing hands the whole request back (see `handler::upstream`), body unread, so the retry on
//! another endpoint sends the body intact (any method). A body the *client* got wrong
//! (malformed chunked framing, a connection closed mid-body) is noted in the cell, so the
//! failed exchange is answered `400` and never blamed on the endpoint. A body that grows past
//! the route's limit (`proxy-body-size`) is cut there with [`BodyError::TooLarge`], noted
//! too, and answered `413`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::coarse_timer::{CoarseTimer, Deadline};

/// What others need to know about a request body while it streams.
#[derive(Debug, Default)]
pub(crate) struct BodyCell {
    /// Body bytes read from the client so far.
    bytes: AtomicU64,
    /// Set once the body was read to its end (and so sent whole upstream).
    finished: AtomicBool,
    /// Set when reading the body from the client failed: the client's fault, not the
    /// upstream's.
    client_failed: AtomicBool,
    /// Set when the body passed its limit (also sets `client_failed`).
    too_large: AtomicBool,
    /// Set when the client stopped sending it for longer than `client-body-timeout` (also sets
    /// `client_failed`).
    timed_out: AtomicBool,
}

/// Why the body sent upstream ended in an error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Reading it from the client failed.
    #[error("reading the request body from the client failed: {0}")]
    Client(#[source] hyper::Error),
    /// It passed the route's limit.
    #[error("the request body is larger than {limit} bytes (proxy-body-size)")]
    TooLarge { limit: u64 },
    /// The client sent nothing of it for longer than `client-body-timeout`.
    #[error("no request body bytes for {0:?} (client-body-timeout)")]
    TimedOut(Duration),
}

/// A request body as the client's connection delivers it.
#[derive(Debug)]
pub(crate) enum ClientBody {
    /// No body: the inline HTTP/1.1 server takes only requests without one.
    Empty,
    /// From hyper's server (HTTP/1.1 with a body or an upgrade, HTTP/2).
    Hyper(Incoming),
}

/// The body sent upstream: `None` when the client sent none (most GETs).
#[derive(Debug)]
pub(crate) struct RequestBody {
    streaming: Option<(Incoming, Arc<BodyCell>)>,
    /// The most bytes it may carry; `None`: unlimited.
    limit: Option<u64>,
    /// `client-body-timeout`: the longest wait for the next piece of body.
    idle: Option<BodyIdle>,
}

/// The wait for the client's next piece of body, while one is awaited.
#[derive(Debug)]
pub(crate) struct BodyIdle {
    timeout: Duration,
    timer: CoarseTimer,
    waiting: Option<Deadline>,
}

impl BodyIdle {
    pub(crate) fn new(timeout: Duration, timer: CoarseTimer) -> Self {
        BodyIdle {
            timeout,
            timer,
            waiting: None,
        }
    }
}

impl BodyCell {
    /// Bytes of request body read from the client so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the body was read to its end.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// Whether reading the body from the client failed.
    pub(crate) fn client_failed(&self) -> bool {
        self.client_failed.load(Ordering::Relaxed)
    }

    /// Whether the body passed its limit.
    pub(crate) fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }

    /// Whether the client stopped sending the body for longer than `client-body-timeout`.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

impl RequestBody {
    /// Wraps the client's body, which may carry at most `limit` bytes; returns its cell when
    /// there is a body.
    pub(crate) fn new(
        body: ClientBody,
        limit: Option<u64>,
        idle: Option<BodyIdle>,
    ) -> (RequestBody, Option<Arc<BodyCell>>) {
        let body = match body {
            ClientBody::Hyper(body) if !body.is_end_stream() => body,
            ClientBody::Hyper(_) | ClientBody::Empty => return (RequestBody::empty(), None),
        };
        let cell = Arc::new(BodyCell::default());
        let streaming = Some((body, cell.clone()));
        (
            RequestBody {
                streaming,
                limit,
                idle,
            },
            Some(cell),
        )
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        RequestBody {
            streaming: None,
            limit: None,
            idle: None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        let limit = this.limit;
        let Some((body, cell)) = &mut this.streaming else {
            return Poll::Ready(None);
        };
        let frame = match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(idle) = &mut this.idle {
                    idle.waiting = None;
                }
                frame
            }
            Poll::Pending => {
                let Some(idle) = &mut this.idle else {
                    return Poll::Pending;
                };
                let timeout = idle.timeout;
                let waiting = idle
                    .waiting
                    .get_or_insert_with(|| idle.timer.deadline(timeout));
                ready!(Pin::new(waiting).poll(cx));
                cell.timed_out.store(true, Ordering::Relaxed);
                cell.client_failed.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(BodyError::TimedOut(timeout))));
            }
        };
        let frame = match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let length = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    let before = cell.bytes.fetch_add(length, Ordering::Relaxed);
                    if let Some(limit) = limit
                        && before.saturating_add(length) > limit
                    {
                        cell.too_large.store(true, Ordering::Relaxed);
                        cell.client_failed.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
                    }
                }
                Some(Ok(frame))
            }
            Some(Err(error)) => {
                cell.client_failed.store(true, Ordering::Relaxed);
                Some(Err(BodyError::Client(error)))
            }
            None => None,
        };
        if frame.is_none() || body.is_end_stream() {
            cell.finished.store(true, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.streaming
            .as_ref()
            .is_none_or(|(body, _)| body.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.streaming {
            Some((body, _)) => body.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}
