//! The HTTP/1.1 client wire format, without I/O: request heads out, response heads and bodies
//! in (RFC 9112).
//!
//! [`encode_request_head`] writes a request line and headers. [`parse_response_head`] turns
//! the bytes read so far into a response head once it is complete, and says how its body is
//! framed and whether the connection can carry another request. [`BodyDecoder`] then takes the
//! body's bytes out of the same buffer: a `Content-Length`, chunked, or read-until-close body.
//! Trailers of a chunked body are read and dropped (as nginx does for HTTP/1.1 upstreams).

mod decoder;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod split_check;

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, StatusCode, Version};

use super::super::headers::ForwardedFields;
pub(crate) use decoder::{BodyDecoder, Decoded};

use crate::head_fields::{
    FieldSpans, InvalidField, MAX_FIELDS, MAX_SPANNED_HEAD, Persistence, parse_length,
};

/// Most response header fields accepted (hyper's and nginx's order of magnitude).
pub(crate) const MAX_HEADERS: usize = MAX_FIELDS;
/// Largest response head accepted, in bytes (nginx: `proxy_buffer_size`, 4 or 8 KiB).
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;
const _: () = assert!(MAX_HEAD_BYTES <= MAX_SPANNED_HEAD);

/// Why an upstream's response could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum WireError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("response header field {0:?} is not valid")]
    Header(String),
    #[error("response status {0} is not valid")]
    Status(u16),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("101 Switching Protocols to a request that asked for no upgrade")]
    UnexpectedSwitch,
    #[error("malformed chunked body: {0}")]
    Chunk(&'static str),
    #[error("connection closed before the body ended")]
    Truncated,
}

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

/// Writes `METHOD target HTTP/1.1`, the header fields, the `forwarded` fields and the blank
/// line to `out`.
pub(crate) fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    forwarded: Option<&ForwardedFields>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(forwarded) = forwarded {
        forwarded.encode(out);
    }
    out.extend_from_slice(b"\r\n");
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
        let Some(head) = parse_one(buf)? else {
            return Ok(None);
        };
        if head.status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::UnexpectedSwitch);
        }
        if head.status.is_informational() {
            continue;
        }
        let (body, keep_alive) = head
            .framing
            .framing(head.status, head.version, head_request)?;
        return Ok(Some(ResponseHead {
            status: head.status,
            version: head.version,
            headers: head.headers,
            body,
            keep_alive,
        }));
    }
}

struct RawHead {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    framing: FramingFields,
}

fn parse_one(buf: &mut BytesMut) -> Result<Option<RawHead>, WireError> {
    let (length, status, version, spans) = {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut fields,
        );
        let length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Err(WireError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(WireError::HeadTooLarge),
            Err(error) => return Err(WireError::Head(error)),
        };
        if length > MAX_HEAD_BYTES {
            return Err(WireError::HeadTooLarge);
        }
        // httparse fills both on a complete parse.
        let code = response.code.unwrap_or(0);
        let version = match response.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        (
            length,
            code,
            version,
            FieldSpans::new(buf, response.headers),
        )
    };
    let status = StatusCode::from_u16(status).map_err(|_| WireError::Status(status))?;
    let head = buf.split_to(length).freeze();
    let mut framing = FramingFields::default();
    let headers = spans
        .header_map(&head, |name, value| framing.note(name, value))
        .map_err(|InvalidField(name)| WireError::Header(name))?;
    Ok(Some(RawHead {
        status,
        version,
        headers,
        framing,
    }))
}

/// What the head says about framing and persistence, noted while its fields are read (one
/// pass, rather than a lookup per field name afterwards).
#[derive(Debug, Default)]
struct FramingFields {
    /// The `Content-Length`; every value (and list element) must be the same number.
    content_length: Option<u64>,
    invalid_length: bool,
    /// Present `Transfer-Encoding`: whether its final coding (of the last field line) is chunked.
    chunked: Option<bool>,
    persistence: Persistence,
}

impl FramingFields {
    fn note(&mut self, name: &HeaderName, value: &[u8]) {
        if name == header::CONTENT_LENGTH {
            for element in value.split(|&b| b == b',') {
                let Some(parsed) = parse_length(element.trim_ascii()) else {
                    self.invalid_length = true;
                    return;
                };
                if self.content_length.is_some_and(|seen| seen != parsed) {
                    self.invalid_length = true;
                }
                self.content_length = Some(parsed);
            }
        } else if name == header::TRANSFER_ENCODING {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            self.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONNECTION {
            self.persistence.note(value);
        }
    }

    /// How the body is delimited (RFC 9112 §6.3), and whether the connection persists after.
    fn framing(
        &self,
        status: StatusCode,
        version: Version,
        head_request: bool,
    ) -> Result<(BodyDecoder, bool), WireError> {
        let persists = self.persistence.persists(version);
        if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return Ok((BodyDecoder::length(0), persists));
        }
        match self.chunked {
            // With both Transfer-Encoding and Content-Length the message is suspect: read it
            // by Transfer-Encoding, then close (RFC 9112 §6.3, rule 3).
            Some(true) => {
                let reusable = self.content_length.is_none() && !self.invalid_length;
                Ok((BodyDecoder::chunked(), persists && reusable))
            }
            Some(false) => Ok((BodyDecoder::until_close(), false)),
            None if self.invalid_length => Err(WireError::ContentLength),
            None => match self.content_length {
                Some(length) => Ok((BodyDecoder::length(length), persists)),
                None => Ok((BodyDecoder::until_close(), false)),
            },
        }
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
