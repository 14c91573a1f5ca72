//! The HTTP/1.x codec, without I/O: bytes in, heads and body pieces out, and heads out as
//! bytes. The inline server (`server/inline.rs`) and the inline upstream client
//! (`handler/upstream/inline.rs`) drive it; nothing else in the proxy reads or writes HTTP/1
//! by hand.
//!
//! # What it implements (RFC 9112)
//!
//! - **Heads** (§2–§5): one `httparse` scaffold reads request and response heads
//!   ([`head`]); field names and values are checked by `http`'s types and sliced out of the
//!   read buffer without copying ([`fields`]). Limits: at most [`MAX_FIELDS`] fields; a request
//!   head within the server's configured size (at most 64 KiB, larger ones go to hyper, which
//!   answers `431`); a response head within [`RESPONSE_HEAD_LIMITS`] (32 KiB), else an error.
//! - **Framing** (§6), one set of rules for both roles ([`framing`]): every `Content-Length`
//!   line and list element must be the same 1–19 digit number, else the message is an error;
//!   every `Transfer-Encoding` line counts, and the body is chunked only when `chunked` is the
//!   final coding of the combined list; with `Transfer-Encoding` present, `Content-Length` is
//!   ignored and removed from the head handed on, and when both came the connection closes
//!   after the message; a `Transfer-Encoding` that does not end in `chunked` makes a response
//!   body run until the connection closes; an HTTP/1.0 message with `Transfer-Encoding` is read
//!   by it and the connection closes after it (§6.1). Responses to `HEAD`, and `1xx`, `204` and
//!   `304` responses, have no body. In the server role the codec takes bodiless requests only:
//!   any `Content-Length` or `Transfer-Encoding` hands the request to hyper, whose request
//!   framing (and its `400` answers) applies.
//! - **Persistence** (§9.3): every `Connection` line counts; HTTP/1.1 persists unless a
//!   `close` token is present, HTTP/1.0 only with `keep-alive` and without `close`.
//! - **Bodies** (§6.3, §7.1): a length, chunked or read-until-close decoder ([`body`]), with
//!   the chunked encoder beside it. Chunk extensions are ignored; trailers are read and dropped
//!   (as nginx does with HTTP/1.1 upstreams). Every budget — a chunk-size line (4 KiB), the
//!   trailer section (16 KiB), the bytes a length still allows — is kept with checked
//!   arithmetic, and exceeding one is an error, never a wrap-around.
//! - **Encoding**: request heads in origin form; response heads whose framing is decided here
//!   and only here: never both `Content-Length` and `Transfer-Encoding`, at most one
//!   `Content-Length`, `Connection` as persistence needs, `Date` from a per-second cache
//!   ([`date`]).
//!
//! Where it differs from hyper on purpose: a response with conflicting `Content-Length`
//! values is an error even when `Transfer-Encoding` is present (hyper ignores the lengths
//! then); a response with both is never reused; an HTTP/1.0 response with
//! `Transfer-Encoding` is read by it, then the connection closed (hyper's client rejects it);
//! empty `Transfer-Encoding` list elements are ignored, so `chunked, ` is chunked (hyper looks
//! at the last element of the last line). Through the proxy, each pinned by a test in
//! `tests/differential_{client,server}.rs`: a `304`'s `Content-Length` is handed on (hyper's
//! server drops it); an HTTP/1.0 body delimited by the upstream's close reaches an HTTP/1.1
//! client chunked, keeping its connection (hyper closes it); a request head one byte past the
//! server's limit is `431` (hyper checks its limit before each read, not after); a malformed
//! head after an HTTP/1.0 request is refused as `HTTP/1.1` (hyper repeats the earlier
//! version). Whichever transport read a response head, the pipeline hands on at most one
//! `Content-Length`, judged by this codec's rule.

mod body;
mod date;
mod fields;
mod framing;
mod head;
mod request;
mod response;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod split_check;

use bytes::BytesMut;

pub(crate) use body::{BodyDecoder, CHUNK_END, Decoded, LAST_CHUNK, encode_chunk_size};
pub(crate) use date::write_date;
pub(crate) use framing::ContentLength;
pub(crate) use head::{HeadLimits, RESPONSE_HEAD_LIMITS};
pub(crate) use request::{Parsed, encode_request_head, parse_request_head};
pub(crate) use response::{Framing, RequestFacts, encode_response_head, parse_response_head};

/// Most header fields one head may carry here (hyper's own in-place parsing limit).
pub(crate) const MAX_FIELDS: usize = 100;

/// Why bytes received from a peer are not a valid HTTP/1 message (the upstream client's
/// errors; the server hands anything it cannot read to hyper instead).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum WireError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {} bytes or with more than {MAX_FIELDS} fields",
        RESPONSE_HEAD_LIMITS.max_bytes())]
    HeadTooLarge,
    #[error("response header field {0:?} is not valid")]
    Header(String),
    #[error("response status {0} is not valid")]
    Status(u16),
    #[error("invalid or conflicting Content-Length")]
    ContentLength,
    #[error("101 Switching Protocols to a request that asked for no upgrade")]
    UnexpectedSwitch,
    #[error("malformed chunked body: {0}")]
    Chunk(&'static str),
    #[error("connection closed before the body ended")]
    Truncated,
}

/// How much a connection reads at a time (hyper's initial read buffer size).
const READ_CHUNK: usize = 8 * 1024;

/// Room to read into: the rest of the current allocation while a useful amount is left, so
/// most exchanges allocate nothing.
pub(crate) fn make_read_room(read: &mut BytesMut) {
    if read.capacity() - read.len() < READ_CHUNK / 8 {
        read.reserve(READ_CHUNK);
    }
}

/// Writes one `name: value` field line.
fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
