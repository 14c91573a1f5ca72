//! The inline HTTP/1.1 client, for requests without a body, driven inline by the request's own
//! task: the request head goes out in one write, the response head is read on the same task,
//! and the response body ([`InlineBody`]) is read straight from the connection by whoever polls
//! it (hyper's server connection). No connection task, channel or wake-up between them, which
//! is where hyper's general client spends most of its time on small proxied exchanges.
//!
//! Requests with a body, and protocol upgrades, go through hyper's client instead: they need
//! the request body and the response to flow at the same time.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::headers::ForwardedFields;
use super::connection::Connection;
use super::pool::Home;
use crate::http1::{self, BodyDecoder, Decoded, WireError, make_read_room};

/// Why an exchange failed, and whether the upstream can have seen the request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// Writing the request failed: the upstream saw at most part of a request head, which it
    /// cannot act on.
    #[error("writing the request: {0}")]
    Write(#[source] io::Error),
    /// The connection closed (or was reset) before any byte of a response arrived.
    #[error("connection closed before a response: {0}")]
    NoResponse(#[source] io::Error),
    /// Reading the response failed part way.
    #[error("reading the response: {0}")]
    Read(#[source] io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl ExchangeError {
    /// Whether the request certainly was not acted on: safe to send again, any method.
    pub(crate) fn not_sent(&self) -> bool {
        matches!(self, ExchangeError::Write(_))
    }

    /// Whether the upstream's response was not valid HTTP.
    pub(crate) fn is_protocol(&self) -> bool {
        matches!(self, ExchangeError::Wire(_))
    }

    /// Whether a reused connection turned out to be closed by the upstream (a keep-alive
    /// race): an idempotent request may be sent again on another connection.
    pub(crate) fn stale(&self) -> bool {
        matches!(self, ExchangeError::Write(_) | ExchangeError::NoResponse(_))
    }
}

impl Connection {
    /// Sends the head of `request` (origin-form target, no body; `forwarded` fields added) and
    /// reads the response head. The connection travels on inside the response body.
    pub(crate) async fn exchange<B>(
        mut self,
        request: &Request<B>,
        forwarded: &ForwardedFields,
        home: Home,
    ) -> Result<Response<InlineBody>, ExchangeError> {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        self.write.clear();
        http1::encode_request_head(
            request.method(),
            target,
            request.headers(),
            |out| forwarded.encode(out),
            &mut self.write,
        );
        let head_request = request.method() == Method::HEAD;
        self.io
            .write_all(&self.write)
            .await
            .map_err(ExchangeError::Write)?;
        self.io.flush().await.map_err(ExchangeError::Write)?;
        let parsed = loop {
            let received = !self.read.is_empty();
            if received
                && let Some(parsed) = http1::parse_response_head(&mut self.read, head_request)?
            {
                break parsed;
            }
            make_read_room(&mut self.read);
            match self.io.read_buf(&mut self.read).await {
                Ok(0) if !received => {
                    return Err(ExchangeError::NoResponse(
                        io::ErrorKind::UnexpectedEof.into(),
                    ));
                }
                Ok(0) => return Err(ExchangeError::Read(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(error) if !received => return Err(ExchangeError::NoResponse(error)),
                Err(error) => return Err(ExchangeError::Read(error)),
            }
        };
        let mut response =
            Response::new(InlineBody::new(self, parsed.body, parsed.keep_alive, home));
        *response.status_mut() = parsed.status;
        *response.version_mut() = parsed.version;
        *response.headers_mut() = parsed.headers;
        Ok(response)
    }
}

/// A response body read straight from its connection; the connection goes back to the pool
/// when the body ends, if the response allows reuse.
#[derive(Debug)]
pub(crate) struct InlineBody {
    /// The connection and where it goes back to; `None` once the body has ended or failed.
    connection: Option<(Connection, Home)>,
    decoder: BodyDecoder,
    keep_alive: bool,
}

/// Why a response body stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InlineBodyError {
    #[error("{0}")]
    Io(#[source] io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl InlineBody {
    fn new(connection: Connection, decoder: BodyDecoder, keep_alive: bool, home: Home) -> Self {
        let mut body = InlineBody {
            connection: Some((connection, home)),
            decoder,
            keep_alive,
        };
        if body.decoder.is_done() {
            // No body (a 204, a HEAD, `Content-Length: 0`): the connection is free now.
            body.finish();
        }
        body
    }

    /// Whether the body has ended.
    pub(crate) fn is_end_stream(&self) -> bool {
        self.decoder.is_done()
    }

    /// Bytes still to come, when the response says.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.decoder.remaining()
    }

    /// The next piece of the body; `None` once it has ended.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, InlineBodyError>>> {
        let Some((connection, _)) = self.connection.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            let decoded = match self.decoder.decode(&mut connection.read) {
                Ok(decoded) => decoded,
                Err(error) => return Poll::Ready(Some(Err(self.fail(error.into())))),
            };
            match decoded {
                Decoded::Data(data) => {
                    if self.decoder.is_done() {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Decoded::End => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Decoded::NeedMore => {}
            }
            make_read_room(&mut connection.read);
            let read = tokio_util::io::poll_read_buf(
                Pin::new(&mut connection.io),
                cx,
                &mut connection.read,
            );
            match read {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => {
                    return Poll::Ready(Some(Err(self.fail(InlineBodyError::Io(error)))));
                }
                Poll::Ready(Ok(0)) => match self.decoder.decode_eof() {
                    Ok(_) => {
                        // The body ran until the close: the connection is spent.
                        self.connection = None;
                        return Poll::Ready(None);
                    }
                    Err(error) => return Poll::Ready(Some(Err(self.fail(error.into())))),
                },
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    /// The body has ended: back to the pool if the response allows and nothing extra came.
    fn finish(&mut self) {
        let Some((connection, home)) = self.connection.take() else {
            return;
        };
        if self.keep_alive && connection.read.is_empty() {
            home.put_inline(connection);
        }
    }

    fn fail(&mut self, error: InlineBodyError) -> InlineBodyError {
        // A connection with a failed body is in an unknown state: closed by dropping it.
        self.connection = None;
        error
    }
}
