//! Streaming bodies in both directions: never buffered whole, counted for the access log.
//!
//! [`RequestBody`] carries the client's body to the upstream and counts it in a [`BodyCell`]
//! shared with the access record and the upstream connection's loan. An attempt that sent
//! nothing hands the whole request back (see `handler::upstream`), body unread, so the retry on
//! another endpoint sends the body intact (any method).
//!
//! [`ResponseBody`] carries the upstream's body (or an error page) to the client, enforces the
//! read timeout between chunks, and owns the request's [`AccessRecord`], which is written when
//! the body is finished or dropped: that is when the bytes sent and the duration are known.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::access_log::AccessRecord;
use crate::handler::{Loan, WireBody, WireBodyError};

/// What others need to know about a request body while it streams.
#[derive(Debug)]
pub(crate) struct BodyCell {
    /// Body bytes read from the client so far.
    bytes: AtomicU64,
    /// Set once the body was read to its end (and so sent whole upstream).
    finished: AtomicBool,
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

/// The body sent to the client.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    content: Content,
    /// Written to the access log and metrics when the body ends or is dropped.
    /// Boxed: the response moves through hyper several times, the record need not.
    record: Option<Box<AccessRecord>>,
}

#[derive(Debug)]
enum Content {
    Upstream {
        body: UpstreamBody,
        read_timeout: Duration,
        /// Created the first time the upstream makes us wait; reset after every chunk.
        timer: Option<Pin<Box<Sleep>>>,
        /// Whether a chunk arrived since the timer was last armed.
        progressed: bool,
    },
    Full(Option<Bytes>),
}

/// A response body as an upstream client delivers it.
#[derive(Debug)]
pub(crate) enum UpstreamBody {
    /// From hyper's client, with the HTTP/1.1 connection to give back at its end.
    Hyper { body: Incoming, loan: Option<Loan> },
    /// From the inline HTTP/1.1 client, which gives its connection back itself.
    Wire(WireBody),
}

/// Why a response body stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResponseBodyError {
    /// The upstream connection failed mid-body.
    #[error("upstream response body: {0}")]
    Upstream(#[source] hyper::Error),
    /// The upstream connection failed mid-body (inline client).
    #[error("upstream response body: {0}")]
    Wire(#[source] WireBodyError),
    /// The upstream sent nothing for the read timeout.
    #[error("upstream response body: no data for {0:?} (read timeout)")]
    ReadTimeout(Duration),
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
}

impl RequestBody {
    /// Wraps the client's body; returns its cell when there is a body.
    pub(crate) fn new(body: ClientBody) -> (RequestBody, Option<Arc<BodyCell>>) {
        let body = match body {
            ClientBody::Hyper(body) if !body.is_end_stream() => body,
            ClientBody::Hyper(_) | ClientBody::Empty => {
                return (RequestBody { streaming: None }, None);
            }
        };
        let cell = Arc::new(BodyCell {
            bytes: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        });
        let streaming = Some((body, cell.clone()));
        (RequestBody { streaming }, Some(cell))
    }
}

impl ResponseBody {
    /// Streams an upstream response body.
    pub(crate) fn upstream(body: UpstreamBody, read_timeout: Duration) -> Self {
        ResponseBody {
            content: Content::Upstream {
                body,
                read_timeout,
                timer: None,
                progressed: false,
            },
            record: None,
        }
    }

    /// A small fixed body (error pages).
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ResponseBody {
            content: Content::Full((!bytes.is_empty()).then_some(bytes)),
            record: None,
        }
    }

    /// An empty body.
    pub(crate) fn empty() -> Self {
        ResponseBody {
            content: Content::Full(None),
            record: None,
        }
    }

    /// Attaches the access record, written when this body is done.
    pub(crate) fn set_record(&mut self, record: Box<AccessRecord>) {
        self.record = Some(record);
    }

    fn count(&mut self, frame: &Frame<Bytes>) {
        if let (Some(data), Some(record)) = (frame.data_ref(), self.record.as_mut()) {
            record.bytes_out += data.len() as u64;
        }
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
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref))
            && let Some(data) = data
        {
            cell.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
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

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // hyper stops polling a body that reports its end, and a body that is empty from
        // the start may never be polled: the connection is free if the body has ended.
        if let Content::Upstream {
            body: UpstreamBody::Hyper { body, loan },
            ..
        } = &mut self.content
            && let Some(loan) = loan.take()
            && body.is_end_stream()
        {
            loan.give_back();
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        let this = &mut *self;
        let polled = match &mut this.content {
            Content::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Content::Upstream {
                body,
                read_timeout,
                timer,
                progressed,
            } => match body.poll_frame(cx) {
                Poll::Ready(frame) => {
                    *progressed = true;
                    Poll::Ready(frame)
                }
                Poll::Pending => {
                    let deadline = Instant::now() + *read_timeout;
                    let timer = match timer {
                        Some(timer) => {
                            if std::mem::take(progressed) {
                                timer.as_mut().reset(deadline);
                            }
                            timer
                        }
                        None => timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
                    };
                    match timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            Poll::Ready(Some(Err(ResponseBodyError::ReadTimeout(*read_timeout))))
                        }
                        Poll::Pending => Poll::Pending,
                    }
                }
            },
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => this.count(frame),
            Poll::Ready(Some(Err(error))) => {
                if let Some(record) = this.record.as_mut() {
                    record.body_error = Some(error.to_string());
                }
            }
            Poll::Ready(None) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.content {
            Content::Full(bytes) => bytes.is_none(),
            Content::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.content {
            Content::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Content::Upstream { body, .. } => body.size_hint(),
        }
    }
}

impl UpstreamBody {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        match self {
            UpstreamBody::Hyper { body, loan } => {
                let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
                match &frame {
                    Some(Ok(_)) if !body.is_end_stream() => {}
                    // The whole body arrived: the connection can carry the next request.
                    Some(Ok(_)) | None => {
                        if let Some(loan) = loan.take() {
                            loan.give_back();
                        }
                    }
                    // A failed connection is not reused (dropping the loan closes it).
                    Some(Err(_)) => *loan = None,
                }
                Poll::Ready(frame.map(|f| f.map_err(ResponseBodyError::Upstream)))
            }
            UpstreamBody::Wire(body) => body
                .poll_data(cx)
                .map(|data| data.map(|d| d.map(Frame::data).map_err(ResponseBodyError::Wire))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Hyper { body, .. } => body.is_end_stream(),
            UpstreamBody::Wire(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Hyper { body, .. } => body.size_hint(),
            UpstreamBody::Wire(body) => match body.remaining() {
                Some(remaining) => SizeHint::with_exact(remaining),
                None => SizeHint::default(),
            },
        }
    }
}
