//! Request heads in, without I/O (RFC 9112 §2–3, §6–§9.3): which requests the inline server
//! serves itself and which go to hyper.
//!
//! The inline server takes the common case only: a complete, valid HTTP/1.0 or HTTP/1.1 head
//! with no body (no `Content-Length`, no `Transfer-Encoding`), no `Expect` and no `Upgrade`,
//! with a method other than `CONNECT`. Everything else — bodies, upgrades, `100-continue`,
//! HTTP/2's preface, malformed or oversized heads — is [`Parsed::HandOff`]: hyper serves the
//! connection from that request on, and answers errors (`400`, `431`) as it always has.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName};
use http::{Method, Request, Uri, Version};

use crate::head_fields::{FieldSpans, MAX_FIELDS, MAX_SPANNED_HEAD, Persistence, offset};

/// How much of a request head the inline server accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    /// Largest head, in bytes; a larger one goes to hyper (which answers `431`).
    pub(crate) max_bytes: usize,
    /// Most header fields; more go to hyper (which answers `431`).
    pub(crate) max_fields: usize,
}

impl HeadLimits {
    /// The limits, clamped to what the inline parser can hold; hyper applies the configured
    /// ones to anything beyond.
    pub(crate) fn new(max_bytes: usize, max_fields: usize) -> Self {
        HeadLimits {
            max_bytes: max_bytes.min(MAX_SPANNED_HEAD),
            max_fields: max_fields.min(MAX_FIELDS),
        }
    }
}

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

/// Reads the request head at the front of `buf`.
pub(crate) fn parse_request_head(buf: &mut BytesMut, limits: HeadLimits) -> Parsed {
    let (length, method, version, target, spans) = {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
        let mut request = httparse::Request::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            buf,
            &mut fields[..limits.max_fields],
        );
        let length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buf.len() >= limits.max_bytes => {
                return Parsed::HandOff("head too large");
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => return Parsed::HandOff("head not parsed"),
        };
        if length > limits.max_bytes {
            return Parsed::HandOff("head too large");
        }
        // httparse fills these on a complete parse.
        let (Some(method), Some(path), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Parsed::HandOff("head not parsed");
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Parsed::HandOff("method not parsed");
        };
        let version = if minor == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let target = offset(buf, path.as_bytes());
        let target = (target, target + path.len() as u16);
        (
            length,
            method,
            version,
            target,
            FieldSpans::new(buf, request.headers),
        )
    };
    if method == Method::CONNECT {
        return Parsed::HandOff("CONNECT");
    }
    let head = buf.split_to(length).freeze();
    match build(&head, method, version, target, &spans) {
        Ok(request) => Parsed::Inline(request),
        Err(reason) => {
            // Put the head back in front of what followed it, for hyper to read.
            let mut whole = BytesMut::with_capacity(head.len() + buf.len());
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
    spans: &FieldSpans,
) -> Result<InlineRequest, &'static str> {
    let mut fields = RequestFields::default();
    let headers = spans
        .header_map(head, |name, value| fields.note(name, value))
        .map_err(|_| "header field not valid")?;
    if let Some(reason) = fields.hand_off_reason() {
        return Err(reason);
    }
    let uri =
        Uri::from_maybe_shared(head.slice(usize::from(target_start)..usize::from(target_end)))
            .map_err(|_| "request target not valid")?;
    let keep_alive = fields.persistence.persists(version);
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(InlineRequest {
        request,
        keep_alive,
    })
}

/// What the fields say about a body, an upgrade and persistence, noted in the pass that builds
/// the header map.
#[derive(Debug, Default)]
struct RequestFields {
    body: bool,
    expect: bool,
    upgrade: bool,
    persistence: Persistence,
}

impl RequestFields {
    fn note(&mut self, name: &HeaderName, value: &[u8]) {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            self.body = true;
        } else if name == header::EXPECT {
            self.expect = true;
        } else if name == header::UPGRADE {
            self.upgrade = true;
        } else if name == header::CONNECTION {
            self.persistence.note(value);
        }
    }

    fn hand_off_reason(&self) -> Option<&'static str> {
        if self.body {
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

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
