//! The one `httparse` scaffold both roles read heads with: the uninitialised field array, the
//! limits on size and field count, and the [`FieldSpans`] of a complete head. What differs
//! between a request and a response is only the start line ([`StartLine`]).
//!
//! Rules: a head is complete at its blank line; a complete head longer than the byte limit, an
//! incomplete one already at it, or one with more fields than the field limit is too large;
//! anything `httparse` rejects is malformed. Nothing is taken off the buffer here: the caller
//! splits the head off once it has decided to accept it.

use std::mem::MaybeUninit;

use http::Version;

use super::MAX_FIELDS;
use super::fields::{FieldSpans, MAX_SPANNED_HEAD, offset};

/// How large a head may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    /// Largest head, in bytes (at most [`MAX_SPANNED_HEAD`]).
    max_bytes: usize,
    /// Most header fields (at most [`MAX_FIELDS`]).
    max_fields: usize,
}

/// The limits on a response head (nginx's `proxy_buffer_size` is 4 or 8 KiB; hyper's client
/// allows about 400 KiB): large enough for any sane upstream, small enough to bound memory.
pub(crate) const RESPONSE_HEAD_LIMITS: HeadLimits = HeadLimits::new(32 * 1024, MAX_FIELDS);

impl HeadLimits {
    /// The limits, clamped to what the scaffold can hold (64 KiB, [`MAX_FIELDS`] fields); the
    /// server has hyper apply the configured ones to anything beyond.
    pub(crate) const fn new(max_bytes: usize, max_fields: usize) -> Self {
        HeadLimits {
            max_bytes: if max_bytes < MAX_SPANNED_HEAD {
                max_bytes
            } else {
                MAX_SPANNED_HEAD
            },
            max_fields: if max_fields < MAX_FIELDS {
                max_fields
            } else {
                MAX_FIELDS
            },
        }
    }

    /// Largest head, in bytes.
    pub(crate) const fn max_bytes(self) -> usize {
        self.max_bytes
    }
}

/// A complete head as `httparse` read it: its length, its start line and its fields.
pub(super) type Complete<'b, 'h, L> = (usize, L, &'h [httparse::Header<'b>]);

/// The first line of a head: what `httparse` reads besides the fields.
pub(super) trait StartLine: Sized {
    /// Parses a head from `buf` into `fields`: `Ok(None)` while incomplete, else the head's
    /// length, its start line and the fields read.
    fn parse<'b, 'h>(
        buf: &'b [u8],
        fields: &'h mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Result<Option<Complete<'b, 'h, Self>>, httparse::Error>;
}

/// A request line: where the method and target sit in the head, and the version.
#[derive(Debug)]
pub(super) struct RequestLine {
    pub(super) method: (u16, u16),
    pub(super) target: (u16, u16),
    pub(super) version: Version,
}

/// A status line: the code (not yet checked to be 100–999) and the version.
#[derive(Debug)]
pub(super) struct StatusLine {
    pub(super) code: u16,
    pub(super) version: Version,
}

/// A complete head, still in the buffer.
pub(super) struct Scanned<L> {
    /// The head's length, blank line included.
    pub(super) length: usize,
    pub(super) line: L,
    pub(super) spans: FieldSpans,
}

/// Why a head cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ScanError {
    TooLarge,
    Malformed(httparse::Error),
}

/// Reads the head at the front of `buf` within `limits`; `Ok(None)` while it is incomplete.
pub(super) fn scan_head<L: StartLine>(
    buf: &[u8],
    limits: HeadLimits,
) -> Result<Option<Scanned<L>>, ScanError> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    // `max_fields` is at most MAX_FIELDS (clamped by `HeadLimits::new`).
    let fields = &mut fields[..limits.max_fields];
    match L::parse(buf, fields) {
        Ok(Some((length, line, headers))) if length <= limits.max_bytes => Ok(Some(Scanned {
            length,
            line,
            // Within `max_bytes`, hence within MAX_SPANNED_HEAD: the spans fit.
            spans: FieldSpans::new(buf, headers),
        })),
        Ok(Some(_)) => Err(ScanError::TooLarge),
        // Not complete, yet already at the limit: no use reading more.
        Ok(None) if buf.len() >= limits.max_bytes => Err(ScanError::TooLarge),
        Ok(None) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(ScanError::TooLarge),
        Err(error) => Err(ScanError::Malformed(error)),
    }
}

fn version(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    }
}

fn span(buf: &[u8], part: &[u8]) -> (u16, u16) {
    let range = part.as_ptr_range();
    (offset(buf, range.start), offset(buf, range.end))
}

impl StartLine for RequestLine {
    fn parse<'b, 'h>(
        buf: &'b [u8],
        fields: &'h mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Result<Option<Complete<'b, 'h, Self>>, httparse::Error> {
        let mut request = httparse::Request::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            buf,
            fields,
        )?;
        let httparse::Status::Complete(length) = parsed else {
            return Ok(None);
        };
        // httparse fills all three on a complete parse.
        let (Some(method), Some(target), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Err(httparse::Error::Version);
        };
        let line = RequestLine {
            method: span(buf, method.as_bytes()),
            target: span(buf, target.as_bytes()),
            version: version(Some(minor)),
        };
        Ok(Some((length, line, request.headers)))
    }
}

impl StartLine for StatusLine {
    fn parse<'b, 'h>(
        buf: &'b [u8],
        fields: &'h mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Result<Option<Complete<'b, 'h, Self>>, httparse::Error> {
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            fields,
        )?;
        let httparse::Status::Complete(length) = parsed else {
            return Ok(None);
        };
        // httparse fills both on a complete parse.
        let (Some(code), Some(_)) = (response.code, response.version) else {
            return Err(httparse::Error::Status);
        };
        let line = StatusLine {
            code,
            version: version(response.version),
        };
        Ok(Some((length, line, response.headers)))
    }
}
