//! Header fields taken out of a received HTTP/1.1 head without copying them: `httparse` borrows
//! the read buffer, [`FieldSpans`] notes where each name and value sit, and once the head is
//! split off the buffer and frozen, [`FieldSpans::header_map`] slices the values out of it.
//!
//! Shared by the inline HTTP/1.1 server (request heads) and the inline upstream client
//! (response heads), with the read-buffer policy both use ([`make_read_room`]).

use bytes::{Bytes, BytesMut};
use http::Version;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Most header fields one head may carry here (hyper's own in-place parsing limit).
pub(crate) const MAX_FIELDS: usize = 100;

/// Largest head whose offsets [`FieldSpans`] can note: offsets are `u16`.
pub(crate) const MAX_SPANNED_HEAD: usize = u16::MAX as usize;

/// Where each field's name and value sit in the head: `(name start, name end, value start,
/// value end)`, as offsets from the head's first byte.
pub(crate) struct FieldSpans {
    spans: [(u16, u16, u16, u16); MAX_FIELDS],
    count: usize,
}

/// A field whose name or value is not valid: the name, lossily decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidField(pub(crate) String);

impl FieldSpans {
    /// Notes the spans of `fields`, which borrow from `buf` (whose first byte is the head's),
    /// and the head's length, within [`MAX_SPANNED_HEAD`] (checked by the caller).
    pub(crate) fn new(buf: &[u8], fields: &[httparse::Header<'_>]) -> Self {
        let mut spans = [(0u16, 0u16, 0u16, 0u16); MAX_FIELDS];
        let count = fields.len().min(MAX_FIELDS);
        for (span, field) in spans.iter_mut().zip(fields) {
            let name = offset(buf, field.name.as_bytes());
            let value = offset(buf, field.value);
            *span = (
                name,
                name + field.name.len() as u16,
                value,
                value + field.value.len() as u16,
            );
        }
        FieldSpans { spans, count }
    }

    /// Builds the header map from the frozen `head`, calling `note` with each field as it is
    /// added (to read framing fields in the same pass).
    pub(crate) fn header_map(
        &self,
        head: &Bytes,
        mut note: impl FnMut(&HeaderName, &[u8]),
    ) -> Result<HeaderMap, InvalidField> {
        let mut headers = HeaderMap::with_capacity(self.count);
        for &(name_start, name_end, value_start, value_end) in &self.spans[..self.count] {
            let name_bytes = &head[usize::from(name_start)..usize::from(name_end)];
            let invalid = || InvalidField(String::from_utf8_lossy(name_bytes).into_owned());
            let name = HeaderName::from_bytes(name_bytes).map_err(|_| invalid())?;
            let value = HeaderValue::from_maybe_shared(
                head.slice(usize::from(value_start)..usize::from(value_end)),
            )
            .map_err(|_| invalid())?;
            note(&name, value.as_bytes());
            headers.append(name, value);
        }
        Ok(headers)
    }
}

/// What a head's `Connection` fields say about persistence (RFC 9112 §9.3).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Persistence {
    close: bool,
    keep_alive: bool,
}

impl Persistence {
    /// Notes the tokens of one `Connection` field value.
    pub(crate) fn note(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',') {
            let token = token.trim_ascii();
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    /// HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
    pub(crate) fn persists(self, version: Version) -> bool {
        if version == Version::HTTP_10 {
            self.keep_alive
        } else {
            !self.close
        }
    }
}

/// A `Content-Length` number: 1 to 19 decimal digits (so it cannot overflow), nothing else.
pub(crate) fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0')),
    )
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

/// Where `part` (a slice of `buf`) starts in `buf`. Callers keep heads within
/// [`MAX_SPANNED_HEAD`], so the offset fits.
pub(crate) fn offset(buf: &[u8], part: &[u8]) -> u16 {
    (part.as_ptr() as usize - buf.as_ptr() as usize) as u16
}
