//! The body sent to the client: the upstream's (with the read timeout between chunks) or a
//! small page of our own. It owns the request's [`AccessRecord`], written when the body is
//! finished or dropped: only then are the bytes sent and the duration known.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::upstream::{UpstreamBody, UpstreamBodyError};
use crate::access_log::AccessRecord;

/// The body sent to the client.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    content: Content,
    /// Written to the access log and metrics when the body ends or is dropped.
    /// Boxed: the response moves through hyper several times, the record need not.
    record: Option<Box<AccessRecord>>,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "the upstream variant is what almost every response carries; boxing it would cost an allocation per response to shrink the rare proxy-made ones"
)]
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

/// Why a response body stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResponseBodyError {
    /// The upstream connection failed mid-body.
    #[error(transparent)]
    Upstream(#[from] UpstreamBodyError),
    /// The upstream sent nothing for the read timeout.
    #[error("upstream response body: no data for {0:?} (read timeout)")]
    ReadTimeout(Duration),
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
            } => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(frame) => {
                    *progressed = true;
                    Poll::Ready(frame.map(|f| f.map_err(ResponseBodyError::from)))
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
