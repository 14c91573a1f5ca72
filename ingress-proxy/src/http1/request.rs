//! Requests: heads in for the server role, heads out for the client role.
//!
//! [`parse_request_head`] takes the common case only: a complete, valid HTTP/1.0 or HTTP/1.1
//! head with no body (no `Content-Length`, no `Transfer-Encoding`), no `Expect` and no
//! `Upgrade`, with a method other than `CONNECT`. Everything else — bodies, upgrades,
//! `100-continue`, HTTP/2's preface, malformed or oversized heads — is [`Parsed::HandOff`]: the
//! buffer is left as it was, and hyper serves the connection from that request on (answering
//! errors, `400` and `431`, as it always has).
//!
//! [`encode_request_head`] writes an origin-form request head for an upstream.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Request, Uri, Version};

use super::framing::FramingFields;
use super::head::{HeadLimits, RequestLine, ScanError, scan_head};

/// One step of [`parse_request_head`].
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and taken apart at once; a box would be an allocation per request"
)]
pub(crate) enum Parsed {
    /// The head has not fully arrived: read more.
    Partial,
    /// A request the inline server serves; its head was taken off the buffer.
    Inline(InlineRequest),
    /// Hyper serves the connection from here: the buffer is as it was.
    HandOff(&'static str),
}

/// A bodiless request, and whether the client lets the connection carry another one.
#[derive(Debug)]
pub(crate) struct InlineRequest {
    pub(crate) request: Request<()>,
    pub(crate) keep_alive: bool,
}

/// What the fields say about a body, an upgrade and persistence, noted in the pass that builds
/// the header map.
#[derive(Debug, Default)]
struct RequestFields {
    framing: FramingFields,
    expect: bool,
    upgrade: bool,
}

impl RequestFields {
    fn note(&mut self, name: &HeaderName, value: &[u8]) {
        self.framing.note(name, value);
        self.expect |= name == header::EXPECT;
        self.upgrade |= name == header::UPGRADE;
    }

    fn hand_off_reason(&self) -> Option<&'static str> {
        if self.framing.declares_body() {
            Some("request has a body")
        } else if self.expect {
            Some("request has Expect")
        } else if self.upgrade {
            Some("request asks for an upgrade")
        } else {
            None
        }
    }
}

/// Reads the request head at the front of `buf`.
pub(crate) fn parse_request_head(buf: &mut BytesMut, limits: HeadLimits) -> Parsed {
    let scanned = match scan_head::<RequestLine>(buf, limits) {
        Ok(Some(scanned)) => scanned,
        Ok(None) => return Parsed::Partial,
        Err(ScanError::TooLarge) => return Parsed::HandOff("head too large"),
        Err(ScanError::Malformed(_)) => return Parsed::HandOff("head not parsed"),
    };
    let (method_start, method_end) = scanned.line.method;
    let Ok(method) = Method::from_bytes(&buf[usize::from(method_start)..usize::from(method_end)])
    else {
        return Parsed::HandOff("method not parsed");
    };
    if method == Method::CONNECT {
        return Parsed::HandOff("CONNECT");
    }
    let head = buf.split_to(scanned.length).freeze();
    let mut fields = RequestFields::default();
    let built = scanned
        .spans
        .header_map(&head, |name, value| fields.note(name, value))
        .map_err(|_| "header field not valid")
        .and_then(|headers| {
            if let Some(reason) = fields.hand_off_reason() {
                return Err(reason);
            }
            let version = scanned.line.version;
            let request = build(&head, method, version, scanned.line.target, headers)?;
            Ok(InlineRequest {
                request,
                keep_alive: fields.framing.persists(version),
            })
        });
    match built {
        Ok(inline) => Parsed::Inline(inline),
        Err(reason) => {
            // Put the head back in front of what followed it, for hyper to read.
            let mut whole = BytesMut::with_capacity(head.len().saturating_add(buf.len()));
            whole.extend_from_slice(&head);
            whole.extend_from_slice(buf);
            *buf = whole;
            Parsed::HandOff(reason)
        }
    }
}

fn build(
    head: &Bytes,
    method: Method,
    version: Version,
    (target_start, target_end): (u16, u16),
    headers: HeaderMap,
) -> Result<Request<()>, &'static str> {
    let uri =
        Uri::from_maybe_shared(head.slice(usize::from(target_start)..usize::from(target_end)))
            .map_err(|_| "request target not valid")?;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Writes `METHOD target HTTP/1.1`, the header fields, whatever `extra_fields` writes (whole
/// `name: value\r\n` lines) and the blank line to `out`.
pub(crate) fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    extra_fields: impl FnOnce(&mut Vec<u8>),
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        super::write_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    extra_fields(out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
