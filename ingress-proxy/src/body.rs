//! The client's request body on its way upstream: streamed, never buffered whole, counted for
//! the access log.
//!
//! [`RequestBody`] carries the client's body to the upstream and counts it in a [`BodyCell`]
//! shared with the access record and the upstream connection's loan. An attempt that sent
//! nothing hands the whole request back (see `handler::upstream`), body unread, so the retry on
//! another endpoint sends the body intact (any method). A body the *client* got wrong
//! (malformed chunked framing, a connection closed mid-body) is noted in the cell, so the
//! failed exchange is answered `400` and never blamed on the endpoint.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

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
}

impl RequestBody {
    /// Wraps the client's body; returns its cell when there is a body.
    pub(crate) fn new(body: ClientBody) -> (RequestBody, Option<Arc<BodyCell>>) {
        let body = match body {
            ClientBody::Hyper(body) if !body.is_end_stream() => body,
            ClientBody::Hyper(_) | ClientBody::Empty => return (RequestBody::empty(), None),
        };
        let cell = Arc::new(BodyCell::default());
        let streaming = Some((body, cell.clone()));
        (RequestBody { streaming }, Some(cell))
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        RequestBody { streaming: None }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some((body, cell)) = &mut self.streaming else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    cell.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Some(Err(_)) => cell.client_failed.store(true, Ordering::Relaxed),
            None => {}
        }
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
