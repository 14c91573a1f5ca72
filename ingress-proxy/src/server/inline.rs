//! The inline HTTP/1.1 server: the connection's own task reads request heads, calls the handler
//! and writes responses, for the requests most traffic is made of (no body, no upgrade).
//!
//! It spares those requests hyper's connection state machine and service plumbing (about a
//! quarter of the proxy's user-space instructions per request, measured with callgrind). The
//! first request it does not take — a body, an upgrade, `Expect`, HTTP/2's preface, a malformed
//! or oversized head — hands the connection to hyper with the bytes read so far put back in
//! front ([`Rewind`]), so hyper serves it, and the rest of the connection, exactly as it would
//! have from the start (including its `400` and `431` answers).
//!
//! Same behaviour as hyper's server where a client can tell: pipelined requests are answered
//! in order; `Connection: close` and HTTP/1.0 without `keep-alive` end the connection after
//! the response; during shutdown the connection closes once the response in flight is
//! written, with `Connection: close`. Timeouts, as nginx's: the first request's head must
//! arrive within `client-header-timeout`; between requests the connection may idle for
//! `keep-alive`, and once a next head has begun it has `client-header-timeout` again. After
//! `keep-alive-requests` responses (or each one with `keep-alive: 0`) the connection closes.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use http::{Method, Response};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::rewind::Rewind;
use super::{Context, Drained, serve_io};
use crate::body::ClientBody;
use crate::handler::ResponseBody;
use crate::handler::{self, ClientConnection};
use crate::http1::{
    self, CHUNK_END, Framing, LAST_CHUNK, Parsed, RequestFacts, encode_chunk_size, make_read_room,
    parse_request_head, write_date,
};

/// Body pieces up to this size are copied after the head (one write); larger ones are written
/// from their own buffer.
const COPY_LIMIT: usize = 16 * 1024;
/// Bytes gathered before they are written even though more body is ready.
const WRITE_AT: usize = 64 * 1024;

/// Serves HTTP/1.1 on `io` until the connection ends, handing it to hyper at the first request
/// the inline server does not take.
pub(super) async fn serve<I>(io: I, connection: Arc<ClientConnection>, context: &Context)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handed_off = {
        let mut served = std::pin::pin!(serve_inline(io, &connection, context));
        let mut forced = Drained::new(&context.force);
        poll_fn(|cx| {
            if let Poll::Ready(handed_off) = served.as_mut().poll(cx) {
                return Poll::Ready(handed_off);
            }
            // The grace period is over: drop the connection with whatever is in flight.
            Pin::new(&mut forced).poll(cx).map(|()| None)
        })
        .await
    };
    if let Some((io, read)) = handed_off {
        serve_io(Rewind::new(read, io), connection, context, false).await;
    }
}

/// What ended a wait for more of a request head.
enum Waited {
    Read,
    Closed,
    Failed(io::Error),
    Draining,
    TimedOut,
}

