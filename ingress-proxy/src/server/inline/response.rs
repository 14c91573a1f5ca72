//! Response heads and body framing out, without I/O (RFC 9112 §4–§7).
//!
//! [`encode_response_head`] writes the status line and fields and decides how the body is
//! delimited, the way hyper's server does: a declared `Content-Length` is kept; a body of known
//! size gets one; otherwise HTTP/1.1 clients get `chunked` and HTTP/1.0 clients a body that ends
//! when the connection closes. Responses to `HEAD`, `1xx`, `204` and `304` have no body.

use http::header::{self, HeaderMap};
use http::{StatusCode, Version};
use http_body::SizeHint;

use crate::head_fields::parse_length;

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
    let mut declared = None;
    let mut has_date = false;
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH {
            // Invalid values are dropped (and a body of known size gets a valid one below).
            declared = parse_length(value.as_bytes());
            if bodiless_status || declared.is_none() {
                continue;
            }
        } else if name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            // Framing and persistence are this hop's to decide.
            continue;
        } else if name == header::DATE {
            has_date = true;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        date(out);
        out.extend_from_slice(b"\r\n");
    }

    let mut keep_alive = request.keep_alive;
    let framing = if request.head || bodiless_status || status == StatusCode::NOT_MODIFIED {
        Framing::Empty
    } else if let Some(length) = declared {
        Framing::Length(length)
    } else if let Some(length) = body.exact() {
        let mut digits = itoa::Buffer::new();
        field(out, b"content-length", digits.format(length).as_bytes());
        Framing::Length(length)
    } else if request.version == Version::HTTP_11 {
        field(out, b"transfer-encoding", b"chunked");
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    if !keep_alive {
        field(out, b"connection", b"close");
    } else if request.version == Version::HTTP_10 {
        field(out, b"connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

/// The size line of a chunk of `length` bytes (the data and a CRLF follow).
pub(crate) fn encode_chunk_size(length: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut rest = length;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunk's data.
pub(crate) const CHUNK_END: &[u8] = b"\r\n";

/// The last chunk and the empty trailer section.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
