//! Responses: heads in for the client role, heads out for the server role.
//!
//! [`parse_response_head`] reads an upstream's response head, skips interim `1xx` responses,
//! and says how the body is framed and whether the connection can carry another request (the
//! rules of [`super::framing`]); with `Transfer-Encoding` present, `Content-Length` is removed
//! from the head handed on.
//!
//! [`encode_response_head`] writes the status line and fields and decides how the body is
//! delimited, the way hyper's server does: one valid declared `Content-Length` is kept (once);
//! a body of known size gets one; otherwise HTTP/1.1 clients get `chunked` and HTTP/1.0 clients
//! a body that ends when the connection closes. `Transfer-Encoding` and `Connection` fields
//! given are dropped: framing and persistence are this hop's. So at most one
//! `Content-Length` goes out, never beside `Transfer-Encoding`. Responses to `HEAD`, `1xx`,
//! `204` and `304` have no body (`HEAD` and `304` keep a declared length).

use bytes::BytesMut;
use http::header::{self, HeaderMap};
use http::{StatusCode, Version};
use http_body::SizeHint;

use super::body::BodyDecoder;
use super::fields::InvalidField;
use super::framing::FramingFields;
use super::head::{RESPONSE_HEAD_LIMITS, ScanError, StatusLine, scan_head};
use super::{WireError, write_field};

/// A parsed response head, with how its body is framed.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodyDecoder,
    /// Whether the connection may carry another request once the body has ended.
    pub(crate) keep_alive: bool,
}

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body is sent.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes.
    UntilClose,
}

/// What the response head needs to know about its request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts {
    pub(crate) head: bool,
    pub(crate) version: Version,
    /// Whether the connection may carry another request (the client's wish, and not shutting
    /// down).
    pub(crate) keep_alive: bool,
}

/// Parses a response head from the front of `buf` and removes it from there.
///
/// `Ok(None)`: the head is not complete yet (read more). Interim `1xx` responses (other than
/// `101`) are consumed and skipped. `head_request` says the request was `HEAD`, whose response
/// has no body whatever its headers say.
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    head_request: bool,
) -> Result<Option<ResponseHead>, WireError> {
    loop {
        let scanned = match scan_head::<StatusLine>(buf, RESPONSE_HEAD_LIMITS) {
            Ok(Some(scanned)) => scanned,
            Ok(None) => return Ok(None),
            Err(ScanError::TooLarge) => return Err(WireError::HeadTooLarge),
            Err(ScanError::Malformed(error)) => return Err(WireError::Head(error)),
        };
        let StatusLine { code, version } = scanned.line;
        let status = StatusCode::from_u16(code).map_err(|_| WireError::Status(code))?;
        let head = buf.split_to(scanned.length).freeze();
        let mut framing = FramingFields::default();
        let mut headers = scanned
            .spans
            .header_map(&head, |name, value| framing.note(name, value))
            .map_err(|InvalidField(name)| WireError::Header(name))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::UnexpectedSwitch);
        }
        if status.is_informational() {
            continue;
        }
        let (body, keep_alive) = framing.response_body(status, version, head_request)?;
        if framing.has_transfer_encoding() {
            // Transfer-Encoding overrides it; handed on, it would be a second framing.
            headers.remove(header::CONTENT_LENGTH);
        }
        return Ok(Some(ResponseHead {
            status,
            version,
            headers,
            body,
            keep_alive,
        }));
    }
}

/// Writes the status line, the fields (with `Content-Length` or `Transfer-Encoding` and
/// `Connection` as the framing needs) and the blank line to `out`. `date` writes a `Date`
/// value; it is called only when `headers` has none. Returns the framing and whether the
/// connection persists after the body.
pub(crate) fn encode_response_head(
    status: StatusCode,
    headers: &HeaderMap,
    body: &SizeHint,
    request: RequestFacts,
    date: impl FnOnce(&mut Vec<u8>),
    out: &mut Vec<u8>,
) -> (Framing, bool) {
    // An HTTP/1.0 client is answered in HTTP/1.0 (as hyper's server does).
    out.extend_from_slice(if request.version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");

    let bodiless_status = status.is_informational() || status == StatusCode::NO_CONTENT;
    // Invalid or conflicting lengths are all dropped (a body of known size gets a valid one
    // below); an agreed one is written once, where the first came.
    let mut lengths = FramingFields::default();
    for value in headers.get_all(header::CONTENT_LENGTH) {
        lengths.note(&header::CONTENT_LENGTH, value.as_bytes());
    }
    let declared = lengths.content_length().filter(|_| !bodiless_status);
    let mut length_written = false;
    let mut has_date = false;
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH {
            if let Some(length) = declared.filter(|_| !length_written) {
                write_length(out, length);
                length_written = true;
            }
            continue;
        } else if name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            // Framing and persistence are this hop's to decide.
            continue;
        } else if name == header::DATE {
            has_date = true;
        }
        write_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        date(out);
        out.extend_from_slice(b"\r\n");
    }

    let mut keep_alive = request.keep_alive;
    let framing = if request.head || bodiless_status || status == StatusCode::NOT_MODIFIED {
        // A HEAD response says how long the GET body would be, when that is known (as hyper's
        // server does for a body of known size).
        if request.head
            && declared.is_none()
            && !bodiless_status
            && status != StatusCode::NOT_MODIFIED
            && let Some(length) = body.exact().filter(|length| *length > 0)
        {
            write_length(out, length);
        }
        Framing::Empty
    } else if let Some(length) = declared {
        Framing::Length(length)
    } else if let Some(length) = body.exact() {
        write_length(out, length);
        Framing::Length(length)
    } else if request.version == Version::HTTP_11 {
        write_field(out, b"transfer-encoding", b"chunked");
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    if !keep_alive {
        write_field(out, b"connection", b"close");
    } else if request.version == Version::HTTP_10 {
        write_field(out, b"connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

fn write_length(out: &mut Vec<u8>, length: u64) {
    let mut digits = itoa::Buffer::new();
    write_field(out, b"content-length", digits.format(length).as_bytes());
}

#[cfg(test)]
#[path = "response_parse_tests.rs"]
mod parse_tests;

#[cfg(test)]
#[path = "response_encode_tests.rs"]
mod encode_tests;
