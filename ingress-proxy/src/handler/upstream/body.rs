//! The upstream's response body as either client delivers it, and the connection it gives
//! back: an HTTP/1.1 connection returns to its pool when the body has ended, never before.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::inline::{InlineBody, InlineBodyError};
use super::pool::Loan;

/// A response body as an upstream client delivers it.
#[derive(Debug)]
pub(crate) enum UpstreamBody {
    /// From hyper's client, with the HTTP/1.1 connection to give back at its end.
    Hyper { body: Incoming, loan: Option<Loan> },
    /// From the inline HTTP/1.1 client, which gives its connection back itself.
    Inline(InlineBody),
}

/// Why an upstream response body stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamBodyError {
    /// hyper's client: the upstream connection failed mid-body.
    #[error("upstream response body: {0}")]
    Hyper(#[source] hyper::Error),
    /// The inline client: the upstream connection failed mid-body.
    #[error("upstream response body: {0}")]
    Inline(#[source] InlineBodyError),
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = UpstreamBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamBodyError>>> {
        match self.get_mut() {
            UpstreamBody::Hyper { body, loan } => {
                let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
                match &frame {
                    // Trailers come last: after them the body has ended, though hyper's
                    // `is_end_stream` says so only for bodies of known length (and hyper's
                    // server does not poll again after writing trailers).
                    Some(Ok(frame)) if !frame.is_trailers() && !body.is_end_stream() => {}
                    // The whole body arrived: the connection can carry the next request.
                    Some(Ok(_)) | None => {
                        if let Some(loan) = loan.take() {
                            loan.give_back();
                        }
                    }
                    // A failed connection is not reused (dropping the loan closes it).
                    Some(Err(_)) => *loan = None,
                }
                Poll::Ready(frame.map(|f| f.map_err(UpstreamBodyError::Hyper)))
            }
            UpstreamBody::Inline(body) => body
                .poll_data(cx)
                .map(|data| data.map(|d| d.map(Frame::data).map_err(UpstreamBodyError::Inline))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Hyper { body, .. } => body.is_end_stream(),
            UpstreamBody::Inline(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Hyper { body, .. } => body.size_hint(),
            UpstreamBody::Inline(body) => match body.remaining() {
                Some(remaining) => SizeHint::with_exact(remaining),
                None => SizeHint::default(),
            },
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // hyper stops polling a body that reports its end, and a body that is empty from
        // the start may never be polled: the connection is free if the body has ended.
        if let UpstreamBody::Hyper { body, loan } = self
            && let Some(loan) = loan.take()
            && body.is_end_stream()
        {
            loan.give_back();
        }
    }
}