/// Serves inline until the connection ends (`None`) or a request goes to hyper: then the
/// connection and the bytes read from it but not consumed.
async fn serve_inline<I>(
    mut io: I,
    connection: &Arc<ClientConnection>,
    context: &Context,
) -> Option<(I, Bytes)>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let client = connection.client;
    let mut read = BytesMut::new();
    let mut out = Vec::new();
    let mut drained = Drained::new(&context.drain);
    let settings = connection.settings;
    loop {
        let mut deadline = None;
        // Between two requests, before the next head's first byte: the keep-alive idle time.
        let mut idle = connection.served() > 0 && read.is_empty();
        let inline = loop {
            match parse_request_head(&mut read, context.head_limits) {
                Parsed::Inline(inline) => break inline,
                Parsed::HandOff(reason) => {
                    tracing::trace!(%client, reason, "connection handed to hyper");
                    return Some((io, read.freeze()));
                }
                Parsed::Partial => {}
            }
            make_read_room(&mut read);
            let waited = poll_fn(|cx| {
                match tokio_util::io::poll_read_buf(Pin::new(&mut io), cx, &mut read) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Waited::Closed),
                    Poll::Ready(Ok(_)) => return Poll::Ready(Waited::Read),
                    Poll::Ready(Err(error)) => return Poll::Ready(Waited::Failed(error)),
                    Poll::Pending => {}
                }
                if Pin::new(&mut drained).poll(cx).is_ready() {
                    return Poll::Ready(Waited::Draining);
                }
                // The timeout starts when the connection first has to wait.
                let deadline = deadline.get_or_insert_with(|| {
                    context.timer.deadline(match idle {
                        true => settings.keep_alive,
                        false => settings.header_timeout,
                    })
                });
                Pin::new(deadline).poll(cx).map(|()| Waited::TimedOut)
            })
            .await;
            match waited {
                // The next head has begun: from now on the head timeout.
                Waited::Read if idle => {
                    idle = false;
                    deadline = None;
                }
                Waited::Read => {}
                Waited::Closed | Waited::Draining => return None,
                Waited::Failed(error) => {
                    tracing::debug!(%client, %error, "connection ended with an error");
                    return None;
                }
                Waited::TimedOut => {
                    tracing::debug!(%client, "request head not received in time; closing");
                    return None;
                }
            }
        };
        let request = RequestFacts {
            head: inline.request.method() == Method::HEAD,
            version: inline.request.version(),
            keep_alive: inline.keep_alive,
        };
        let request_body = inline.request.map(|()| ClientBody::Empty);
        let response =
            match handler::handle(context.shared.clone(), connection.clone(), request_body).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        let request = RequestFacts {
            keep_alive: request.keep_alive
                && !context.drain.is_cancelled()
                && !connection.closing(),
            ..request
        };
        let persists = match write_response(&mut io, response, request, &mut out).await {
            Ok(persists) => persists,
            Err(error) => {
                tracing::debug!(%client, %error, "response not written");
                return None;
            }
        };
        if !persists {
            // Errors on the way out change nothing: the connection is done either way.
            let _ = io.shutdown().await;
            return None;
        }
    }
}

/// Writes `response`; `Ok(true)` if the connection can carry another request.
async fn write_response<I>(
    io: &mut I,
    response: Response<ResponseBody>,
    request: RequestFacts,
    out: &mut Vec<u8>,
) -> io::Result<bool>
where
    I: AsyncWrite + Unpin,
{
    let (parts, mut body) = response.into_parts();
    out.clear();
    let (framing, keep_alive) = http1::encode_response_head(
        parts.status,
        &parts.headers,
        &body.size_hint(),
        request,
        write_date,
        out,
    );
    drop(parts);
    let mut remaining = match framing {
        Framing::Length(length) => length,
        Framing::Empty | Framing::Chunked | Framing::UntilClose => 0,
    };
    let sends_body = framing != Framing::Empty && framing != Framing::Length(0);
    while sends_body && !body.is_end_stream() {
        // Take what is ready without waiting; write what was gathered before waiting.
        let frame = match body.frame().now_or_never() {
            Some(frame) => frame,
            None => {
                write_gathered(io, out).await?;
                body.frame().await
            }
        };
        let data = match frame {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // HTTP/1.1 trailers are dropped (as on the inline upstream path).
                Err(_trailers) => continue,
            },
            // The upstream failed mid-body (recorded in the access log): the client must see
            // the response cut short, so the connection closes.
            Some(Err(_)) => {
                write_gathered(io, out).await?;
                return Ok(false);
            }
        };
        if data.is_empty() {
            continue;
        }
        match framing {
            Framing::Length(_) => match remaining.checked_sub(data.len() as u64) {
                Some(left) => remaining = left,
                // More than the declared length: the response is broken.
                None => return Ok(false),
            },
            Framing::Chunked => encode_chunk_size(data.len(), out),
            Framing::Empty | Framing::UntilClose => {}
        }
        if data.len() <= COPY_LIMIT {
            out.extend_from_slice(&data);
        } else {
            write_gathered(io, out).await?;
            io.write_all(&data).await?;
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(CHUNK_END);
        }
        if out.len() >= WRITE_AT {
            write_gathered(io, out).await?;
        }
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(LAST_CHUNK);
    }
    write_gathered(io, out).await?;
    // A body shorter than its declared length leaves the client waiting for the rest: close.
    Ok(keep_alive && remaining == 0)
}

async fn write_gathered<I: AsyncWrite + Unpin>(io: &mut I, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await
}
