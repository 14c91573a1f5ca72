//! The framing rules, once for both roles (RFC 9112 §6, §9.3): what `Content-Length`,
//! `Transfer-Encoding` and `Connection` say about a message's body and its connection.
//!
//! [`FramingFields`] notes the fields one line at a time, in the pass that builds the header
//! map, so every line counts:
//!
//! - `Content-Length`: every line and every list element must be the same number of 1 to 19
//!   digits (so it cannot overflow); anything else makes the length invalid.
//! - `Transfer-Encoding`: the lines form one list; empty elements are ignored (RFC 9110
//!   §5.6.1); the body is chunked only when `chunked` is the final coding of that list.
//! - `Connection`: the tokens of every line; `close` ends persistence, and HTTP/1.0 persists
//!   only with `keep-alive`.
//!
//! A response body is then delimited as §6.3 orders: no body for `HEAD`, `1xx`, `204` and
//! `304`; an invalid length is an error; `Transfer-Encoding` wins over `Content-Length`
//! (chunked, else until the connection closes) and, when both came or the message is
//! HTTP/1.0, the connection closes after the message; else the length; else until close.

use http::header::{self, HeaderName};
use http::{StatusCode, Version};

use super::WireError;
use super::body::BodyDecoder;

/// What a head's framing and persistence fields say.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FramingFields {
    content_length: ContentLength,
    /// Whether any `Transfer-Encoding` line came.
    transfer_encoding: bool,
    /// Whether the last coding listed so far (over all lines) is `chunked`.
    chunked_last: bool,
    persistence: Persistence,
}

/// What `Content-Length` lines say together.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentLength {
    #[default]
    Absent,
    Length(u64),
    /// Not a number, or two different numbers.
    Invalid,
}

/// What the `Connection` lines say about persistence.
#[derive(Debug, Default, Clone, Copy)]
struct Persistence {
    close: bool,
    keep_alive: bool,
}

impl ContentLength {
    /// Judges `lines` together, by the codec's rule: every line and list element the same
    /// number, else [`ContentLength::Invalid`]. For heads the codec did not read (hyper's), so
    /// both transports hand on the same length.
    pub(crate) fn of<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut fields = FramingFields::default();
        for line in lines {
            fields.note_length(line);
        }
        fields.content_length
    }
}

impl FramingFields {
    /// Notes one field line (any name: others are ignored).
    pub(super) fn note(&mut self, name: &HeaderName, value: &[u8]) {
        if name == header::CONTENT_LENGTH {
            self.note_length(value);
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
            for coding in list_elements(value) {
                self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name == header::CONNECTION {
            for token in list_elements(value) {
                self.persistence.close |= token.eq_ignore_ascii_case(b"close");
                self.persistence.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }

    fn note_length(&mut self, value: &[u8]) {
        for element in value.split(|&b| b == b',') {
            self.content_length = match (self.content_length, parse_length(element.trim_ascii())) {
                (ContentLength::Invalid, _) | (_, None) => ContentLength::Invalid,
                (ContentLength::Length(seen), Some(length)) if seen != length => {
                    ContentLength::Invalid
                }
                (_, Some(length)) => ContentLength::Length(length),
            };
        }
    }

    /// Whether the message says it has a body (any `Content-Length` or `Transfer-Encoding`).
    pub(super) fn declares_body(&self) -> bool {
        self.transfer_encoding || self.content_length != ContentLength::Absent
    }

    /// Whether `Transfer-Encoding` came: then `Content-Length` is not handed on.
    pub(super) fn has_transfer_encoding(&self) -> bool {
        self.transfer_encoding
    }

    /// The one valid `Content-Length`, if the lines agree on one.
    pub(super) fn content_length(&self) -> Option<u64> {
        match self.content_length {
            ContentLength::Length(length) => Some(length),
            ContentLength::Absent | ContentLength::Invalid => None,
        }
    }

    /// Whether the connection may carry another message, as far as `Connection` and the
    /// version say.
    pub(super) fn persists(&self, version: Version) -> bool {
        let Persistence { close, keep_alive } = self.persistence;
        if version == Version::HTTP_10 {
            keep_alive && !close
        } else {
            !close
        }
    }

    /// How a response body is delimited (RFC 9112 §6.3), and whether the connection may
    /// carry another exchange after it. `head_request`: the request was `HEAD`.
    pub(super) fn response_body(
        &self,
        status: StatusCode,
        version: Version,
        head_request: bool,
    ) -> Result<(BodyDecoder, bool), WireError> {
        let persists = self.persists(version);
        if head_request
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok((BodyDecoder::length(0), persists));
        }
        if self.content_length == ContentLength::Invalid {
            return Err(WireError::ContentLength);
        }
        if self.transfer_encoding {
            if !self.chunked_last {
                return Ok((BodyDecoder::until_close(), false));
            }
            // Both framings (a smuggling attempt or a broken server), or HTTP/1.0, which has no
            // Transfer-Encoding: read by it, then close (§6.1, §6.3 rule 3).
            let trusted =
                self.content_length == ContentLength::Absent && version != Version::HTTP_10;
            return Ok((BodyDecoder::chunked(), persists && trusted));
        }
        match self.content_length {
            ContentLength::Length(length) => Ok((BodyDecoder::length(length), persists)),
            ContentLength::Absent | ContentLength::Invalid => {
                Ok((BodyDecoder::until_close(), false))
            }
        }
    }
}

/// The non-empty, trimmed elements of a comma-separated field value.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}

/// A `Content-Length` number: 1 to 19 decimal digits (so it cannot overflow), nothing else.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, digit| {
        n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
